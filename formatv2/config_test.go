package formatv2

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func codecReadConfig(t testing.TB, repo string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(codecFixturesDir(t), repo, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// wantSplitRules is split-repo-v1's manifest splitting configuration.
var wantSplitRules = []ManifestSplitRule{{
	Condition: SplitCondition{Kind: SplitNameMatches, Regex: "split_*"},
	Dims: []SplitDim{
		{Kind: SplitDimAxis, Axis: 0, NumChunks: 1},
		{Kind: SplitDimDimensionName, DimensionName: "longitude", NumChunks: 1},
		{Kind: SplitDimAny, NumChunks: 3},
	},
}}

func TestConfigFixtures(t *testing.T) {
	split, err := ParseConfig("config.yaml", codecReadConfig(t, "split-repo-v1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := split.InlineChunkThresholdBytes(); got != 12 {
		t.Errorf("split-repo-v1 inline threshold %d, want 12", got)
	}
	rules, ok := split.ManifestSplitting()
	if !ok || !reflect.DeepEqual(rules, wantSplitRules) {
		t.Errorf("split-repo-v1 splitting = %+v, %v; want %+v", rules, ok, wantSplitRules)
	}
	if !rules[0].Condition.Matches("/group1/split") || rules[0].Condition.Matches("/") {
		t.Errorf("name_matches split_* should match /group1/split and not the root")
	}
	if split.VirtualChunkContainers() != nil {
		t.Errorf("split-repo-v1 has no virtual chunk containers")
	}

	v1, err := ParseConfig("config.yaml", codecReadConfig(t, "test-repo-v1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := v1.InlineChunkThresholdBytes(); got != 12 {
		t.Errorf("test-repo-v1 inline threshold %d, want 12", got)
	}
	if rules, ok := v1.ManifestSplitting(); ok || rules != nil {
		t.Errorf("test-repo-v1 has no splitting, got %+v", rules)
	}
	wantVCC := map[string]VirtualChunkContainer{
		"tigris": {URLPrefix: "tigris", StoreKind: "tigris"},
		"az":     {URLPrefix: "az", StoreKind: "azure"},
		"file":   {URLPrefix: "file", StoreKind: "local_file_system"},
		"gcs":    {URLPrefix: "gcs", StoreKind: "gcs"},
		"s3":     {URLPrefix: "s3://testbucket", StoreKind: "s3_compatible"},
	}
	if got := v1.VirtualChunkContainers(); !reflect.DeepEqual(got, wantVCC) {
		t.Errorf("virtual chunk containers %+v", got)
	}
}

// TestConfigReadModifyWrite changes the inline threshold of each fixture
// config and checks that everything else survives.
func TestConfigReadModifyWrite(t *testing.T) {
	for _, repo := range []string{"split-repo-v1", "test-repo-v1"} {
		orig := codecReadConfig(t, repo)
		c, err := ParseConfig(repo+"/config.yaml", orig)
		if err != nil {
			t.Fatal(err)
		}
		wantRules, wantOK := c.ManifestSplitting()
		wantVCC := c.VirtualChunkContainers()
		c.SetInlineChunkThresholdBytes(99)
		out, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseConfig(repo+"/config.yaml", out)
		if err != nil {
			t.Fatalf("%s: re-parse: %v\n%s", repo, err, out)
		}
		if c2.InlineChunkThresholdBytes() != 99 {
			t.Errorf("%s: threshold %d after rewrite", repo, c2.InlineChunkThresholdBytes())
		}
		rules, ok := c2.ManifestSplitting()
		if ok != wantOK || !reflect.DeepEqual(rules, wantRules) {
			t.Errorf("%s: splitting changed: %+v", repo, rules)
		}
		if !reflect.DeepEqual(c2.VirtualChunkContainers(), wantVCC) {
			t.Errorf("%s: virtual chunk containers changed: %+v", repo, c2.VirtualChunkContainers())
		}
		// Unknown fields and tags are still in the text.
		for _, s := range []string{"get_partial_values_concurrency: null", "caching: null"} {
			if !strings.Contains(string(out), s) {
				t.Errorf("%s: %q lost:\n%s", repo, s, out)
			}
		}
		if repo == "test-repo-v1" {
			for _, s := range []string{"!tigris", "!s3_compatible", "endpoint_url: http://localhost:4200", "force_path_style: true", "!local_file_system", "!azure"} {
				if !strings.Contains(string(out), s) {
					t.Errorf("%s: %q lost:\n%s", repo, s, out)
				}
			}
		}
		// Setting the old value back gives an equivalent document.
		c2.SetInlineChunkThresholdBytes(12)
		again, err := c2.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		c3, _ := ParseConfig(repo, again)
		first, _ := ParseConfig(repo, orig)
		m1, _ := first.Marshal()
		m3, _ := c3.Marshal()
		if string(m1) != string(m3) {
			t.Errorf("%s: document changed beyond the threshold:\n%s\nvs\n%s", repo, m1, m3)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	d := DefaultConfig()
	if d.InlineChunkThresholdBytes() != DefaultInlineChunkThresholdBytes || DefaultInlineChunkThresholdBytes != 512 {
		t.Errorf("default threshold %d", d.InlineChunkThresholdBytes())
	}
	if _, ok := d.ManifestSplitting(); ok {
		t.Errorf("default config has splitting")
	}
	d.SetInlineChunkThresholdBytes(0)
	out, err := d.Marshal()
	if err != nil || string(out) != "inline_chunk_threshold_bytes: 0\n" {
		t.Errorf("Marshal = %q, %v", out, err)
	}
	for _, text := range []string{"", "# only a comment\n", "inline_chunk_threshold_bytes: null\n", "inline_chunk_threshold_bytes: ~\nmanifest: null\n", "manifest:\n  splitting: null\n"} {
		c, err := ParseConfig("config.yaml", []byte(text))
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if c.InlineChunkThresholdBytes() != 512 {
			t.Errorf("%q: threshold %d", text, c.InlineChunkThresholdBytes())
		}
		if _, ok := c.ManifestSplitting(); ok {
			t.Errorf("%q: splitting reported", text)
		}
	}
	c, err := ParseConfig("config.yaml", []byte("manifest:\n  splitting:\n    split_sizes: null\n"))
	if err != nil {
		t.Fatal(err)
	}
	if rules, ok := c.ManifestSplitting(); !ok || rules != nil {
		t.Errorf("splitting without sizes: %v %v", rules, ok)
	}
}

func TestConfigSplitConditionForms(t *testing.T) {
	text := `manifest:
  splitting:
    split_sizes:
    - - !or
        - !path_matches
          regex: ^/a/.*
        - !and
          - any_array
          - !name_matches
            regex: ^t
      - - condition: !Axis 2
          num_chunks: 4294967295
`
	c, err := ParseConfig("config.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	rules, ok := c.ManifestSplitting()
	want := []ManifestSplitRule{{
		Condition: SplitCondition{Kind: SplitOr, Conditions: []SplitCondition{
			{Kind: SplitPathMatches, Regex: "^/a/.*"},
			{Kind: SplitAnd, Conditions: []SplitCondition{{Kind: SplitAnyArray}, {Kind: SplitNameMatches, Regex: "^t"}}},
		}},
		Dims: []SplitDim{{Kind: SplitDimAxis, Axis: 2, NumChunks: 1<<32 - 1}},
	}}
	if !ok || !reflect.DeepEqual(rules, want) {
		t.Fatalf("rules %+v", rules)
	}
	cond := rules[0].Condition
	for path, want := range map[string]bool{"/a/x": true, "/b/temp": true, "/b/x": false, "/": false} {
		if got := cond.Matches(path); got != want {
			t.Errorf("Matches(%q) = %v, want %v", path, got, want)
		}
	}
	if (SplitCondition{Kind: SplitPathMatches, Regex: "("}).Matches("/x") {
		t.Errorf("an invalid regex must match nothing")
	}
}

func TestConfigRejects(t *testing.T) {
	for name, text := range map[string]string{
		"not yaml":           "a: [1,\n",
		"sequence":           "- 1\n- 2\n",
		"scalar":             "hello\n",
		"null document":      "null\n",
		"threshold string":   "inline_chunk_threshold_bytes: lots\n",
		"threshold negative": "inline_chunk_threshold_bytes: -1\n",
		"threshold too big":  "inline_chunk_threshold_bytes: 65536\n",
		"manifest scalar":    "manifest: 3\n",
		"split not list":     "manifest:\n  splitting:\n    split_sizes: 5\n",
		"split not pair":     "manifest:\n  splitting:\n    split_sizes:\n    - [any_array]\n",
		"bad condition":      "manifest:\n  splitting:\n    split_sizes:\n    - [!nope {}, []]\n",
		"bad dim":            "manifest:\n  splitting:\n    split_sizes:\n    - [any_array, [{condition: !Axis x, num_chunks: 1}]]\n",
		"num_chunks missing": "manifest:\n  splitting:\n    split_sizes:\n    - [any_array, [{condition: Any}]]\n",
		"num_chunks too big": "manifest:\n  splitting:\n    split_sizes:\n    - [any_array, [{condition: Any, num_chunks: 4294967296}]]\n",
		"too deep":           "manifest:\n  splitting:\n    split_sizes:\n    - [" + strings.Repeat("!or [", 40) + "any_array" + strings.Repeat("]", 40) + ", []]\n",
	} {
		_, err := ParseConfig("repo/config.yaml", []byte(text))
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "repo/config.yaml") {
			t.Errorf("%s: err = %v; want ErrCorrupt naming the object", name, err)
		}
	}
	c := DefaultConfig()
	c.SetInlineChunkThresholdBytes(70000)
	if _, err := c.Marshal(); err == nil || !strings.Contains(err.Error(), "inline_chunk_threshold_bytes") {
		t.Errorf("Marshal with threshold 70000: err = %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(codecReadConfig(f, "split-repo-v1"))
	f.Add(codecReadConfig(f, "test-repo-v1"))
	f.Add([]byte("inline_chunk_threshold_bytes: 5\nx: &a [1, *a]\n"))
	f.Add([]byte("manifest:\n  splitting:\n    split_sizes:\n    - [!or [any_array], [{condition: !DimensionName t, num_chunks: 2}]]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig("config.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		threshold := c.InlineChunkThresholdBytes()
		rules, ok := c.ManifestSplitting()
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("parsed config does not marshal: %v", err)
		}
		c2, err := ParseConfig("config.yaml", out)
		if err != nil {
			t.Fatalf("marshalled config does not parse: %v\n%s", err, out)
		}
		rules2, ok2 := c2.ManifestSplitting()
		if c2.InlineChunkThresholdBytes() != threshold || ok2 != ok || !reflect.DeepEqual(rules, rules2) {
			t.Fatalf("config changed across marshal:\n%s", out)
		}
	})
}
