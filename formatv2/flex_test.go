package formatv2

import (
	"bytes"
	"context"
	"errors"
	"math"
	"reflect"
	"testing"

	"pgregory.net/rapid"
)

// flexGen draws a decoded-form value: what decodeFlexValue returns.
func flexGen(depth int) *rapid.Generator[any] {
	scalars := []*rapid.Generator[any]{
		rapid.Just[any](nil),
		rapid.Map(rapid.Bool(), func(b bool) any { return b }),
		rapid.Map(rapid.Int64(), func(i int64) any { return i }),
		rapid.Map(rapid.Uint64Min(math.MaxInt64+1), func(u uint64) any { return u }),
		rapid.Map(rapid.Float64(), func(f float64) any { return f }),
		rapid.Map(rapid.String(), func(s string) any { return s }),
		rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) any { return append([]byte{}, b...) }),
	}
	if depth <= 0 {
		return rapid.OneOf(scalars...)
	}
	key := rapid.StringMatching(`[a-z_]{0,12}`)
	return rapid.OneOf(append(scalars,
		rapid.Map(rapid.SliceOfN(rapid.Deferred(func() *rapid.Generator[any] { return flexGen(depth - 1) }), 0, 5),
			func(v []any) any { return v }),
		rapid.Map(rapid.MapOfN(key, rapid.Deferred(func() *rapid.Generator[any] { return flexGen(depth - 1) }), 0, 5),
			func(m map[string]any) any { return m }),
	)...)
}

// flexEqual compares decoded values, NaN equal to NaN, empty and nil
// slices alike.
func flexEqual(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !flexEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !flexEqual(v, w) {
				return false
			}
		}
		return true
	case uint64:
		// Unsigned values that fit an int decode as uint64 too.
		y, ok := b.(uint64)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}

func TestFlexRoundTripProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		v := flexGen(3).Draw(t, "value")
		data, err := encodeFlexValue(v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeFlexValue(data)
		if err != nil {
			t.Fatalf("decode of our own encoding: %v", err)
		}
		if !flexEqual(got, v) {
			t.Fatalf("round trip: %#v -> %#v", v, got)
		}
	})
}

func TestFlexUpstreamValues(t *testing.T) {
	ctx := context.Background()
	v2 := openFixture(t, "test-repo-v2")
	info := must[*RepoInfo](t)(v2.RepoInfo(ctx))
	// The initial snapshot's metadata, byte for byte.
	var initial []MetadataItem
	for _, s := range info.Snapshots {
		if s.ID == InitialSnapshotID {
			initial = s.Metadata
		}
	}
	v, err := decodeFlexValue(initial[0].Value)
	noErr(t, err)
	if !reflect.DeepEqual(v, map[string]any{"is_root": true}) {
		t.Fatalf("initial metadata decodes to %#v", v)
	}
	enc := must[[]byte](t)(encodeFlexValue(v))
	if !bytes.Equal(enc, initial[0].Value) || !bytes.Equal(initialMetadataV2()[0].Value, initial[0].Value) {
		t.Fatalf("our encoding %x, upstream %x", enc, initial[0].Value)
	}
	// The configuration: inline threshold 12, an s3-compatible container.
	cfg := v2.Config()
	if cfg.InlineChunkThresholdBytes() != 12 {
		t.Fatalf("test-repo-v2 inline threshold = %d", cfg.InlineChunkThresholdBytes())
	}
	vcc := cfg.VirtualChunkContainers()
	if len(vcc) != 1 {
		t.Fatalf("virtual chunk containers %+v", vcc)
	}
	// Migrated metadata: msgpack true became the FlexBuffer true.
	mig := must[*RepoInfo](t)(openFixture(t, "test-repo-v2-migrated").RepoInfo(ctx))
	for _, s := range mig.Snapshots {
		for _, m := range s.Metadata {
			v, err := DecodeCommitMetadataValue(2, m.Value)
			if err != nil || v != true {
				t.Fatalf("%s metadata %s = %v, %v", s.ID, m.Name, v, err)
			}
		}
	}
}

