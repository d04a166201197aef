package source

import (
	"fmt"
	"math"

	"github.com/icerig/icerig/zarr"
)

// WaveformSamples is the length of the [DimSample] dimension: the number of
// points of one waveform.
const WaveformSamples = 740

// Variable describes one data variable of the instrument.
type Variable struct {
	// Name is the variable's (and its zarr array's) name.
	Name string
	// Dimensions are the variable's dimension names, outermost first:
	// [DimTimestamp], [DimHighRes], or [DimTimestamp] then [DimSample] for
	// waveforms.
	Dimensions []string
	// DType is the zarr data type: float64, int32 or float32.
	DType zarr.DataType
	// Units is a UDUNITS-style unit string ("1" for dimensionless).
	Units string
	// Attributes holds long_name and, where they apply, valid_min/valid_max
	// or flag_values/flag_meanings.
	Attributes map[string]any
}

// model generates one float variable. Independent models are
// base + slow·S(k) + fast·F(k) + diurnal·cos(time of day − peak) + noise·G(k),
// clamped to [lo, hi] when lo < hi, where S and F are smooth value noise with
// knots about every 3 h and 10 min and G is bounded unit-variance noise, all
// drawn from the variable's own streams. Derived models compute their column
// from other columns (see derive).
type model struct {
	name, units, long string
	base, slow, fast  float64
	diurnal, peak     float64 // amplitude, hour of maximum (UTC)
	noise             float64
	lo, hi            float64
	wrap              float64 // when > 0, values are taken modulo wrap instead of clamped
	derive            func(s *Source, m *model, c *columns, dst []float64)

	noiseKey, slowKey, fastKey uint64
}

// Knot spacing of the smooth noise, in samples of each dimension.
const (
	tsFastKnot = 420   // ≈ 10 min at 0.7 Hz
	tsSlowKnot = 7560  // ≈ 3 h
	hrFastKnot = 1320  // ≈ 10 min at 2.2 Hz
	hrSlowKnot = 23760 // ≈ 3 h
)

// retroDwell is how many consecutive timestamp samples the beam stays on one
// retro; the first sample of each dwell is invalid (the beam is settling).
const retroDwell = 21

// invalidPerMille is the extra rate of randomly invalid samples.
const invalidPerMille = 15

// Names of the int32 variables on the timestamp dimension.
const (
	varValidity   = "measurement_validity"
	varRetroIndex = "retro_index"
)

