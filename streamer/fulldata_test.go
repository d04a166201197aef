package streamer

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/objstore/local"
)

// TestFullDataLocal streams every variable (high-rate wind and waveforms
// included) for a short span on the local filesystem.
func TestFullDataLocal(t *testing.T) {
	cfg := testConfig(t, "data: all\nchunk_timestamps: 500\n")
	st, err := local.Open(t.TempDir(), nil)
	require.NoError(t, err)
	s := newTestStreamer(t, cfg, st, testClock(), nil)
	reps := runs(t, s, day0, day0.Add(20*time.Minute), 10*time.Minute)
	require.Equal(t, 2*1320, reps[0].Windows[0].HighResRows+reps[1].Windows[0].HighResRows)
	c := readContents(t, st)
	require.Equal(t, 2, len(c.f32), "both waveforms")
	require.Equal(t, 70+6+3, len(c.f64), "float64 per-timestamp and wind variables, retro table")
	require.Equal(t, 2+1, len(c.i32), "int32 per-timestamp variables, retro index")
	assertMatchesSource(t, c, cfg, day0, day0.Add(20*time.Minute))
}
