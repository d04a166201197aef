package source

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"slices"
	"time"
)

// Settings are the instrument's processing settings: a flat map of names to
// values. They change rarely; a change makes the data non-appendable to the
// repository written under the old settings.
type Settings map[string]string

// Clone returns an independent copy of s (nil stays nil).
func (s Settings) Clone() Settings { return maps.Clone(s) }

// DefaultSettings returns the processing settings a [Config] without Settings
// starts with.
func DefaultSettings() Settings {
	return Settings{
		"fit_model":          "voigt",
		"fit_window_samples": "740",
		"baseline_order":     "3",
		"averaging_scans":    "50",
		"line_center_nm":     "1653.72",
		"calibration_id":     "cal-2024-01",
		"h2o_correction":     "on",
	}
}

// SettingsChange schedules new processing settings. Settings replaces the
// whole settings map (it is not merged with the previous one) and applies to
// every sample strictly after At; a sample exactly at At still has the old
// settings. This matches the (from, until] read interval: a window ending at
// At holds only old settings, a window starting at At only new ones.
type SettingsChange struct {
	At       time.Time
	Settings Settings
}

// FingerprintLen is the length of a settings fingerprint in hex characters.
const FingerprintLen = 12

// Fingerprint is a stable short hash of the settings: the first
// [FingerprintLen] hex characters of the SHA-256 of the settings sorted by
// name, each name and value length-prefixed. It does not depend on map order,
// and equal settings give equal fingerprints in every process and version.
// Nil and empty settings share one fingerprint.
func Fingerprint(s Settings) string {
	h := sha256.New()
	var buf []byte
	for _, k := range slices.Sorted(maps.Keys(s)) {
		buf = binary.AppendUvarint(buf[:0], uint64(len(k)))
		buf = append(buf, k...)
		buf = binary.AppendUvarint(buf, uint64(len(s[k])))
		buf = append(buf, s[k]...)
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))[:FingerprintLen]
}

// StartTagName is the name of the tag marking the first commit written under
// the settings with the given fingerprint: "settings-<fingerprint>-start".
func StartTagName(fingerprint string) string {
	return "settings-" + fingerprint + "-start"
}

// SettingsAt returns a copy of the processing settings in effect for a sample
// at time t: those of the latest change whose At is strictly before t, or the
// initial settings.
func (s *Source) SettingsAt(t time.Time) Settings {
	return s.settingsAt(t).Clone()
}

func (s *Source) settingsAt(t time.Time) Settings {
	cur := s.settings
	for _, c := range s.changes {
		if !c.At.Before(t) {
			break
		}
		cur = c.Settings
	}
	return cur
}

// NextSettingsChange returns the time of the first scheduled settings change
// strictly after the given time, and whether there is one. A streamer reading
// the window (from, until] cuts it at the returned time when that is before
// until: (from, change] and (change, until] then each hold one set of
// settings.
func (s *Source) NextSettingsChange(after time.Time) (time.Time, bool) {
	for _, c := range s.changes {
		if c.At.After(after) {
			return c.At, true
		}
	}
	return time.Time{}, false
}