// timestampModels returns the float64 variables of the timestamp dimension,
// in their fixed order. Derived variables come after those they read.
func timestampModels() []*model {
	ms := []*model{
		{name: "ch4", units: "ppm", long: "methane mole fraction along the beam", base: 2.0, slow: 0.04, fast: 0.012, diurnal: 0.015, peak: 5, noise: 0.006, lo: 1.9, hi: 2.1},
		{name: "ch4_uncertainty", units: "ppm", long: "methane retrieval uncertainty", base: 0.008, fast: 0.002, noise: 0.001, lo: 0.002, hi: 0.05},
		{name: "h2o", units: "%", long: "water vapour mole fraction along the beam", base: 1.2, slow: 0.45, fast: 0.08, diurnal: 0.15, peak: 14, noise: 0.01, lo: 0.5, hi: 2.0},
		{name: "h2o_uncertainty", units: "%", long: "water vapour retrieval uncertainty", base: 0.01, noise: 0.002, lo: 0.002, hi: 0.05},
		{name: "ch4_dry", units: "ppm", long: "methane dry-air mole fraction", lo: 1.9, hi: 2.15, derive: deriveCH4Dry},
		{name: "path_length", units: "m", long: "round-trip optical path length to the current retro", noise: 0.01, lo: 300, hi: 2500, derive: derivePathLength},
		{name: "ch4_path_integrated", units: "ppm m", long: "path-integrated methane", derive: deriveCH4Path},
		{name: "r_squared", units: "1", long: "spectral fit coefficient of determination", base: 0.993, fast: 0.002, noise: 0.0015, lo: 0.95, hi: 0.9999},
		{name: "chi_squared", units: "1", long: "reduced chi-squared of the spectral fit", base: 1.05, fast: 0.1, noise: 0.08, lo: 0.5, hi: 3},
		{name: "residual_rms", units: "V", long: "RMS of the fit residual", base: 0.002, fast: 0.0004, noise: 0.0002, lo: 0.0005, hi: 0.01},
	}
	for i := range 12 {
		b := 0.5 / math.Pow(3, float64(i))
		if i%2 == 1 {
			b = -b
		}
		ms = append(ms, &model{
			name: fmt.Sprintf("c%d", i), units: "1",
			long: fmt.Sprintf("spectral fit baseline polynomial coefficient %d", i),
			base: b, slow: math.Abs(b) * 0.1, fast: math.Abs(b) * 0.02, noise: math.Abs(b) * 0.01,
		})
	}
	ms = append(ms, []*model{
		{name: "shift", units: "samples", long: "spectral line shift from the nominal position", slow: 1.5, fast: 0.3, noise: 0.04, lo: -4, hi: 4},
		{name: "shift_uncertainty", units: "samples", long: "uncertainty of shift", base: 0.02, noise: 0.004, lo: 0.005, hi: 0.1},
		{name: "stretch", units: "1", long: "spectral axis stretch factor", base: 1, slow: 0.0008, noise: 0.00005},
		{name: "peak_position", units: "samples", long: "fitted methane line centre in the waveform", derive: derivePeakPosition},
		{name: "peak_width", units: "samples", long: "fitted methane line full width at half maximum", base: 18, slow: 0.6, noise: 0.1, lo: 14, hi: 22},
		{name: "peak_height", units: "V", long: "fitted methane line depth", base: 0.045, fast: 0.004, noise: 0.001, lo: 0.01, hi: 0.1},
		{name: "signal_level", units: "V", long: "mean detector signal", base: 2.5, slow: 0.35, fast: 0.1, noise: 0.02, lo: 0.5, hi: 4.5},
		{name: "signal_dc", units: "V", long: "detector DC level", base: 2.4, slow: 0.3, noise: 0.02, lo: 0.4, hi: 4.4},
		{name: "signal_ac", units: "V", long: "detector AC amplitude", base: 0.35, fast: 0.03, noise: 0.005, lo: 0.05, hi: 1},
		{name: "background_level", units: "V", long: "detector level with the laser off", base: 0.05, fast: 0.01, noise: 0.002, lo: 0, hi: 0.2},
		{name: "snr", units: "dB", long: "signal-to-noise ratio", base: 38, slow: 3, fast: 1, noise: 0.5, lo: 10, hi: 60},
		{name: "baseline_offset", units: "V", long: "fitted baseline offset", base: 0.1, fast: 0.01, noise: 0.001},
		{name: "baseline_slope", units: "V/sample", long: "fitted baseline slope", base: 0.0004, fast: 0.00003, noise: 0.000005},
		{name: "etalon_amplitude", units: "V", long: "fitted etalon fringe amplitude", base: 0.0005, fast: 0.0001, noise: 0.00005, lo: 0, hi: 0.002},
		{name: "optical_power", units: "mW", long: "laser output power", base: 12, slow: 1, noise: 0.05, lo: 5, hi: 20},
		{name: "laser_wavelength", units: "nm", long: "laser centre wavelength", base: 1653.72, slow: 0.0005, noise: 0.00002},
		{name: "wavelength_drift", units: "pm", long: "laser wavelength drift since calibration", slow: 0.3, noise: 0.01},
		{name: "laser_temperature", units: "degC", long: "laser diode temperature", base: 25, slow: 0.01, noise: 0.002},
		{name: "laser_current", units: "mA", long: "laser diode drive current", base: 85, slow: 0.2, noise: 0.01},
		{name: "laser_tec_current", units: "A", long: "laser thermo-electric cooler current", base: 0.45, slow: 0.03, diurnal: 0.08, peak: 15, noise: 0.002},
		{name: "detector_temperature", units: "degC", long: "detector temperature", base: -20, fast: 0.02, noise: 0.005},
		{name: "detector_tec_current", units: "A", long: "detector thermo-electric cooler current", base: 0.8, diurnal: 0.1, peak: 15, noise: 0.003},
		{name: "enclosure_temperature", units: "degC", long: "instrument enclosure temperature", base: 30, slow: 1, diurnal: 3, peak: 15, noise: 0.02},
		{name: "ambient_temperature", units: "degC", long: "outside air temperature", base: 15, slow: 3, fast: 0.4, diurnal: 6, peak: 15, noise: 0.05, lo: -30, hi: 45},
		// base, lo and hi of ambient_pressure are set from the site altitude.
		{name: "ambient_pressure", units: "hPa", long: "outside air pressure", slow: 6, fast: 0.3, noise: 0.05},
		{name: "relative_humidity", units: "%", long: "outside relative humidity", base: 60, slow: 10, fast: 2, diurnal: 15, peak: 4, noise: 0.3, lo: 5, hi: 100},
		{name: "dew_point", units: "degC", long: "outside dew point", base: 7, slow: 3, diurnal: 1, peak: 15, noise: 0.05},
		{name: "air_density", units: "mol m-3", long: "molar density of outside air", derive: deriveAirDensity},
		{name: "visibility", units: "km", long: "optical visibility", base: 20, slow: 8, fast: 1, noise: 0.1, lo: 0.5, hi: 50},
		{name: "beam_attenuation", units: "dB", long: "two-way beam attenuation", base: 3, slow: 1, fast: 0.2, noise: 0.05, lo: 0, hi: 20},
		{name: "reference_cell_pressure", units: "hPa", long: "reference gas cell pressure", base: 100, slow: 0.05, noise: 0.005},
		{name: "reference_cell_temperature", units: "degC", long: "reference gas cell temperature", base: 35, fast: 0.01, noise: 0.003},
		{name: "supply_voltage", units: "V", long: "power supply voltage", base: 24, fast: 0.05, noise: 0.01},
		{name: "supply_current", units: "A", long: "power supply current", base: 1.6, fast: 0.05, diurnal: 0.1, peak: 15, noise: 0.01},
		{name: "cpu_temperature", units: "degC", long: "controller CPU temperature", base: 48, slow: 1, diurnal: 4, peak: 15, noise: 0.2},
		{name: "fan_speed", units: "rpm", long: "enclosure fan speed", base: 2400, fast: 50, diurnal: 150, peak: 15, noise: 10},
		{name: "pan_angle", units: "degree", long: "beam azimuth, clockwise from north", noise: 0.002, derive: derivePan},
		{name: "tilt_angle", units: "degree", long: "beam elevation above the horizontal", noise: 0.002, derive: deriveTilt},
		{name: "pointing_error_x", units: "mrad", long: "horizontal pointing error", fast: 0.03, noise: 0.01},
		{name: "pointing_error_y", units: "mrad", long: "vertical pointing error", fast: 0.03, noise: 0.01},
		{name: "scan_duration", units: "s", long: "time since the previous scan", derive: deriveScanDuration},
		{name: "integration_time", units: "ms", long: "measured detector integration time", base: 1400, noise: 0.2},
		{name: "temperature_correction", units: "1", long: "temperature correction factor applied to ch4", base: 1, slow: 0.002, noise: 0.0001},
		{name: "pressure_correction", units: "1", long: "pressure correction factor applied to ch4", base: 1, slow: 0.003, noise: 0.0001},
		{name: "humidity_correction", units: "1", long: "water vapour correction factor applied to ch4", base: 1, slow: 0.002, noise: 0.0001},
		{name: "gps_latitude", units: "degree_north", long: "GPS latitude of the instrument", noise: 1e-6, derive: deriveGPSLat},
		{name: "gps_longitude", units: "degree_east", long: "GPS longitude of the instrument", noise: 1e-6, derive: deriveGPSLon},
		{name: "gps_altitude", units: "m", long: "GPS altitude of the instrument", noise: 0.3, derive: deriveGPSAlt},
	}...)
	return ms
}

