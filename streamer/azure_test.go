package streamer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/internal/azurite"
	"github.com/icerig/icerig/objstore/storeurl"
)

func TestAzureTarget(t *testing.T) {
	srv := azurite.Shared(t)
	ctx := context.Background()
	container := srv.Container(t)
	raw := "az://" + container + "/streams"

	// A bad account key is "no access", never "repository missing".
	bad := strings.Replace(srv.ConnectionString(), azurite.AccountKey, strings.Repeat("A", 86)+"==", 1)
	require.NotEqual(t, bad, srv.ConnectionString())
	t.Setenv(storeurl.ConnectionStringEnv, bad)
	_, err := OpenTarget(ctx, raw, nil)
	require.ErrorIs(t, err, ErrNoAccess)

	// With the right key a missing repository is created, and the
	// delimiter listing discovers it.
	t.Setenv(storeurl.ConnectionStringEnv, srv.ConnectionString())
	target, err := OpenTarget(ctx, raw, nil)
	require.NoError(t, err)
	require.Implements(t, (*DirLister)(nil), target)
	cfg := testConfig(t, small)
	s := newTestStreamer(t, cfg, target, testClock(), nil)
	runs(t, s, day0, day0.Add(30*time.Minute), 15*time.Minute)
	refs, err := Discover(ctx, target, testInstrument, testProject)
	require.NoError(t, err)
	require.Len(t, refs, 1)
	assertMatchesSource(t, readContents(t, target), cfg, day0, day0.Add(30*time.Minute))
	dirs, err := target.(DirLister).ListDirs(ctx, testInstrument+"/")
	require.NoError(t, err)
	assert.Equal(t, []string{testProject}, dirs)
}
