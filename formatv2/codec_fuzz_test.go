package formatv2

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The decoder fuzz targets feed each input twice: as a whole metadata file
// (exercising header and zstd checks) and as a raw flatbuffer framed with a
// valid header (exercising the flatbuffer walk). Seeds are the fixture files
// and their flatbuffers. Properties: no panic; failures wrap ErrCorrupt or
// ErrUnsupportedSpec and name the object; a decoded value re-encodes (unless
// it repeats a key, which the encoder refuses) and decodes back to its
// canonical form.

func codecFuzzSeeds(f *testing.F, prefix string) {
	for _, repo := range []string{"test-repo-v1", "split-repo-v1", "test-repo-v2"} {
		for i, file := range codecFixtureObjects(f, repo, prefix) {
			if i >= 3 {
				break
			}
			f.Add(file.data)
			h, err := ParseHeader(file.key, file.data)
			if err != nil {
				f.Fatal(err)
			}
			_, fb, err := unframe(file.key, file.data, h.FileType)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(fb)
		}
	}
}

func codecFuzzCheckErr(t *testing.T, name string, err error) {
	t.Helper()
	if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedSpec) {
		t.Fatalf("error wraps neither ErrCorrupt nor ErrUnsupportedSpec: %v", err)
	}
	if !strings.Contains(err.Error(), name) {
		t.Fatalf("error does not name %q: %v", name, err)
	}
}

// codecFuzzReencodeErr accepts the encoder refusals a decodable value may
// meet: a repeated key, or fields the layout of its spec byte cannot hold
// (a raw flatbuffer framed at the other spec, e.g. a parent id under a
// spec-2 header).
func codecFuzzReencodeErr(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if !strings.Contains(msg, "twice") && !strings.Contains(msg, "spec-1 ") && !strings.Contains(msg, "spec-2 ") {
		t.Fatalf("decoded value does not re-encode: %v", err)
	}
}

// codecFuzzInputs gives the input itself and the input framed as a spec-1
// and a spec-2 file of type ft (a repo info file only at spec 2).
func codecFuzzInputs(t *testing.T, ft FileType, data []byte) [][]byte {
	out := [][]byte{data}
	for _, spec := range []uint8{1, 2} {
		if ft == FileTypeRepoInfo && spec == 1 {
			continue
		}
		framed, err := frame(spec, ft, data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, framed)
	}
	return out
}

func FuzzDecodeSnapshot(f *testing.F) {
	codecFuzzSeeds(f, "snapshots")
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "snapshots/FUZZ"
		for _, in := range codecFuzzInputs(t, FileTypeSnapshot, data) {
			s, err := DecodeSnapshot(name, in)
			if err != nil {
				codecFuzzCheckErr(t, name, err)
				continue
			}
			enc, err := EncodeSnapshot(s)
			if err != nil {
				codecFuzzReencodeErr(t, err)
				continue
			}
			back, err := DecodeSnapshot(name, enc)
			if err != nil || !reflect.DeepEqual(back, codecCanonicalSnapshot(s)) {
				t.Fatalf("re-encoded snapshot decodes differently (%v)", err)
			}
		}
	})
}

func FuzzDecodeManifest(f *testing.F) {
	codecFuzzSeeds(f, "manifests")
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "manifests/FUZZ"
		for _, in := range codecFuzzInputs(t, FileTypeManifest, data) {
			m, err := DecodeManifest(name, in)
			if err != nil {
				codecFuzzCheckErr(t, name, err)
				continue
			}
			enc, err := EncodeManifest(m)
			if err != nil {
				codecFuzzReencodeErr(t, err)
				continue
			}
			back, err := DecodeManifest(name, enc)
			if err != nil || !reflect.DeepEqual(back, codecCanonicalManifest(m)) {
				t.Fatalf("re-encoded manifest decodes differently (%v)", err)
			}
		}
	})
}

func FuzzDecodeTransactionLog(f *testing.F) {
	codecFuzzSeeds(f, "transactions")
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "transactions/FUZZ"
		for _, in := range codecFuzzInputs(t, FileTypeTransactionLog, data) {
			tl, err := DecodeTransactionLog(name, in)
			if err != nil {
				codecFuzzCheckErr(t, name, err)
				continue
			}
			enc, err := EncodeTransactionLog(tl)
			if err != nil {
				codecFuzzReencodeErr(t, err)
				continue
			}
			back, err := DecodeTransactionLog(name, enc)
			if err != nil || !reflect.DeepEqual(back, codecCanonicalTxLog(tl)) {
				t.Fatalf("re-encoded transaction log decodes differently (%v)", err)
			}
		}
	})
}

func FuzzDecodeRepoInfo(f *testing.F) {
	for i, file := range codecFixtureObjects(f, "test-repo-v2", "overwritten") {
		if i%3 == 0 {
			f.Add(file.data)
			_, fb, err := unframe(file.key, file.data, FileTypeRepoInfo)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(fb)
		}
	}
	for _, repo := range []string{"test-repo-v2", "test-repo-v2-migrated"} {
		data := headerRepoFile(f, repo)
		f.Add(data)
		_, fb, err := unframe(repo+"/repo", data, FileTypeRepoInfo)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(fb)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "overwritten/repo.FUZZ"
		for _, in := range codecFuzzInputs(t, FileTypeRepoInfo, data) {
			ri, err := DecodeRepoInfo(name, in)
			if err != nil {
				codecFuzzCheckErr(t, name, err)
				continue
			}
			enc, err := EncodeRepoInfo(ri)
			if err != nil {
				// Decoding accepts what upstream may write; encoding insists
				// on a main branch and unique names.
				if !strings.Contains(err.Error(), "twice") && !strings.Contains(err.Error(), `"main" is missing`) {
					t.Fatalf("decoded repo info does not re-encode: %v", err)
				}
				continue
			}
			back, err := DecodeRepoInfo(name, enc)
			if err != nil || !reflect.DeepEqual(back, codecCanonicalRepoInfo(t, ri)) {
				t.Fatalf("re-encoded repo info decodes differently (%v)", err)
			}
		}
	})
}
