package formatv2

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestIDKnownValues(t *testing.T) {
	// Upstream's well-known initial snapshot id (spec 2) and its bytes.
	initial := ObjectID{0x0b, 0x1c, 0xc8, 0xd6, 0x78, 0x75, 0x80, 0xf0, 0xe3, 0x3a, 0x65, 0x34}
	if got := initial.String(); got != "1CECHNKREP0F1RSTCMT0" {
		t.Errorf("String() = %q", got)
	}
	if id, err := ParseObjectID("1CECHNKREP0F1RSTCMT0"); err != nil || id != initial {
		t.Errorf("ParseObjectID = %v, %v", id, err)
	}
	if s := (ObjectID{}).String(); s != "00000000000000000000" {
		t.Errorf("zero id %q", s)
	}
	all := ObjectID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if s := all.String(); s != "ZZZZZZZZZZZZZZZZZZZG" {
		t.Errorf("all-ones id %q", s)
	}
	if s := (NodeID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}).String(); s != "ZZZZZZZZZZZZY" {
		t.Errorf("all-ones node id %q", s)
	}
}

// TestIDFixtureNames checks that the text ids of every fixture object parse
// and print back unchanged, and that the ids inside the files match.
func TestIDFixtureNames(t *testing.T) {
	for _, repo := range []string{"test-repo-v1", "split-repo-v1"} {
		for _, prefix := range []string{"snapshots", "manifests", "transactions", "chunks"} {
			for _, f := range codecFixtureObjects(t, repo, prefix) {
				name := strings.TrimPrefix(f.key, prefix+"/")
				id, err := ParseObjectID(name)
				if err != nil {
					t.Fatalf("%s: %v", f.key, err)
				}
				if id.String() != name {
					t.Errorf("%s: prints back as %s", f.key, id)
				}
			}
		}
		for _, f := range codecFixtureObjects(t, repo, "snapshots") {
			s, err := DecodeSnapshot(f.key, f.data)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range s.Nodes {
				back, err := ParseNodeID(n.ID.String())
				if err != nil || back != n.ID || len(n.ID.String()) != 13 {
					t.Errorf("node id %s: %v, %v", n.ID, back, err)
				}
			}
		}
	}
}

func TestIDParseRejects(t *testing.T) {
	for _, s := range []string{
		"",
		"1CECHNKREP0F1RSTCMT",   // 19 chars
		"1CECHNKREP0F1RSTCMT00", // 21 chars
		"1cechnkrep0f1rstcmt0",  // lower case
		"1CECHNKREP0F1RSTCMTO",  // O alias
		"ICECHNKREP0F1RSTCMT0",  // I alias
		"LCECHNKREP0F1RSTCMT0",  // L alias
		"UCECHNKREP0F1RSTCMT0",  // U is not in the alphabet
		"1CECHNKREP0F1RSTCMT-",
		"1CECHNKREP0F1RSTCMT1", // non-zero padding bits
		"1CECHNKREP0F1RSTCM=0",
		"1CECHNKREP0F1RSTCMT\u00e9",
	} {
		_, err := ParseObjectID(s)
		if !errors.Is(err, ErrInvalidID) || !strings.Contains(err.Error(), "\""+s+"\"") {
			t.Errorf("ParseObjectID(%q) err = %v; want ErrInvalidID naming the input", s, err)
		}
	}
	for _, s := range []string{"", "37GCMVSY73AS", "37GCMVSY73AS4X", "37gcmvsy73as4", "37GCMVSY73AS5"} {
		_, err := ParseNodeID(s)
		if !errors.Is(err, ErrInvalidID) || !strings.Contains(err.Error(), "\""+s+"\"") {
			t.Errorf("ParseNodeID(%q) err = %v; want ErrInvalidID naming the input", s, err)
		}
	}
	if _, err := ParseNodeID("37GCMVSY73AS4"); err != nil {
		t.Errorf("valid node id rejected: %v", err)
	}
}

func TestIDNew(t *testing.T) {
	src := bytes.NewReader(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}, 2))
	id, err := NewObjectID(src)
	if err != nil || id != (ObjectID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) {
		t.Fatalf("NewObjectID = %v, %v", id, err)
	}
	nid, err := NewNodeID(src)
	if err != nil || nid != (NodeID{13, 14, 15, 16, 17, 18, 19, 20}) {
		t.Fatalf("NewNodeID = %v, %v", nid, err)
	}
	if _, err := NewObjectID(bytes.NewReader([]byte{1, 2, 3})); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short source: err = %v", err)
	}
	if _, err := NewNodeID(bytes.NewReader(nil)); !errors.Is(err, io.EOF) {
		t.Errorf("empty source: err = %v", err)
	}
}

func TestIDRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var id ObjectID
		copy(id[:], rapid.SliceOfN(rapid.Byte(), 12, 12).Draw(t, "object id"))
		s := id.String()
		back, err := ParseObjectID(s)
		if err != nil || back != id || len(s) != 20 {
			t.Fatalf("%x -> %q -> %x, %v", id, s, back, err)
		}
		var nid NodeID
		copy(nid[:], rapid.SliceOfN(rapid.Byte(), 8, 8).Draw(t, "node id"))
		ns := nid.String()
		nback, err := ParseNodeID(ns)
		if err != nil || nback != nid || len(ns) != 13 {
			t.Fatalf("%x -> %q -> %x, %v", nid, ns, nback, err)
		}
	})
}

func FuzzParseObjectID(f *testing.F) {
	for _, s := range []string{"1CECHNKREP0F1RSTCMT0", "P874YS3J196959RDHX7G", "00000000000000000000",
		"ZZZZZZZZZZZZZZZZZZZG", "1cechnkrep0f1rstcmt0", "", "37GCMVSY73AS4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseObjectID(s)
		if err == nil && id.String() != s {
			t.Fatalf("ParseObjectID(%q) accepted a non-canonical form of %s", s, id)
		}
		if err != nil && !errors.Is(err, ErrInvalidID) {
			t.Fatalf("ParseObjectID(%q): %v", s, err)
		}
		nid, err := ParseNodeID(s)
		if err == nil && nid.String() != s {
			t.Fatalf("ParseNodeID(%q) accepted a non-canonical form of %s", s, nid)
		}
	})
}