// highResModels returns the float64 variables of the high-res dimension.
func highResModels() []*model {
	return []*model{
		{name: "bearing", units: "degree", long: "wind direction (from), clockwise from north", base: 220, slow: 90, fast: 25, noise: 6, wrap: 360},
		{name: "sonictemp", units: "degC", long: "sonic temperature", base: 15, slow: 3, fast: 0.4, diurnal: 6, peak: 15, noise: 0.08, lo: -30, hi: 45},
		{name: "speed", units: "m s-1", long: "horizontal wind speed", base: 3.5, slow: 2, fast: 1, diurnal: 1, peak: 14, noise: 0.5, lo: 0, hi: 25},
		{name: "windx", units: "m s-1", long: "eastward wind component", derive: deriveWindX},
		{name: "windy", units: "m s-1", long: "northward wind component", derive: deriveWindY},
		{name: "windz", units: "m s-1", long: "upward wind component", fast: 0.1, noise: 0.15, lo: -3, hi: 3},
	}
}

// waveformModels returns the float32 waveform variables on
// (timestamp, sample); their noise key is used per point.
func waveformModels() []*model {
	return []*model{
		{name: "waveform_signal", units: "V", long: "detector signal over one laser scan"},
		{name: "waveform_reference", units: "V", long: "reference cell signal over one laser scan"},
	}
}

