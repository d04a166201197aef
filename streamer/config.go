package streamer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/streamer/source"
)

// DataMode says which parts of the instrument data the streamer writes.
type DataMode string

// Data modes.
const (
	// DataMinimal writes the retro table and the per-timestamp variables.
	DataMinimal DataMode = "minimal"
	// DataAll adds the high-rate (high_res_timestamp) and waveform data.
	DataAll DataMode = "all"
)

// Defaults of the configuration file.
const (
	DefaultStreamingMinutes = 15
	DefaultMaxWindow        = 4 * time.Hour
	DefaultDaysPerFile      = 1
	DefaultChunkTimestamps  = 1000
)

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid streamer configuration")

// Config is the streamer's configuration file (YAML):
//
//	source:
//	  instrument: gm01        # letters, digits, '_', '-', '.'
//	  project: ch4-flux
//	  gas_id: 1
//	  seed: 42
//	  settings: {fit_model: voigt}          # optional, mock instrument only
//	  settings_changes:                     # optional, mock instrument only
//	    - {at: 2024-06-01T12:00:00Z, settings: {fit_model: gauss}}
//	  outages:                              # optional, mock instrument only
//	    - {from: 2024-06-01T03:00:00Z, until: 2024-06-01T04:00:00Z}
//	streaming_minutes: 15     # cron period; the first run looks back this far
//	max_window: 4h            # longest window of one commit
//	days_per_file: 1          # a repository holds at most this many days
//	data: minimal             # minimal | all
//	chunk_timestamps: 1000    # rows per chunk along the time dimensions
//	variables: [ch4, h2o]     # optional subset of the instrument's variables
//	spec_version: 2           # on-disk spec of new repositories (1 or 2)
//	retry: {attempts: 5, initial_backoff: 1s, max_backoff: 30s}
//
// Unknown keys are errors, so a typo never silently falls back to a default.
type Config struct {
	Source SourceConfig `yaml:"source"`
	// StreamingMinutes is the cron period; a first run without a since-hint
	// starts this long before its until-hint.
	StreamingMinutes int `yaml:"streaming_minutes"`
	// MaxWindow caps the span of one window (one commit).
	MaxWindow time.Duration `yaml:"max_window"`
	// DaysPerFile is the span of one repository, counted from the time in
	// its name.
	DaysPerFile int `yaml:"days_per_file"`
	// Data selects minimal or all data.
	Data DataMode `yaml:"data"`
	// ChunkTimestamps is the chunk length along the time dimensions.
	ChunkTimestamps int `yaml:"chunk_timestamps"`
	// Variables, when set, restricts the data variables written to these
	// names (from the instrument's variables allowed by Data). Data and
	// Variables make the repository's layout: changing the layout starts a
	// new repository.
	Variables []string `yaml:"variables"`
	// SpecVersion is the Icechunk spec of repositories the streamer creates
	// (formatv2.SpecVersion1 or SpecVersion2); existing repositories keep
	// theirs.
	SpecVersion int `yaml:"spec_version"`
	// Retry bounds the retries of transient storage errors.
	Retry RetryConfig `yaml:"retry"`
}

// SourceConfig names the instrument. Settings, SettingsChanges and Outages
// configure the mock instrument (streamer/source) and are optional.
type SourceConfig struct {
	Instrument      string                 `yaml:"instrument"`
	Project         string                 `yaml:"project"`
	GasID           int                    `yaml:"gas_id"`
	Seed            uint64                 `yaml:"seed"`
	Settings        map[string]string      `yaml:"settings"`
	SettingsChanges []SettingsChangeConfig `yaml:"settings_changes"`
	Outages         []OutageConfig         `yaml:"outages"`
}

// SettingsChangeConfig schedules new processing settings of the mock
// instrument (see source.SettingsChange).
type SettingsChangeConfig struct {
	At       time.Time         `yaml:"at"`
	Settings map[string]string `yaml:"settings"`
}

// OutageConfig is a period (From, Until] without samples.
type OutageConfig struct {
	From  time.Time `yaml:"from"`
	Until time.Time `yaml:"until"`
}

// RetryConfig bounds retries of transient storage errors: at most Attempts
// tries of one operation, waiting InitialBackoff after the first failure and
// doubling up to MaxBackoff.
type RetryConfig struct {
	Attempts       int           `yaml:"attempts"`
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	MaxBackoff     time.Duration `yaml:"max_backoff"`
}

// DefaultRetry is the retry policy when the configuration sets none.
var DefaultRetry = RetryConfig{Attempts: 5, InitialBackoff: time.Second, MaxBackoff: 30 * time.Second}

// LoadConfig reads and parses the configuration file at path.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrConfig, path, err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses a configuration document, applies the defaults and
// validates it. name (the file's path) appears in every error.
func ParseConfig(name string, data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, name, err)
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &c, nil
}

