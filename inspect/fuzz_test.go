package inspect_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/inspect"
	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore/local"
)

// FuzzDecodeReport decodes arbitrary JSON as an inspect report, as the tools
// that parse `icerig inspect` output do: it must never panic, and a decoded
// report must encode to JSON that decodes to a report encoding identically.
func FuzzDecodeReport(f *testing.F) {
	ctx := context.Background()
	for _, name := range []string{testfixtures.TestRepoV1, testfixtures.SplitRepoV1} {
		dir := testfixtures.Copy(f, name)
		st, err := local.Open(dir, nil)
		if err != nil {
			f.Fatal(err)
		}
		repo, err := actors.V1{}.Open(ctx, st, actors.Options{})
		if err != nil {
			f.Fatal(err)
		}
		rep, err := inspect.Inspect(ctx, st, repo, actors.MainBranch)
		if err != nil {
			f.Fatal(err)
		}
		data, err := json.Marshal(rep)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"spec_version":2,"ops_log":[{"type":"new_commit","updated_at":"2025-01-02T03:04:05.000000Z","branch":"main"}],` +
		`"status":{"availability":"online","set_at":"2025-01-02T03:04:04.000000Z","limited_availability_reason":""}}`))
	f.Add([]byte(`{"nodes":[{"path":"/a","type":"array","attributes":{},"shape":[],"fill_value":"NaN","dimension_names":[null]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var rep inspect.Report
		if json.Unmarshal(data, &rep) != nil {
			return
		}
		once, err := json.Marshal(&rep)
		if err != nil {
			return // e.g. a year past 9999 cannot be written back
		}
		var back inspect.Report
		if err := json.Unmarshal(once, &back); err != nil {
			t.Fatalf("our own encoding does not decode: %v\n%s", err, once)
		}
		twice, err := json.Marshal(&back)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if string(once) != string(twice) {
			t.Fatalf("encoding not stable:\n%s\n%s", once, twice)
		}
	})
}
