package streamer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/objstore/memory"
)

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("source: {instrument: gm01, project: ch4-flux, gas_id: 1, seed: 7}\n"))
	f.Add([]byte("source:\n  instrument: gm01\n  project: p\n  settings_changes:\n    - {at: 2024-06-01T12:00:00Z, settings: {a: b}}\n  outages: [{from: 2024-06-01T00:00:00Z, until: 2024-06-01T01:00:00Z}]\nmax_window: 90m\ndata: all\nvariables: [ch4]\nretry: {attempts: 3}\n"))
	f.Add([]byte("max_window: 4h\nmax_window: 5h\n"))
	f.Add([]byte("{{{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("fuzz.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("error does not wrap ErrConfig: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("parsed configuration does not validate: %v", err)
		}
	})
}

func FuzzParseRepoName(f *testing.F) {
	f.Add("gm01", "ch4-flux", RepoName("gm01", "ch4-flux", time.Date(2024, 6, 1, 12, 7, 0, 0, time.UTC)))
	f.Add("a.b", "c", "inst-a.b-prj-c-2024-02-30t00-00-00zl1b")
	f.Add("x", "y", "inst-x-prj-y-9999-12-31t23-59-59zl1b")
	f.Fuzz(func(t *testing.T, inst, proj, name string) {
		start, ok := ParseRepoName(inst, proj, name)
		if !ok {
			return
		}
		if got := RepoName(inst, proj, start); got != name {
			t.Fatalf("ParseRepoName(%q) = %s, which names %q", name, start, got)
		}
	})
}

// FuzzDecodeWindowMeta feeds arbitrary commit metadata values (as a spec-1
// and a spec-2 reader sees them) to the streamer's resume-state decoder.
func FuzzDecodeWindowMeta(f *testing.F) {
	ctx := context.Background()
	for _, spec := range []string{"1", "2"} {
		cfg := testConfig(f, small+"spec_version: "+spec+"\n")
		st := memory.New(nil)
		s := newTestStreamer(f, cfg, st, testClock(), nil)
		if _, err := s.Run(ctx, Hints{Since: day0, Until: day0.Add(time.Minute)}); err != nil {
			f.Fatal(err)
		}
		refs, err := Discover(ctx, st, testInstrument, testProject)
		if err != nil || len(refs) != 1 {
			f.Fatal(refs, err)
		}
		repo, _ := openMain(f, st, refs[0])
		tip, err := repo.LookupBranch(ctx, "main")
		if err != nil {
			f.Fatal(err)
		}
		snap, err := repo.ReadSnapshot(ctx, tip)
		if err != nil {
			f.Fatal(err)
		}
		for _, it := range snap.Metadata {
			f.Add(snap.SpecVersion, it.Name, it.Value)
		}
	}
	f.Fuzz(func(t *testing.T, spec uint8, name string, value []byte) {
		snap := &formatv2.Snapshot{SpecVersion: spec%2 + 1, Metadata: []formatv2.MetadataItem{{Name: name, Value: value}}}
		_, _, _ = DecodeWindowMeta(snap)
		// With the writer marker present, every other key is missing: the
		// decoder must report that, not panic.
		marker, err := formatv2.EncodeMetadataValue(writerName)
		if err != nil {
			t.Fatal(err)
		}
		snap.SpecVersion = 1
		snap.Metadata = append(snap.Metadata, formatv2.MetadataItem{Name: MetaWriter, Value: marker})
		if _, ok, err := DecodeWindowMeta(snap); ok && err == nil && name != MetaWriter {
			t.Fatalf("incomplete metadata accepted: %q", name)
		}
	})
}
