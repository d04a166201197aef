package source

import (
	"fmt"
	"math"
)

// Retro table size bounds.
const (
	MinRetros = 14
	MaxRetros = 32
)

// RetroTable holds the retro-reflectors the instrument's beam visits, one
// entry per index of the [DimRetro] dimension, as columns of equal length.
// The per-timestamp variable retro_index refers to these indices.
type RetroTable struct {
	// Name is the retro's label, "R01", "R02", ...
	Name []string
	// Latitude and Longitude are WGS 84 degrees north and east.
	Latitude, Longitude []float64
	// Altitude is metres above mean sea level.
	Altitude []float64
}

// Len is the number of retros.
func (r RetroTable) Len() int { return len(r.Name) }

// clone returns a deep copy.
func (r RetroTable) clone() RetroTable {
	return RetroTable{
		Name:      append([]string(nil), r.Name...),
		Latitude:  append([]float64(nil), r.Latitude...),
		Longitude: append([]float64(nil), r.Longitude...),
		Altitude:  append([]float64(nil), r.Altitude...),
	}
}

// Retro returns a copy of the retro table. It depends on the seed only.
func (s *Source) Retro() RetroTable { return s.retro.clone() }

// site is the instrument's position and its geometry to each retro.
type site struct {
	lat, lon, alt float64
	// per retro: round-trip path length (m), azimuth and elevation from the
	// instrument (degrees)
	path, azimuth, elevation []float64
}

const metresPerDegree = 111320.0

// newRetro places the instrument and 14..32 retros 150–1200 m around it.
func newRetro(seed uint64) (site, RetroTable) {
	key := streamKey(seed, DimRetro, "layout")
	u := func(i int64) float64 { return unit(at(key, i)) }
	st := site{
		lat: 35 + 20*u(0),
		lon: -120 + 140*u(1),
		alt: 5 + 1500*u(2),
	}
	n := MinRetros + int(at(key, 3)%uint64(MaxRetros-MinRetros+1))
	r := RetroTable{
		Name:      make([]string, n),
		Latitude:  make([]float64, n),
		Longitude: make([]float64, n),
		Altitude:  make([]float64, n),
	}
	st.path = make([]float64, n)
	st.azimuth = make([]float64, n)
	st.elevation = make([]float64, n)
	cosLat := math.Cos(st.lat * math.Pi / 180)
	for i := range n {
		b := int64(16 + 4*i)
		az := 360 * (float64(i) + 0.8*u(b)) / float64(n) // spread around the horizon
		dist := 150 + 1050*u(b+1)
		dz := -20 + 60*u(b+2)
		north := dist * math.Cos(az*math.Pi/180)
		east := dist * math.Sin(az*math.Pi/180)
		r.Name[i] = fmt.Sprintf("R%02d", i+1)
		r.Latitude[i] = st.lat + north/metresPerDegree
		r.Longitude[i] = st.lon + east/(metresPerDegree*cosLat)
		r.Altitude[i] = st.alt + dz
		st.path[i] = 2 * math.Hypot(dist, dz)
		st.azimuth[i] = az
		st.elevation[i] = math.Atan2(dz, dist) * 180 / math.Pi
	}
	return st, r
}