func TestFlexRejects(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":           {},
		"short":           {1, 2},
		"bad root width":  {0, 0x04, 3},
		"offset too far":  {0x10, 0x24, 1},
		"unknown type":    {0, 0xfc, 1},
		"unterminated":    {'a', 'b', 0x02, 0x10, 1},
		"string overflow": {0x7f, 'a', 0x01, 0x14, 1},
	} {
		if _, err := decodeFlexValue(data); !errors.Is(err, errFlex) {
			t.Errorf("%s: err = %v, want errFlex", name, err)
		}
	}
	if _, err := encodeFlexValue(map[int]int{1: 2}); err == nil {
		t.Error("a map with int keys encoded")
	}
	if _, err := encodeFlexValue(func() {}); err == nil {
		t.Error("a func encoded")
	}
}

func FuzzDecodeFlexValue(f *testing.F) {
	ctx := context.Background()
	for _, name := range []string{"test-repo-v2", "test-repo-v2-migrated"} {
		info, err := openFixture(f, name).RepoInfo(ctx)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(info.Config)
		for _, s := range info.Snapshots {
			for _, m := range s.Metadata {
				f.Add(m.Value)
			}
		}
	}
	seed, _ := encodeFlexValue(map[string]any{"a": []any{1, "x", 2.5, nil, true, []byte{1}}, "b": map[string]any{}})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decodeFlexValue(data)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same value.
		enc, err := encodeFlexValue(v)
		if err != nil {
			t.Fatalf("decoded value does not encode: %v", err)
		}
		back, err := decodeFlexValue(enc)
		if err != nil || !flexEqual(back, v) {
			t.Fatalf("re-encoding changed %#v into %#v (%v)", v, back, err)
		}
	})
}

// TestSpec2Config: the configuration of a spec-2 repository lives in the
// repo object, survives reopening, and SaveConfig records "config changed".
func TestSpec2Config(t *testing.T) {
	ctx := context.Background()
	split := must[*Config](t)(ParseConfig("split", must[[]byte](t)(readKey(ctx, fixtureStore(t, "split-repo-v1"), ConfigKey))))
	r, st, _ := newMemRepoSpec(t, SpecVersion2, split)
	if _, _, err := st.Get(ctx, ConfigKey); err == nil {
		t.Fatal("a spec-2 repository got a config.yaml")
	}
	r2 := must[*Repository](t)(Open(ctx, st, Options{}))
	rules, ok := r2.Config().ManifestSplitting()
	want, _ := split.ManifestSplitting()
	if !ok || !reflect.DeepEqual(rules, want) || r2.Config().InlineChunkThresholdBytes() != 12 {
		t.Fatalf("reopened config: rules %+v (want %+v), threshold %d", rules, want, r2.Config().InlineChunkThresholdBytes())
	}
	c := must[*Config](t)(ParseConfig("copy", must[[]byte](t)(r2.Config().Marshal())))
	c.SetInlineChunkThresholdBytes(99)
	noErr(t, r2.SaveConfig(ctx, c))
	if r3 := must[*Repository](t)(Open(ctx, st, Options{})); r3.Config().InlineChunkThresholdBytes() != 99 {
		t.Fatalf("saved threshold = %d", r3.Config().InlineChunkThresholdBytes())
	}
	if log := must[[]Update](t)(r.OpsLog(ctx)); log[0].Type != UpdateConfigChanged {
		t.Fatalf("ops log tops with %s", describeUpdate(log[0]))
	}
	// Commit metadata at spec 2 is a FlexBuffer.
	s := must[*Session](t)(r2.WritableSession(ctx, "main"))
	noErr(t, s.Set(ctx, "zarr.json", groupDoc))
	id := must[ObjectID](t)(s.Commit(ctx, "m", map[string]any{"n": 3, "who": "me", "list": []any{1.5, "x"}}))
	snap := must[*Snapshot](t)(r2.ReadSnapshot(ctx, id))
	got := map[string]any{}
	for _, m := range snap.Metadata {
		got[m.Name] = must[any](t)(DecodeCommitMetadataValue(snap.SpecVersion, m.Value))
	}
	if !reflect.DeepEqual(got, map[string]any{"n": int64(3), "who": "me", "list": []any{1.5, "x"}}) {
		t.Fatalf("commit metadata decodes to %#v", got)
	}
}
