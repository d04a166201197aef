package source

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func TestSettingsChangeSchedule(t *testing.T) {
	at1 := base.Add(90 * time.Minute)
	at2 := base.Add(3 * time.Hour)
	second := Settings{"fit_model": "gauss", "calibration_id": "cal-2024-02"}
	third := Settings{}
	cfg := testConfig(11)
	// Given out of order: New sorts them.
	cfg.SettingsChanges = []SettingsChange{{At: at2, Settings: third}, {At: at1, Settings: second}}
	s := mustNew(t, cfg)

	fp0, fp1, fp2 := Fingerprint(DefaultSettings()), Fingerprint(second), Fingerprint(third)
	if fp0 == fp1 || fp1 == fp2 || fp0 == fp2 {
		t.Fatalf("fingerprints not distinct: %s %s %s", fp0, fp1, fp2)
	}
	cases := []struct {
		at   time.Time
		want Settings
	}{
		{base, DefaultSettings()},
		{at1, DefaultSettings()}, // a sample exactly at the change keeps the old settings
		{at1.Add(time.Nanosecond), second},
		{at2, second},
		{at2.Add(time.Nanosecond), third},
		{MaxTime, third},
	}
	for _, c := range cases {
		if got := s.SettingsAt(c.at); !maps.Equal(got, c.want) {
			t.Errorf("SettingsAt(%s) = %v, want %v", c.at, got, c.want)
		}
		attrs := s.Attributes(c.at)
		if got := attrs["settings_fingerprint"]; got != Fingerprint(c.want) {
			t.Errorf("Attributes(%s) fingerprint %v, want %s", c.at, got, Fingerprint(c.want))
		}
		if got := attrs["processing_settings"].(map[string]string); !maps.Equal(got, c.want) {
			t.Errorf("Attributes(%s) processing_settings %v, want %v", c.at, got, c.want)
		}
		if attrs["instrument"] != "lgr01" || attrs["project"] != "permafrost" || attrs["gas_id"] != 7 {
			t.Errorf("Attributes(%s) identity = %v/%v/%v", c.at, attrs["instrument"], attrs["project"], attrs["gas_id"])
		}
		if _, err := json.Marshal(attrs); err != nil {
			t.Errorf("Attributes(%s) does not marshal: %v", c.at, err)
		}
	}
	next := []struct {
		after time.Time
		want  time.Time
		ok    bool
	}{
		{base, at1, true},
		{at1.Add(-time.Nanosecond), at1, true},
		{at1, at2, true},
		{at2, time.Time{}, false},
	}
	for _, c := range next {
		got, ok := s.NextSettingsChange(c.after)
		if ok != c.ok || !got.Equal(c.want) {
			t.Errorf("NextSettingsChange(%s) = %s, %v; want %s, %v", c.after, got, ok, c.want, c.ok)
		}
	}
	// Data is the same with or without settings changes.
	plain := mustNew(t, testConfig(11))
	from, until := at1.Add(-time.Minute), at1.Add(time.Minute)
	if string(encode(s, mustRead(t, s, from, until, PartAll))) != string(encode(plain, mustRead(t, plain, from, until, PartAll))) {
		t.Error("a settings change altered the data")
	}
}

func TestSourceKeepsItsOwnCopies(t *testing.T) {
	cfg := testConfig(12)
	cfg.Settings = Settings{"a": "1"}
	change := Settings{"a": "2"}
	cfg.SettingsChanges = []SettingsChange{{At: base, Settings: change}}
	s := mustNew(t, cfg)
	cfg.Settings["a"] = "mutated"
	change["a"] = "mutated"
	got := s.SettingsAt(base)
	if got["a"] != "1" {
		t.Errorf("mutating Config.Settings changed the source: %v", got)
	}
	got["a"] = "mutated"
	if s.SettingsAt(base)["a"] != "1" {
		t.Error("mutating SettingsAt's result changed the source")
	}
	if s.SettingsAt(base.Add(time.Second))["a"] != "2" {
		t.Error("mutating a SettingsChange changed the source")
	}
	r := s.Retro()
	r.Name[0] = "mutated"
	if s.Retro().Name[0] != "R01" {
		t.Error("mutating Retro's result changed the source")
	}
	attrs := s.Attributes(base)
	attrs["processing_settings"].(map[string]string)["a"] = "mutated"
	if s.SettingsAt(base)["a"] != "1" {
		t.Error("mutating Attributes' processing_settings changed the source")
	}
}

