package formatv1

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
	for _, repo := range []string{"test-repo-v1", "split-repo-v1"} {
		for i, file := range codecFixtureObjects(f, repo, prefix) {
			if i >= 3 {
				break
			}
			f.Add(file.data)
			h, err := ParseHeader(file.key, file.data)
			if err != nil {
				f.Fatal(err)
			}
			fb, err := unframe(file.key, file.data, h.FileType)
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

func codecFuzzReencodeErr(t *testing.T, err error) {
	t.Helper()
	if !strings.Contains(err.Error(), "twice") {
		t.Fatalf("decoded value does not re-encode: %v", err)
	}
}

func codecFuzzInputs(t *testing.T, ft FileType, data []byte) [][]byte {
	framed, err := frame(ft, data)
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{data, framed}
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