func (c *Config) applyDefaults() {
	if c.StreamingMinutes == 0 {
		c.StreamingMinutes = DefaultStreamingMinutes
	}
	if c.MaxWindow == 0 {
		c.MaxWindow = DefaultMaxWindow
	}
	if c.DaysPerFile == 0 {
		c.DaysPerFile = DefaultDaysPerFile
	}
	if c.Data == "" {
		c.Data = DataMinimal
	}
	if c.ChunkTimestamps == 0 {
		c.ChunkTimestamps = DefaultChunkTimestamps
	}
	if c.SpecVersion == 0 {
		c.SpecVersion = formatv2.DefaultSpecVersion
	}
	if c.Retry.Attempts == 0 {
		c.Retry.Attempts = DefaultRetry.Attempts
	}
	if c.Retry.InitialBackoff == 0 {
		c.Retry.InitialBackoff = DefaultRetry.InitialBackoff
	}
	if c.Retry.MaxBackoff == 0 {
		c.Retry.MaxBackoff = DefaultRetry.MaxBackoff
	}
}

// Validate checks a configuration whose defaults are applied. The error
// wraps ErrConfig and names the field.
func (c *Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfig, field, fmt.Sprintf(format, args...))
	}
	if c.StreamingMinutes < 1 {
		return bad("streaming_minutes", "%d, want at least 1", c.StreamingMinutes)
	}
	if c.MaxWindow < time.Second {
		return bad("max_window", "%s, want at least 1s", c.MaxWindow)
	}
	if c.MaxWindow > source.MaxWaveformReadSpan {
		return bad("max_window", "%s, want at most %s", c.MaxWindow, source.MaxWaveformReadSpan)
	}
	if c.DaysPerFile < 1 {
		return bad("days_per_file", "%d, want at least 1", c.DaysPerFile)
	}
	if c.Data != DataMinimal && c.Data != DataAll {
		return bad("data", "%q, want %q or %q", c.Data, DataMinimal, DataAll)
	}
	if c.ChunkTimestamps < 1 || c.ChunkTimestamps > 1_000_000 {
		return bad("chunk_timestamps", "%d, want 1 to 1000000", c.ChunkTimestamps)
	}
	if c.SpecVersion != formatv2.SpecVersion1 && c.SpecVersion != formatv2.SpecVersion2 {
		return bad("spec_version", "%d, want 1 or 2", c.SpecVersion)
	}
	if c.Retry.Attempts < 1 || c.Retry.Attempts > 100 {
		return bad("retry.attempts", "%d, want 1 to 100", c.Retry.Attempts)
	}
	if c.Retry.InitialBackoff < 0 || c.Retry.MaxBackoff < c.Retry.InitialBackoff {
		return bad("retry", "backoff %s to %s is not a valid range", c.Retry.InitialBackoff, c.Retry.MaxBackoff)
	}
	src, err := source.New(c.SourceConfig())
	if err != nil {
		return fmt.Errorf("%w: source: %w", ErrConfig, err)
	}
	seen := map[string]bool{}
	known := map[string]bool{}
	for _, v := range src.Variables() {
		known[v.Name] = true
	}
	for _, name := range c.Variables {
		if !known[name] {
			return bad("variables", "unknown variable %q", name)
		}
		if seen[name] {
			return bad("variables", "%q listed twice", name)
		}
		seen[name] = true
	}
	if len(c.Variables) > 0 && len(selectVariables(src.Variables(), c.Data, c.Variables)) == 0 {
		return bad("variables", "none of %s is written with data %q", strings.Join(c.Variables, ", "), c.Data)
	}
	return nil
}

// SourceConfig returns the mock instrument configuration the file describes.
func (c *Config) SourceConfig() source.Config {
	sc := source.Config{
		Seed:       c.Source.Seed,
		Instrument: c.Source.Instrument,
		Project:    c.Source.Project,
		GasID:      c.Source.GasID,
	}
	if c.Source.Settings != nil {
		sc.Settings = source.Settings(c.Source.Settings)
	}
	for _, ch := range c.Source.SettingsChanges {
		sc.SettingsChanges = append(sc.SettingsChanges, source.SettingsChange{At: ch.At, Settings: source.Settings(ch.Settings)})
	}
	for _, o := range c.Source.Outages {
		sc.Outages = append(sc.Outages, source.Outage{From: o.From, Until: o.Until})
	}
	return sc
}

// selectVariables returns the variables written under mode, restricted to
// names when names is not empty, in the source's order.
func selectVariables(all []source.Variable, mode DataMode, names []string) []source.Variable {
	var out []source.Variable
	for _, v := range all {
		if mode == DataMinimal && (v.Dimensions[0] != source.DimTimestamp || len(v.Dimensions) != 1) {
			continue
		}
		if len(names) > 0 && !slices.Contains(names, v.Name) {
			continue
		}
		out = append(out, v)
	}
	return out
}
