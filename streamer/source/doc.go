// Package source is a seeded mock instrument: an open-path methane laser
// that sweeps its beam across 14 to 32 retro-reflectors, with a sonic
// anemometer beside it. It produces any time range of data deterministically,
// so a streamer's windows, crashes and resumes can be tested exactly.
//
// # Determinism
//
// Everything is a pure function of the seed:
//
//   - Sample k of a dimension lies at offset + k·period + jitter(k)
//     microseconds since the epoch, where the offset (in [0, period)) and the
//     jitter (in [0, period/4)) are hashes of (seed, dimension[, k]). Jitter
//     is smaller than the period, so timestamps strictly increase. Periods:
//     [TimestampPeriod] 1.428571 s (0.7 Hz), [HighResPeriod] 0.454545 s
//     (2.2 Hz).
//   - Values are pure functions of (seed, variable, k), drawn with a
//     counter-based hash (the splitmix64 finalizer over seed, name and
//     counter), never from a sequential random stream. Any range costs
//     O(range) to produce.
//   - The retro table is a pure function of the seed.
//
// [Source.Read] over (from, until] returns exactly the samples with
// from < t <= until: a sample exactly at from is excluded, one exactly at
// until included. Reading a range in one call or split into any consecutive
// sub-ranges gives identical data (no sample twice, none skipped), which is
// what makes crash-resume testable. Integer results (timestamps, int32
// variables, retro names and count) are identical on every platform;
// floating-point values are identical for one build and may differ in the
// last bits across architectures whose compilers fuse multiply-adds.
//
// # Timestamps
//
// Timestamps are int64 nanoseconds since 1970-01-01T00:00:00Z, always whole
// microseconds. A streamer may store them as int64 (nanoseconds, or
// microseconds via [NanosToMicros]) or as float64 seconds via
// [NanosToSeconds]; [SecondsToNanos] recovers the exact value for every time
// in [MinTime, MaxTime], so the last committed timestamp read back from a
// float64 array resumes reading at exactly the next sample.
//
// # Settings
//
// Processing settings are a flat string map. [SettingsChange] schedules a
// replacement that applies to samples strictly after its time;
// [Source.NextSettingsChange] lets a streamer cut its windows there, and
// [Fingerprint] names the settings (tags "settings-<fingerprint>-start",
// [StartTagName]). Settings change attributes only, never the values.
//
// # Bad input
//
// [New] rejects a bad [Config] with [ErrInvalidConfig] naming the field. A
// read with until before from, or a bound outside [MinTime, MaxTime], fails
// with [ErrInvalidRange]; from == until is a valid, empty read. A read longer
// than [MaxReadSpan] (31 days), or than [MaxWaveformReadSpan] (1 day) when it
// includes waveforms, fails with [ErrRangeTooLarge] instead of allocating.
//
// # Variables
//
// Temperatures, including sonictemp, are in degrees Celsius; wind speeds in
// m/s; bearing is the direction the wind blows from, clockwise from north in
// [0, 360); windx is eastward and windy northward (a wind from the north has
// windy < 0). measurement_validity is 0 on the first scan of each retro dwell
// (21 scans, the beam settling) and on about 1.5% of other scans, else 1.
// retro_index is the [DimRetro] index the beam points at. path_length, the
// pan/tilt angles and the GPS position follow from the retro geometry;
// ch4_dry, ch4_path_integrated, peak_position, air_density, scan_duration,
// windx and windy are computed from other variables. Waveforms show the laser
// ramp with the methane line at 370 + shift (depth proportional to
// ch4_path_integrated) and a water line near sample 180.
//
// Ranges are clamps (bearing wraps); "site" depends on the seed.
//
//	| name | dimensions | dtype | units | range | description |
//	|---|---|---|---|---|---|
//	| ch4 | timestamp | float64 | ppm | 1.9 – 2.1 | methane mole fraction along the beam |
//	| ch4_uncertainty | timestamp | float64 | ppm | 0.002 – 0.05 | methane retrieval uncertainty |
//	| h2o | timestamp | float64 | % | 0.5 – 2 | water vapour mole fraction along the beam |
//	| h2o_uncertainty | timestamp | float64 | % | 0.002 – 0.05 | water vapour retrieval uncertainty |
//	| ch4_dry | timestamp | float64 | ppm | 1.9 – 2.15 | methane dry-air mole fraction |
//	| path_length | timestamp | float64 | m | 300 – 2500 | round-trip optical path length to the current retro |
//	| ch4_path_integrated | timestamp | float64 | ppm m |  | path-integrated methane |
//	| r_squared | timestamp | float64 | 1 | 0.95 – 0.9999 | spectral fit coefficient of determination |
//	| chi_squared | timestamp | float64 | 1 | 0.5 – 3 | reduced chi-squared of the spectral fit |
//	| residual_rms | timestamp | float64 | V | 0.0005 – 0.01 | RMS of the fit residual |
//	| c0 | timestamp | float64 | 1 |  | spectral fit baseline polynomial coefficient 0 |
//	| c1 | timestamp | float64 | 1 |  | spectral fit baseline polynomial coefficient 1 |
//	| c2 | timestamp | float64 | 1 |  | spectral fit baseline polynomial coefficient 2 |
//	| c3 | timestamp | float64 | 1 |  | spectral fit baseline polynomial coefficient 3 |
//	| c4 | timestamp | float64 | 1 |  | spectral fit baseline polynomial coefficient 4 |
//	| c5 | timestamp | float64 | 1 |  | spectral fit baseline polynomial coefficient 5 |
//	| c6 | timestamp | float64 | 1 |  | spectral fit baseline polynomial coefficient 6 |
//	| c7 | timestamp | float64 | 1 |  | spectral fit baseline polynomial coefficient 7 |
//	| c8 | timestamp | float64 | 1 |  | spectral fit baseline polynomial coefficient 8 |
//	| c9 | timestamp | float64 | 1 |  | spectral fit baseline polynomial coefficient 9 |
//	| c10 | timestamp | float64 | 1 |  | spectral fit baseline polynomial coefficient 10 |
//	| c11 | timestamp | float64 | 1 |  | spectral fit baseline polynomial coefficient 11 |
//	| shift | timestamp | float64 | samples | -4 – 4 | spectral line shift from the nominal position |
//	| shift_uncertainty | timestamp | float64 | samples | 0.005 – 0.1 | uncertainty of shift |
//	| stretch | timestamp | float64 | 1 |  | spectral axis stretch factor |
//	| peak_position | timestamp | float64 | samples |  | fitted methane line centre in the waveform |
//	| peak_width | timestamp | float64 | samples | 14 – 22 | fitted methane line full width at half maximum |
//	| peak_height | timestamp | float64 | V | 0.01 – 0.1 | fitted methane line depth |
//	| signal_level | timestamp | float64 | V | 0.5 – 4.5 | mean detector signal |
//	| signal_dc | timestamp | float64 | V | 0.4 – 4.4 | detector DC level |
//	| signal_ac | timestamp | float64 | V | 0.05 – 1 | detector AC amplitude |
//	| background_level | timestamp | float64 | V | 0 – 0.2 | detector level with the laser off |
//	| snr | timestamp | float64 | dB | 10 – 60 | signal-to-noise ratio |
//	| baseline_offset | timestamp | float64 | V |  | fitted baseline offset |
//	| baseline_slope | timestamp | float64 | V/sample |  | fitted baseline slope |
//	| etalon_amplitude | timestamp | float64 | V | 0 – 0.002 | fitted etalon fringe amplitude |
//	| optical_power | timestamp | float64 | mW | 5 – 20 | laser output power |
//	| laser_wavelength | timestamp | float64 | nm |  | laser centre wavelength |
//	| wavelength_drift | timestamp | float64 | pm |  | laser wavelength drift since calibration |
//	| laser_temperature | timestamp | float64 | degC |  | laser diode temperature |
//	| laser_current | timestamp | float64 | mA |  | laser diode drive current |
//	| laser_tec_current | timestamp | float64 | A |  | laser thermo-electric cooler current |
//	| detector_temperature | timestamp | float64 | degC |  | detector temperature |
//	| detector_tec_current | timestamp | float64 | A |  | detector thermo-electric cooler current |
//	| enclosure_temperature | timestamp | float64 | degC |  | instrument enclosure temperature |
//	| ambient_temperature | timestamp | float64 | degC | -30 – 45 | outside air temperature |
//	| ambient_pressure | timestamp | float64 | hPa | site: 1013.25·e^(−alt/8434) −50 … +40 | outside air pressure |
//	| relative_humidity | timestamp | float64 | % | 5 – 100 | outside relative humidity |
//	| dew_point | timestamp | float64 | degC |  | outside dew point |
//	| air_density | timestamp | float64 | mol m-3 |  | molar density of outside air |
//	| visibility | timestamp | float64 | km | 0.5 – 50 | optical visibility |
//	| beam_attenuation | timestamp | float64 | dB | 0 – 20 | two-way beam attenuation |
//	| reference_cell_pressure | timestamp | float64 | hPa |  | reference gas cell pressure |
//	| reference_cell_temperature | timestamp | float64 | degC |  | reference gas cell temperature |
//	| supply_voltage | timestamp | float64 | V |  | power supply voltage |
//	| supply_current | timestamp | float64 | A |  | power supply current |
//	| cpu_temperature | timestamp | float64 | degC |  | controller CPU temperature |
//	| fan_speed | timestamp | float64 | rpm |  | enclosure fan speed |
//	| pan_angle | timestamp | float64 | degree |  | beam azimuth, clockwise from north |
//	| tilt_angle | timestamp | float64 | degree |  | beam elevation above the horizontal |
//	| pointing_error_x | timestamp | float64 | mrad |  | horizontal pointing error |
//	| pointing_error_y | timestamp | float64 | mrad |  | vertical pointing error |
//	| scan_duration | timestamp | float64 | s |  | time since the previous scan |
//	| integration_time | timestamp | float64 | ms |  | measured detector integration time |
//	| temperature_correction | timestamp | float64 | 1 |  | temperature correction factor applied to ch4 |
//	| pressure_correction | timestamp | float64 | 1 |  | pressure correction factor applied to ch4 |
//	| humidity_correction | timestamp | float64 | 1 |  | water vapour correction factor applied to ch4 |
//	| gps_latitude | timestamp | float64 | degree_north |  | GPS latitude of the instrument |
//	| gps_longitude | timestamp | float64 | degree_east |  | GPS longitude of the instrument |
//	| gps_altitude | timestamp | float64 | m |  | GPS altitude of the instrument |
//	| measurement_validity | timestamp | int32 | 1 | 0 or 1 | whether the measurement passed quality checks |
//	| retro_index | timestamp | int32 | 1 | 0 – retros−1 | index along the retro dimension of the retro-reflector the beam points at |
//	| bearing | high_res_timestamp | float64 | degree | 0 – 360 | wind direction (from), clockwise from north |
//	| sonictemp | high_res_timestamp | float64 | degC | -30 – 45 | sonic temperature |
//	| speed | high_res_timestamp | float64 | m s-1 | 0 – 25 | horizontal wind speed |
//	| windx | high_res_timestamp | float64 | m s-1 |  | eastward wind component |
//	| windy | high_res_timestamp | float64 | m s-1 |  | northward wind component |
//	| windz | high_res_timestamp | float64 | m s-1 | -3 – 3 | upward wind component |
//	| waveform_signal | timestamp, sample | float32 | V |  | detector signal over one laser scan |
//	| waveform_reference | timestamp, sample | float32 | V |  | reference cell signal over one laser scan |
//
// The retro table ([Source.Retro], dimension [DimRetro]) has name (string,
// "R01"…), latitude and longitude (degrees) and altitude (m).
package source
