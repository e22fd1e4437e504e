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
	c, err := readCollectionFiles("/dav/home/u/contacts/", []string{f}, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind != "addressbook" || len(c.Items) != 1 || c.Items[0].Err != "" || c.Items[0].UID != "a" || c.Items[0].Body[0] != 'B' {
		t.Fatalf("read %+v", c)
	}
}