func TestFingerprint(t *testing.T) {
	// Pinned: a change of algorithm would orphan every repository's settings tag.
	if got, want := Fingerprint(DefaultSettings()), "291bfa47090d"; got != want {
		t.Errorf("Fingerprint(DefaultSettings()) = %s, want %s", got, want)
	}
	if Fingerprint(nil) != Fingerprint(Settings{}) {
		t.Error("nil and empty settings have different fingerprints")
	}
	if Fingerprint(Settings{"a": "bc"}) == Fingerprint(Settings{"ab": "c"}) {
		t.Error("fingerprint is ambiguous across the name/value boundary")
	}
	if Fingerprint(Settings{"a": "1"}) == Fingerprint(Settings{"a": "2"}) {
		t.Error("fingerprint ignores values")
	}
	if got := len(Fingerprint(Settings{"x": "y"})); got != FingerprintLen {
		t.Errorf("fingerprint length %d, want %d", got, FingerprintLen)
	}
	if got := StartTagName("a2a9f23dd6b0"); got != "settings-a2a9f23dd6b0-start" {
		t.Errorf("StartTagName = %s", got)
	}
	// Independent of how the map was built.
	t.Run("MapOrder", rapid.MakeCheck(func(rt *rapid.T) {
		m := rapid.MapOf(rapid.StringN(1, 8, -1), rapid.String()).Draw(rt, "settings")
		copyM := Settings{}
		for k, v := range m {
			copyM[k] = v
		}
		if Fingerprint(m) != Fingerprint(copyM) {
			rt.Fatal("equal settings, different fingerprints")
		}
	}))
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := testConfig(13)
	cases := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"empty instrument", func(c *Config) { c.Instrument = "" }, "Instrument"},
		{"slash in project", func(c *Config) { c.Project = "a/b" }, "Project"},
		{"dot-dot instrument", func(c *Config) { c.Instrument = ".." }, "Instrument"},
		{"space in project", func(c *Config) { c.Project = "a b" }, "Project"},
		{"negative gas", func(c *Config) { c.GasID = -1 }, "GasID"},
		{"empty setting name", func(c *Config) { c.Settings = Settings{"": "x"} }, "Settings"},
		{"nil change settings", func(c *Config) { c.SettingsChanges = []SettingsChange{{At: base}} }, "SettingsChanges[0].Settings"},
		{"empty change setting name", func(c *Config) {
			c.SettingsChanges = []SettingsChange{{At: base, Settings: Settings{"": "1"}}}
		}, "SettingsChanges[0].Settings"},
		{"change at zero time", func(c *Config) {
			c.SettingsChanges = []SettingsChange{{Settings: Settings{}}}
		}, "SettingsChanges[0].At"},
		{"two changes at once", func(c *Config) {
			c.SettingsChanges = []SettingsChange{{At: base, Settings: Settings{}}, {At: base.In(time.FixedZone("x", 3600)), Settings: Settings{"a": "b"}}}
		}, "two changes"},
		{"reversed outage", func(c *Config) { c.Outages = []Outage{{From: base, Until: base}} }, "Outages[0]"},
		{"outage past MaxTime", func(c *Config) { c.Outages = []Outage{{From: base, Until: MaxTime.Add(time.Hour)}} }, "Outages[0].Until"},
	}
	for _, c := range cases {
		cfg := good
		c.edit(&cfg)
		s, err := New(cfg)
		if !errors.Is(err, ErrInvalidConfig) || s != nil {
			t.Errorf("%s: New = %v, %v; want ErrInvalidConfig", c.name, s, err)
			continue
		}
		if !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: error %q does not name %s", c.name, err, c.field)
		}
	}
	if _, err := New(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
}

func TestRetroTable(t *testing.T) {
	sizes := map[int]bool{}
	rapid.Check(t, func(rt *rapid.T) {
		seed := rapid.Uint64().Draw(rt, "seed")
		s, err := New(testConfig(seed))
		if err != nil {
			rt.Fatalf("New: %v", err)
		}
		r := s.Retro()
		n := r.Len()
		sizes[n] = true
		if n < MinRetros || n > MaxRetros {
			rt.Fatalf("seed %d: %d retros", seed, n)
		}
		if len(r.Latitude) != n || len(r.Longitude) != n || len(r.Altitude) != n {
			rt.Fatalf("seed %d: column lengths %d/%d/%d for %d names", seed, len(r.Latitude), len(r.Longitude), len(r.Altitude), n)
		}
		attrs := s.Attributes(base)
		lat0, lon0 := attrs["instrument_latitude"].(float64), attrs["instrument_longitude"].(float64)
		for i := range n {
			if want := fmt.Sprintf("R%02d", i+1); r.Name[i] != want {
				rt.Fatalf("retro %d named %q, want %q", i, r.Name[i], want)
			}
			// Within 1.2 km: ~0.011° of latitude, ~0.02° of longitude at 55°N.
			if math.Abs(r.Latitude[i]-lat0) > 0.012 || math.Abs(r.Longitude[i]-lon0) > 0.025 {
				rt.Fatalf("retro %d at (%v, %v), instrument at (%v, %v)", i, r.Latitude[i], r.Longitude[i], lat0, lon0)
			}
			if r.Altitude[i] < -20 || r.Altitude[i] > 1600 {
				rt.Fatalf("retro %d altitude %v", i, r.Altitude[i])
			}
		}
		again, err := New(testConfig(seed))
		if err != nil {
			rt.Fatalf("New: %v", err)
		}
		if fmt.Sprint(again.Retro()) != fmt.Sprint(r) {
			rt.Fatal("retro table differs between two sources with one seed")
		}
	})
	if len(sizes) < 5 {
		t.Errorf("100 seeds gave only %d distinct retro counts", len(sizes))
	}
}

