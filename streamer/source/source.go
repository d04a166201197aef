package source

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Errors returned by the package; match them with errors.Is.
var (
	// ErrInvalidConfig reports a bad [Config] field.
	ErrInvalidConfig = errors.New("invalid source config")
	// ErrInvalidRange reports a read range that is reversed or outside
	// [MinTime, MaxTime].
	ErrInvalidRange = errors.New("invalid read range")
	// ErrRangeTooLarge reports a read range longer than [MaxReadSpan] (or
	// [MaxWaveformReadSpan] when waveforms are requested).
	ErrRangeTooLarge = errors.New("read range too large")
)

// Outage is a period without samples: no sample of any dimension whose
// timestamp falls in (From, Until] is produced. Tests use outages to make
// empty windows and gaps.
type Outage struct {
	From, Until time.Time
}

// Config describes a mock instrument. The zero Seed is a valid seed.
type Config struct {
	// Seed selects the instrument: timestamps, values and the retro table are
	// pure functions of it.
	Seed uint64
	// Instrument and Project name the instrument and its project. They end up
	// in repository paths, so they must be non-empty, must not be "." or "..",
	// and may hold only ASCII letters, digits, '_', '-' and '.'.
	Instrument, Project string
	// GasID is the instrument's gas identifier (>= 0).
	GasID int
	// Settings are the initial processing settings; nil means
	// [DefaultSettings]. Names must be non-empty.
	Settings Settings
	// SettingsChanges schedules settings changes, in any order, at distinct
	// times within [MinTime, MaxTime].
	SettingsChanges []SettingsChange
	// Outages are periods without samples, within [MinTime, MaxTime]; they
	// may overlap.
	Outages []Outage
}

// Source is a seeded mock instrument. It is immutable and safe for
// concurrent use.
type Source struct {
	seed                uint64
	instrument, project string
	gasID               int
	settings            Settings
	changes             []SettingsChange
	outages             []outage
	retro               RetroTable
	site                site
	ts, hr              clock
	tsModels, hrModels  []*model
	waveModels          []*model
	int32Names          []string
	vars                []Variable
}

// New validates cfg and returns its source. The source keeps its own copies
// of cfg's maps and slices.
func New(cfg Config) (*Source, error) {
	if err := checkName("Instrument", cfg.Instrument); err != nil {
		return nil, err
	}
	if err := checkName("Project", cfg.Project); err != nil {
		return nil, err
	}
	if cfg.GasID < 0 {
		return nil, fmt.Errorf("source: config GasID %d is negative: %w", cfg.GasID, ErrInvalidConfig)
	}
	settings := cfg.Settings.Clone()
	if settings == nil {
		settings = DefaultSettings()
	}
	if err := checkSettings("Settings", settings); err != nil {
		return nil, err
	}
	changes := make([]SettingsChange, 0, len(cfg.SettingsChanges))
	for i, c := range cfg.SettingsChanges {
		field := fmt.Sprintf("SettingsChanges[%d]", i)
		if err := checkTime(field+".At", c.At); err != nil {
			return nil, err
		}
		if c.Settings == nil {
			return nil, fmt.Errorf("source: config %s.Settings is nil (use an empty map for no settings): %w", field, ErrInvalidConfig)
		}
		if err := checkSettings(field+".Settings", c.Settings); err != nil {
			return nil, err
		}
		changes = append(changes, SettingsChange{At: c.At.UTC(), Settings: c.Settings.Clone()})
	}
	slices.SortStableFunc(changes, func(a, b SettingsChange) int { return a.At.Compare(b.At) })
	for i := 1; i < len(changes); i++ {
		if changes[i].At.Equal(changes[i-1].At) {
			return nil, fmt.Errorf("source: config SettingsChanges: two changes at %s: %w",
				changes[i].At.Format(time.RFC3339Nano), ErrInvalidConfig)
		}
	}
	outages, err := mergeOutages(cfg.Outages)
	if err != nil {
		return nil, err
	}
	s := &Source{
		seed:       cfg.Seed,
		instrument: cfg.Instrument,
		project:    cfg.Project,
		gasID:      cfg.GasID,
		settings:   settings,
		changes:    changes,
		outages:    outages,
		ts:         newClock(cfg.Seed, DimTimestamp, TimestampPeriod),
		hr:         newClock(cfg.Seed, DimHighRes, HighResPeriod),
	}
	s.site, s.retro = newRetro(cfg.Seed)
	s.buildModels()
	return s, nil
}

