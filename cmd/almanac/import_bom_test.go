package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestImportFileWithBOM: a .vcf file that starts with a UTF-8 byte-order
// mark (as Windows tools write them) is read as vCards, not refused as a
// malformed calendar, and its items carry no BOM.
func TestImportFileWithBOM(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "cards.vcf")
	if err := os.WriteFile(f, []byte("\uFEFFBEGIN:VCARD\r\nVERSION:3.0\r\nUID:a\r\nFN:A\r\nEND:VCARD\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	items, vcard, _, err := readFileItems(f, false, false)
	if err != nil {
		t.Fatal(err)
	}
	if !vcard || len(items) != 1 || items[0].Err != "" || items[0].UID != "a" || items[0].Body[0] != 'B' {
		t.Fatalf("read %+v (vCards: %v)", items, vcard)
	}
}