func TestVariables(t *testing.T) {
	s := mustNew(t, testConfig(14))
	vars := s.Variables()
	names := map[string]bool{}
	f64 := 0
	for _, v := range vars {
		if names[v.Name] {
			t.Errorf("variable %s listed twice", v.Name)
		}
		names[v.Name] = true
		if v.DType == "float64" && len(v.Dimensions) == 1 && v.Dimensions[0] == DimTimestamp {
			f64++
		}
		if v.Units == "" || v.Attributes["long_name"] == "" {
			t.Errorf("variable %s lacks units or long_name", v.Name)
		}
	}
	if f64 < 60 {
		t.Errorf("%d float64 timestamp variables, want at least 60", f64)
	}
	for _, want := range []string{"ch4", "h2o", "c0", "c1", "c2", "shift", varValidity,
		"bearing", "sonictemp", "speed", "windx", "windy", "windz", "waveform_signal"} {
		if !names[want] {
			t.Errorf("variable %s missing", want)
		}
	}
	// The package documentation's table lists every variable.
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vars {
		row := fmt.Sprintf("//\t| %s | %s | %s | %s |", v.Name, strings.Join(v.Dimensions, ", "), v.DType, v.Units)
		if !strings.Contains(string(doc), row) {
			t.Errorf("doc.go table lacks the row %q", row)
		}
	}
}

func TestTimeConversionsRoundTrip(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		us := rapid.Int64Range(MinTime.UnixMicro(), MaxTime.UnixMicro()).Draw(rt, "us")
		ns := MicrosToNanos(us)
		if NanosToMicros(ns) != us {
			rt.Fatalf("micro round trip of %d", us)
		}
		got, ok := SecondsToNanos(NanosToSeconds(ns))
		if !ok || got != ns {
			rt.Fatalf("SecondsToNanos(NanosToSeconds(%d)) = %d, %v", ns, got, ok)
		}
	})
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1e19} {
		if _, ok := SecondsToNanos(bad); ok {
			t.Errorf("SecondsToNanos(%v) accepted", bad)
		}
	}
	if got := TimeOf(base.UnixNano()); !got.Equal(base) || got.Location() != time.UTC {
		t.Errorf("TimeOf = %v", got)
	}
}

// TestGoldenIntegers pins the integer output for one seed, so a change of the
// generator (which would break resuming data written by an older build) is
// caught. Floating-point columns are excluded: they may differ in the last
// bits across architectures.
func TestGoldenIntegers(t *testing.T) {
	s := mustNew(t, testConfig(42))
	b := mustRead(t, s, base, base.Add(10*time.Minute), PartTimestamp|PartHighRes)
	h := sha256.New()
	for _, col := range [][]int64{b.Timestamps, b.HighResTimestamps} {
		for _, v := range col {
			h.Write(binary.LittleEndian.AppendUint64(nil, uint64(v)))
		}
	}
	for _, name := range []string{varValidity, varRetroIndex} {
		for _, v := range b.Int32[name] {
			h.Write(binary.LittleEndian.AppendUint32(nil, uint32(v)))
		}
	}
	got := fmt.Sprintf("%d %d %d %s", s.Retro().Len(), b.Len(), b.HighResLen(), hex.EncodeToString(h.Sum(nil))[:16])
	// The first three timestamps were recomputed by an independent Python
	// implementation of the documented algorithm.
	if first := b.Timestamps[:3]; first[0] != 1709251200337788000 || first[1] != 1709251201947385000 || first[2] != 1709251203316288000 {
		t.Errorf("first timestamps %v", first)
	}
	if want := "17 420 1320 1c780da730459068"; got != want {
		t.Errorf("golden integers = %q, want %q", got, want)
	}
}
