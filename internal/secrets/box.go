// Package secrets seals tenant secrets at rest with AES-256-GCM.
//
// A Box holds one current key (used to seal) and any number of older keys
// (used to open), each with a key id stored next to every ciphertext, so
// the encryption key can be rotated.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of an encryption key in bytes (AES-256).
const KeySize = 32

// Box implements remediation.SecretBox.
type Box struct {
	current string
	aeads   map[string]cipher.AEAD
}

// NewBox returns a box sealing with keys[0] and opening with any of keys.
func NewBox(keys ...[]byte) (*Box, error) {
	if len(keys) == 0 {
		return nil, errors.New("secrets: no key")
	}
	b := &Box{aeads: make(map[string]cipher.AEAD)}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secrets: key %d is %d bytes, want %d", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("secrets: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secrets: %w", err)
		}
		id := KeyID(k)
		b.aeads[id] = aead
		if i == 0 {
			b.current = id
		}
	}
	return b, nil
}

// ParseKeys decodes a comma-separated list of keys, each 64 hex digits or
// standard base64 of 32 bytes; the first is the current key.
func ParseKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, err := hex.DecodeString(part)
		if err != nil || len(k) != KeySize {
			k, err = base64.StdEncoding.DecodeString(part)
		}
		if err != nil || len(k) != KeySize {
			return nil, errors.New("secrets: a key is neither 64 hex digits nor base64 of 32 bytes")
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("secrets: no key given")
	}
	return keys, nil
}

// NewKey returns a random key.
func NewKey() []byte {
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		panic("secrets: random: " + err.Error())
	}
	return k
}

// KeyID names a key without revealing it: the first 8 bytes of
// SHA-256("remediator key id" || key), hex.
func KeyID(key []byte) string {
	h := sha256.Sum256(append([]byte("remediator key id\x00"), key...))
	return hex.EncodeToString(h[:8])
}

// CurrentKeyID returns the id of the sealing key.
func (b *Box) CurrentKeyID() string { return b.current }

// Seal encrypts plaintext with the current key: nonce || ciphertext.
func (b *Box) Seal(plaintext []byte) ([]byte, string, error) {
	aead := b.aeads[b.current]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", fmt.Errorf("secrets: random: %w", err)
	}
	return aead.Seal(nonce, nonce, plaintext, []byte(b.current)), b.current, nil
}

// Open decrypts a ciphertext sealed with the key keyID.
func (b *Box) Open(ciphertext []byte, keyID string) ([]byte, error) {
	aead, ok := b.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("secrets: unknown key id %q (was the encryption key rotated away?)", keyID)
	}
	if len(ciphertext) < aead.NonceSize() {
		return nil, errors.New("secrets: ciphertext too short")
	}
	n := aead.NonceSize()
	pt, err := aead.Open(nil, ciphertext[:n], ciphertext[n:], []byte(keyID))
	if err != nil {
		return nil, errors.New("secrets: ciphertext does not authenticate")
	}
	return pt, nil
}
