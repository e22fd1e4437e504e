package pushtest

import (
	"crypto/ecdh"
	"testing"
)

// TestRFC8291Vector checks decrypt against RFC 8291 Appendix A.
func TestRFC8291Vector(t *testing.T) {
	must := func(s string) []byte {
		b, err := b64.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ua, err := ecdh.P256().NewPrivateKey(must("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"))
	if err != nil {
		t.Fatal(err)
	}
	if got := b64.EncodeToString(ua.PublicKey().Bytes()); got != "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4" {
		t.Fatalf("ua_public %s", got)
	}
	body := must("DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN")
	pt, err := Decrypt(body, ua, must("BTBZMqHH6r4Tts7J_aSIgg"))
	if err != nil {
		t.Fatal(err)
	}
	if string(pt) != "When I grow up, I want to be a watermelon" {
		t.Errorf("plaintext %q", pt)
	}
	// A flipped bit fails.
	body[len(body)-1] ^= 1
	if _, err := Decrypt(body, ua, must("BTBZMqHH6r4Tts7J_aSIgg")); err == nil {
		t.Error("a corrupted body decrypts")
	}
}