func checkName(field, v string) error {
	if v == "" || v == "." || v == ".." {
		return fmt.Errorf("source: config %s %q is empty or a dot path: %w", field, v, ErrInvalidConfig)
	}
	for _, r := range v {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
		if !ok {
			return fmt.Errorf("source: config %s %q holds %q (allowed: letters, digits, '_', '-', '.'): %w",
				field, v, r, ErrInvalidConfig)
		}
	}
	return nil
}

func checkSettings(field string, s Settings) error {
	for k := range s {
		if k == "" {
			return fmt.Errorf("source: config %s has an empty setting name: %w", field, ErrInvalidConfig)
		}
	}
	return nil
}

func checkTime(field string, t time.Time) error {
	if t.Before(MinTime) || t.After(MaxTime) {
		return fmt.Errorf("source: config %s %s is outside [%s, %s]: %w", field,
			t.Format(time.RFC3339Nano), MinTime.Format(time.RFC3339), MaxTime.Format(time.RFC3339), ErrInvalidConfig)
	}
	return nil
}

// mergeOutages validates, sorts and merges outages into disjoint intervals.
func mergeOutages(in []Outage) ([]outage, error) {
	out := make([]outage, 0, len(in))
	for i, o := range in {
		field := fmt.Sprintf("Outages[%d]", i)
		if err := checkTime(field+".From", o.From); err != nil {
			return nil, err
		}
		if err := checkTime(field+".Until", o.Until); err != nil {
			return nil, err
		}
		if !o.From.Before(o.Until) {
			return nil, fmt.Errorf("source: config %s: From %s is not before Until %s: %w", field,
				o.From.Format(time.RFC3339Nano), o.Until.Format(time.RFC3339Nano), ErrInvalidConfig)
		}
		out = append(out, outage{o.From.UnixNano(), o.Until.UnixNano()})
	}
	slices.SortFunc(out, func(a, b outage) int {
		switch {
		case a.from < b.from:
			return -1
		case a.from > b.from:
			return 1
		}
		return 0
	})
	merged := out[:0]
	for _, o := range out {
		if n := len(merged); n > 0 && o.from <= merged[n-1].until {
			merged[n-1].until = max(merged[n-1].until, o.until)
			continue
		}
		merged = append(merged, o)
	}
	return merged, nil
}

// Seed returns the source's seed.
func (s *Source) Seed() uint64 { return s.seed }

// Instrument returns the instrument name.
func (s *Source) Instrument() string { return s.instrument }

// Project returns the project name.
func (s *Source) Project() string { return s.project }

// GasID returns the gas identifier.
func (s *Source) GasID() int { return s.gasID }

// Attributes returns the dataset attributes for data at time t: instrument,
// project, gas_id, the processing settings in effect at t (see
// [Source.SettingsAt]) and their fingerprint, plus descriptive entries. Values
// are strings, ints, float64s or map[string]string, so the map marshals to
// JSON directly. The seed is a decimal string because it may exceed 2^53.
func (s *Source) Attributes(t time.Time) map[string]any {
	set := s.settingsAt(t)
	return map[string]any{
		"instrument":           s.instrument,
		"project":              s.project,
		"gas_id":               s.gasID,
		"processing_settings":  map[string]string(set.Clone()),
		"settings_fingerprint": Fingerprint(set),
		"source":               "icerig mock instrument (streamer/source)",
		"mock_seed":            strconv.FormatUint(s.seed, 10),
		"instrument_latitude":  s.site.lat,
		"instrument_longitude": s.site.lon,
		"instrument_altitude":  s.site.alt,
		"timestamp_units":      TimestampUnits,
		"waveform_samples":     WaveformSamples,
	}
}