func (s *Source) keyModels(ms []*model) {
	for _, m := range ms {
		m.noiseKey = streamKey(s.seed, m.name, "noise")
		m.slowKey = streamKey(s.seed, m.name, "slow")
		m.fastKey = streamKey(s.seed, m.name, "fast")
	}
}

func (s *Source) buildModels() {
	s.tsModels = timestampModels()
	s.hrModels = highResModels()
	s.waveModels = waveformModels()
	for _, m := range s.tsModels {
		if m.name == "ambient_pressure" {
			m.base = 1013.25 * math.Exp(-s.site.alt/8434)
			m.lo, m.hi = m.base-50, m.base+40
		}
	}
	s.keyModels(s.tsModels)
	s.keyModels(s.hrModels)
	s.keyModels(s.waveModels)
	s.int32Names = []string{varValidity, varRetroIndex}
}

func modelAttributes(m *model) map[string]any {
	a := map[string]any{"long_name": m.long}
	if m.lo < m.hi {
		a["valid_min"], a["valid_max"] = m.lo, m.hi
	}
	if m.wrap > 0 {
		a["valid_min"], a["valid_max"] = 0.0, m.wrap
	}
	return a
}

// Variables lists every data variable in a fixed order: the float64 then the
// int32 variables of [DimTimestamp], the float64 variables of [DimHighRes],
// then the float32 waveforms on ([DimTimestamp], [DimSample]). The
// coordinates (the timestamp columns of a [Batch]) and the retro table
// ([Source.Retro]) are not listed. The returned slice is the caller's.
func (s *Source) Variables() []Variable {
	var vs []Variable
	for _, m := range s.tsModels {
		vs = append(vs, Variable{Name: m.name, Dimensions: []string{DimTimestamp}, DType: zarr.Float64, Units: m.units, Attributes: modelAttributes(m)})
	}
	vs = append(vs,
		Variable{Name: varValidity, Dimensions: []string{DimTimestamp}, DType: zarr.Int32, Units: "1", Attributes: map[string]any{
			"long_name":     "whether the measurement passed quality checks",
			"flag_values":   []int32{0, 1},
			"flag_meanings": "invalid valid",
		}},
		Variable{Name: varRetroIndex, Dimensions: []string{DimTimestamp}, DType: zarr.Int32, Units: "1", Attributes: map[string]any{
			"long_name": "index along the retro dimension of the retro-reflector the beam points at",
			"valid_min": int32(0),
			"valid_max": int32(s.retro.Len() - 1),
		}},
	)
	for _, m := range s.hrModels {
		vs = append(vs, Variable{Name: m.name, Dimensions: []string{DimHighRes}, DType: zarr.Float64, Units: m.units, Attributes: modelAttributes(m)})
	}
	for _, m := range s.waveModels {
		vs = append(vs, Variable{Name: m.name, Dimensions: []string{DimTimestamp, DimSample}, DType: zarr.Float32, Units: m.units, Attributes: modelAttributes(m)})
	}
	return vs
}
