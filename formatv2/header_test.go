package formatv2

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
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
	for _, c := range []struct {
		spec uint8
		ft   FileType
	}{{1, FileTypeManifest}, {2, FileTypeSnapshot}, {2, FileTypeRepoInfo}} {
		h := appendHeader(nil, c.spec, c.ft)
		want := append([]byte("ICE\xf0\x9f\xa7\x8aCHUNK"), []byte("icerig-2.0.0            ")...)
		want = append(want, c.spec, byte(c.ft), 1)
		if !bytes.Equal(h, want) {
			t.Fatalf("header\n%q\nwant\n%q", h, want)
		}
	}
	if ImplementationName != "icerig-2.0.0" || Version != "2.0.0" || MaxSpecVersion != 2 {
		t.Errorf("ImplementationName %q Version %q MaxSpecVersion %d", ImplementationName, Version, MaxSpecVersion)
	}
}

// headerRepoFile reads the `repo` object of a fixture repository.
func headerRepoFile(t testing.TB, repo string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(codecFixturesDir(t), repo, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestHeaderOfFixtures(t *testing.T) {
	for _, c := range []struct {
		repo, prefix, impl string
		spec               uint8
		ft                 FileType
	}{
		{"test-repo-v1", "snapshots", "ic-0.1.3", 1, FileTypeSnapshot},
		{"test-repo-v1", "manifests", "ic-0.1.3", 1, FileTypeManifest},
		{"test-repo-v1", "transactions", "ic-0.1.3", 1, FileTypeTransactionLog},
		{"split-repo-v1", "snapshots", "ic-0.2.12", 1, FileTypeSnapshot},
		{"test-repo-v2", "snapshots", "ic-2.0.0-alpha.7", 2, FileTypeSnapshot},
		{"test-repo-v2", "manifests", "ic-2.0.0-alpha.7", 2, FileTypeManifest},
		{"test-repo-v2", "transactions", "ic-2.0.0-alpha.7", 2, FileTypeTransactionLog},
		{"test-repo-v2", "overwritten", "ic-2.0.0-alpha.7", 2, FileTypeRepoInfo},
		{"test-repo-v2-migrated", "snapshots", "ic-0.1.3", 1, FileTypeSnapshot},
	} {
		for _, f := range codecFixtureObjects(t, c.repo, c.prefix) {
			h, err := ParseHeader(f.key, f.data)
			if err != nil {
				t.Fatal(err)
			}
			if h != (Header{Implementation: c.impl, SpecVersion: c.spec, FileType: c.ft, Compression: CompressionZstd}) {
				t.Errorf("%s %s: header %+v", c.repo, f.key, h)
			}
			// Our header differs from upstream's only in the implementation name.
			ours := appendHeader(nil, c.spec, c.ft)
			if !bytes.Equal(ours[:12], f.data[:12]) || !bytes.Equal(ours[36:39], f.data[36:39]) {
				t.Errorf("%s %s: magic/trailer bytes differ: % x vs % x", c.repo, f.key, ours, f.data[:39])
			}
		}
	}
	for _, repo := range []string{"test-repo-v2", "test-repo-v2-migrated"} {
		h, err := ParseHeader("repo", headerRepoFile(t, repo))
		if err != nil || h != (Header{Implementation: "ic-2.0.0-alpha.7", SpecVersion: 2, FileType: FileTypeRepoInfo, Compression: CompressionZstd}) {
			t.Errorf("%s/repo: header %+v (%v)", repo, h, err)
		}
	}
}

// TestHeaderRejections covers every header rejection class for every
// decoder: the error wraps the right sentinel and names the object.
func TestHeaderRejections(t *testing.T) {
	valid := map[FileType][]byte{
		FileTypeSnapshot:       codecFixtureObjects(t, "test-repo-v1", "snapshots")[0].data,
		FileTypeManifest:       codecFixtureObjects(t, "test-repo-v2", "manifests")[0].data,
		FileTypeTransactionLog: codecFixtureObjects(t, "test-repo-v1", "transactions")[0].data,
		FileTypeRepoInfo:       headerRepoFile(t, "test-repo-v2"),
	}
	patch := func(b []byte, i int, v byte) []byte {
		b = bytes.Clone(b)
		b[i] = v
		return b
	}
	for ft, data := range valid {
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
			{"spec 3", patch(data, 36, 3), ErrUnsupportedSpec, "spec version 3"},
			{"spec 255", patch(data, 36, 255), ErrUnsupportedSpec, "spec version 255"},
			{"spec 0", patch(data, 36, 0), ErrCorrupt, "spec version byte is 0"},
			{"spec-1 repo info", patch(patch(data, 36, 1), 37, 6), ErrCorrupt, "repo info file at spec version 1"},
			{"unknown type 3", patch(data, 37, 3), ErrCorrupt, "unknown file type 3"},
			{"unknown type 200", patch(data, 37, 200), ErrCorrupt, "unknown file type 200"},
			{"wrong type", other, ErrCorrupt, "want a " + ft.String()},
			{"compression none", patch(data, 38, 0), ErrCorrupt, "compression 0"},
			{"compression 2", patch(data, 38, 2), ErrCorrupt, "compression 2"},
			{"no payload", data[:HeaderSize], ErrCorrupt, "no payload"},
			{"truncated zstd", data[:len(data)-7], ErrCorrupt, "zstd"},
			{"garbage zstd", append(bytes.Clone(data[:HeaderSize]), []byte("definitely not zstd")...), ErrCorrupt, "zstd"},
		}
		if ft != FileTypeRepoInfo {
			cases = append(cases, struct {
				name string
				data []byte
				want error
				msg  string
			}{"spec-2 repo info", patch(patch(data, 36, 2), 37, 6), ErrCorrupt, "is a repo info file, want a " + ft.String()})
		}
		for _, c := range cases {
			key := "objects/" + strings.ReplaceAll(c.name, " ", "_")
			err := codecDecodeAny(ft, key, c.data)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s decoder, %s: err = %v; want %v naming %q and saying %q", ft, c.name, err, c.want, key, c.msg)
			}
		}
	}
}

// TestHeaderSpecVersionSurvives: every decoder reports the spec byte it saw.
func TestHeaderSpecVersionSurvives(t *testing.T) {
	for _, repo := range []string{"test-repo-v1", "test-repo-v2", "test-repo-v2-migrated"} {
		for _, f := range codecFixtureObjects(t, repo, "snapshots") {
			s, err := DecodeSnapshot(f.key, f.data)
			if err != nil || s.SpecVersion != f.data[36] {
				t.Errorf("%s %s: spec %v (%v), header says %d", repo, f.key, s, err, f.data[36])
			}
		}
		for _, f := range codecFixtureObjects(t, repo, "manifests") {
			m, err := DecodeManifest(f.key, f.data)
			if err != nil || m.SpecVersion != f.data[36] {
				t.Errorf("%s %s: spec (%v), header says %d", repo, f.key, err, f.data[36])
			}
		}
		for _, f := range codecFixtureObjects(t, repo, "transactions") {
			tl, err := DecodeTransactionLog(f.key, f.data)
			if err != nil || tl.SpecVersion != f.data[36] {
				t.Errorf("%s %s: spec (%v), header says %d", repo, f.key, err, f.data[36])
			}
		}
	}
}
