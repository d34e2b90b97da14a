package secrets

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func TestSealOpenRotate(t *testing.T) {
	old, cur := NewKey(), NewKey()
	oldBox, err := NewBox(old)
	if err != nil {
		t.Fatal(err)
	}
	ct, oldID, err := oldBox.Seal([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("s3cret")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	box, err := NewBox(cur, old)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := box.Open(ct, oldID)
	if err != nil || string(pt) != "s3cret" {
		t.Fatalf("open with rotated box: %q %v", pt, err)
	}
	ct2, id2, _ := box.Seal([]byte("s3cret"))
	if id2 == oldID || id2 != KeyID(cur) {
		t.Fatalf("seal used key %s, want current %s", id2, KeyID(cur))
	}
	if _, err := oldBox.Open(ct2, id2); err == nil {
		t.Fatal("old box opened a ciphertext of an unknown key")
	}
	ct2[len(ct2)-1] ^= 1
	if _, err := box.Open(ct2, id2); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
	if _, err := box.Open(ct, id2); err == nil {
		t.Fatal("ciphertext opened under another key id")
	}
}

func TestParseKeys(t *testing.T) {
	k := NewKey()
	keys, err := ParseKeys(hex.EncodeToString(k) + ", " + hex.EncodeToString(NewKey()))
	if err != nil || len(keys) != 2 || !bytes.Equal(keys[0], k) {
		t.Fatalf("ParseKeys: %v %d", err, len(keys))
	}
	for _, bad := range []string{"", "abc", hex.EncodeToString(k[:16])} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) succeeded", bad)
		}
	}
	if _, err := NewBox(k[:10]); err == nil {
		t.Error("short key accepted")
	}
}
