package formatv1

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestHeaderLayout(t *testing.T) {
	if HeaderSize != 39 || len(Magic) != 12 {
		t.Fatalf("HeaderSize %d, magic %d bytes", HeaderSize, len(Magic))
	}
	if Magic != "ICE🧊CHUNK" {
		t.Fatalf("magic %q", Magic)
	}
	h := appendHeader(nil, FileTypeManifest)
	want := append([]byte("ICE\xf0\x9f\xa7\x8aCHUNK"), []byte("icerig-1.0.0            ")...)
	want = append(want, 1, 2, 1)
	if !bytes.Equal(h, want) {
		t.Fatalf("header\n%q\nwant\n%q", h, want)
	}
	if ImplementationName != "icerig-"+Version || SpecVersion != 1 {
		t.Errorf("ImplementationName %q SpecVersion %d", ImplementationName, SpecVersion)
	}
}

func TestHeaderOfFixtures(t *testing.T) {
	for _, c := range []struct {
		repo, prefix, impl string
		ft                 FileType
	}{
		{"test-repo-v1", "snapshots", "ic-0.1.3", FileTypeSnapshot},
		{"test-repo-v1", "manifests", "ic-0.1.3", FileTypeManifest},
		{"test-repo-v1", "transactions", "ic-0.1.3", FileTypeTransactionLog},
		{"split-repo-v1", "snapshots", "ic-0.2.12", FileTypeSnapshot},
	} {
		for _, f := range codecFixtureObjects(t, c.repo, c.prefix) {
			h, err := ParseHeader(f.key, f.data)
			if err != nil {
				t.Fatal(err)
			}
			if h != (Header{Implementation: c.impl, SpecVersion: 1, FileType: c.ft, Compression: CompressionZstd}) {
				t.Errorf("%s %s: header %+v", c.repo, f.key, h)
			}
			// Our header differs from upstream's only in the implementation name.
			ours := appendHeader(nil, c.ft)
			if !bytes.Equal(ours[:12], f.data[:12]) || !bytes.Equal(ours[36:39], f.data[36:39]) {
				t.Errorf("%s %s: magic/trailer bytes differ: % x vs % x", c.repo, f.key, ours, f.data[:39])
			}
		}
	}
}

// TestHeaderRejections covers every header rejection class for every
// decoder: the error wraps the right sentinel and names the object.
func TestHeaderRejections(t *testing.T) {
	valid := map[FileType][]byte{
		FileTypeSnapshot:       codecFixtureObjects(t, "test-repo-v1", "snapshots")[0].data,
		FileTypeManifest:       codecFixtureObjects(t, "test-repo-v1", "manifests")[0].data,
		FileTypeTransactionLog: codecFixtureObjects(t, "test-repo-v1", "transactions")[0].data,
	}
	decoders := map[FileType]func(string, []byte) error{
		FileTypeSnapshot:       func(n string, b []byte) error { _, err := DecodeSnapshot(n, b); return err },
		FileTypeManifest:       func(n string, b []byte) error { _, err := DecodeManifest(n, b); return err },
		FileTypeTransactionLog: func(n string, b []byte) error { _, err := DecodeTransactionLog(n, b); return err },
	}
	patch := func(b []byte, i int, v byte) []byte {
		b = bytes.Clone(b)
		b[i] = v
		return b
	}
	for ft, decode := range decoders {
		data := valid[ft]
		other := valid[FileTypeSnapshot]
		if ft == FileTypeSnapshot {
			other = valid[FileTypeManifest]
		}
		cases := []struct {
			name string
			data []byte
			want error
			msg  string
		}{
			{"empty", nil, ErrCorrupt, "shorter than"},
			{"short", data[:38], ErrCorrupt, "shorter than"},
			{"bad magic", patch(data, 3, 'X'), ErrCorrupt, "magic"},
			{"spec 2", patch(data, 36, 2), ErrUnsupportedSpec, "spec version 2"},
			{"spec 0", patch(data, 36, 0), ErrUnsupportedSpec, "spec version 0"},
			{"repo info type", patch(data, 37, 6), ErrUnsupportedSpec, "repo info"},
			{"unknown type 3", patch(data, 37, 3), ErrCorrupt, "unknown file type 3"},
			{"unknown type 200", patch(data, 37, 200), ErrCorrupt, "unknown file type 200"},
			{"wrong type", other, ErrCorrupt, "want a " + ft.String()},
			{"compression none", patch(data, 38, 0), ErrCorrupt, "compression 0"},
			{"compression 2", patch(data, 38, 2), ErrCorrupt, "compression 2"},
			{"no payload", data[:HeaderSize], ErrCorrupt, "no payload"},
			{"truncated zstd", data[:len(data)-7], ErrCorrupt, "zstd"},
			{"garbage zstd", append(bytes.Clone(data[:HeaderSize]), []byte("definitely not zstd")...), ErrCorrupt, "zstd"},
		}
		for _, c := range cases {
			key := "objects/" + strings.ReplaceAll(c.name, " ", "_")
			err := decode(key, c.data)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s decoder, %s: err = %v; want %v naming %q and saying %q", ft, c.name, err, c.want, key, c.msg)
			}
		}
	}
}
