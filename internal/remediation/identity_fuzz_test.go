package remediation

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzNormalizeIdentity checks that NormalizeIdentity never panics, that
// it refuses with EINVALID, and that what it accepts is canonical: lower
// case, trimmed, a GUID or a UPN, and normalized again to itself.
func FuzzNormalizeIdentity(f *testing.F) {
	for _, seed := range []string{
		"alice@contoso.com", " Alice@Contoso.COM ", "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE",
		"alice_contoso.com#EXT#@fabrikam.onmicrosoft.com", "a..b@contoso.com", "@contoso.com", "alice@",
		"alice@contoso", "alice@-contoso.com", "", "   ", "\x00", "ä@contoso.com", "a@b.c\n",
		strings.Repeat("a", 113) + "@contoso.com", strings.Repeat("a", 114) + "@contoso.com",
		"a@" + strings.Repeat("b", 63) + ".com", "a@" + strings.Repeat("b", 64) + ".com",
		"aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeee", "\xff@contoso.com",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeIdentity(in)
		if err != nil {
			if ErrorCode(err) != EINVALID || out != "" {
				t.Fatalf("NormalizeIdentity(%q) = %q, %v", in, out, err)
			}
			if msg := ErrorMessage(err); len(msg) > 500 { // 80 bytes quoted (\xNN) and the text
				t.Fatalf("message of %d bytes", len(msg))
			}
			return
		}
		if out != strings.ToLower(out) || out != strings.TrimSpace(out) || out == "" || len(out) > 256 ||
			!utf8.ValidString(out) {
			t.Fatalf("NormalizeIdentity(%q) = %q, not canonical", in, out)
		}
		if !IsGUID(out) && strings.Count(out, "@") != 1 {
			t.Fatalf("NormalizeIdentity(%q) = %q, neither GUID nor UPN", in, out)
		}
		again, err := NormalizeIdentity(out)
		if err != nil || again != out {
			t.Fatalf("NormalizeIdentity(%q) = %q, %v; not idempotent", out, again, err)
		}
	})
}
