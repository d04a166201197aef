package gccompare

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/internal/azurite"
	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/azure"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/memory"
)

// requireSameObjects checks that two stores hold the same keys with the
// same bytes and modification times.
func requireSameObjects(t *testing.T, want, got objstore.Store) {
	t.Helper()
	ctx := context.Background()
	a, err := want.List(ctx, "")
	require.NoError(t, err)
	b, err := got.List(ctx, "")
	require.NoError(t, err)
	require.NotEmpty(t, a)
	require.Len(t, b, len(a))
	for i := range a {
		require.Equal(t, a[i].Key, b[i].Key)
		assert.True(t, a[i].ModTime.Equal(b[i].ModTime), "%s: modification time %s, want %s", a[i].Key, b[i].ModTime, a[i].ModTime)
		assert.Equal(t, a[i].Size, b[i].Size, a[i].Key)
		x, _, err := want.Get(ctx, a[i].Key)
		require.NoError(t, err)
		y, _, err := got.Get(ctx, b[i].Key)
		require.NoError(t, err)
		assert.Equal(t, x, y, a[i].Key)
	}
}

// distinctTimes makes sure the source's objects do not all share one
// modification time (so a copy that stamps "now" cannot pass).
func distinctTimes(t *testing.T, st objstore.Store) {
	t.Helper()
	mt := modTimes(t, st)
	require.False(t, mt[0].Equal(mt[len(mt)-1]), "the source's objects all have one modification time")
}

func TestCopyStoreKeepsModTimes(t *testing.T) {
	ctx := context.Background()
	src := fixtureStore(t, testfixtures.SplitRepoV1)
	distinctTimes(t, src)
	start := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

	t.Run("memory", func(t *testing.T) {
		clock := objstore.NewVirtualClock(start, time.Second)
		dst := memory.New(clock)
		require.NoError(t, CopyStore(ctx, dst, src, clock))
		requireSameObjects(t, src, dst)
		assert.Equal(t, start, clock.Peek(), "the clock is set back")
	})
	t.Run("local", func(t *testing.T) {
		clock := objstore.NewVirtualClock(start, time.Second)
		dst, err := local.Open(t.TempDir(), clock)
		require.NoError(t, err)
		require.NoError(t, CopyStore(ctx, dst, src, clock))
		requireSameObjects(t, src, dst)
		assert.Equal(t, start, clock.Peek())
		// And back from memory into local, through a second copy.
		mem := memory.New(clock)
		require.NoError(t, CopyStore(ctx, mem, dst, clock))
		requireSameObjects(t, src, mem)
	})
	t.Run("azure", func(t *testing.T) {
		srv := azurite.Shared(t)
		clock := objstore.NewVirtualClock(start, time.Second)
		dst, err := azure.Open(ctx, srv.ConnectionString(), srv.Container(t), "some/repo", clock)
		require.NoError(t, err)
		require.NoError(t, CopyStore(ctx, dst, src, clock))
		requireSameObjects(t, src, dst)
		assert.Equal(t, start, clock.Peek())
	})
}

func TestCopyStoreRefuses(t *testing.T) {
	ctx := context.Background()
	src := fixtureStore(t, testfixtures.TestRepoV1)
	clock := objstore.NewVirtualClock(clockStart, 0)
	dst := memory.New(clock)
	_, err := dst.Put(ctx, "stray", []byte("x"))
	require.NoError(t, err)
	err = CopyStore(ctx, dst, src, clock)
	assert.ErrorContains(t, err, `not empty (it holds "stray"`)
	assert.Error(t, CopyStore(ctx, memory.New(clock), src, nil))

	// A failing copy still sets the clock back and names the object.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	err = CopyStore(cancelled, memory.New(clock), src, clock)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, clockStart, clock.Peek())
}

func TestCopyDir(t *testing.T) {
	src := testfixtures.Path(t, testfixtures.TestRepoV1)
	dst := filepath.Join(t.TempDir(), "copy")
	require.NoError(t, CopyDir(src, dst))
	a, err := local.Open(src, nil)
	require.NoError(t, err)
	b, err := local.Open(dst, nil)
	require.NoError(t, err)
	requireSameObjects(t, a, b)
	// The copy is writable (the fixtures are not).
	require.NoError(t, os.WriteFile(filepath.Join(dst, "refs", "branch.main", "probe"), []byte("x"), 0o644))

	assert.ErrorContains(t, CopyDir(src, dst), "exists already")
	assert.ErrorContains(t, CopyDir(filepath.Join(t.TempDir(), "missing"), filepath.Join(t.TempDir(), "x")), "no such file")
	file := filepath.Join(src, "config.yaml")
	assert.ErrorContains(t, CopyDir(file, filepath.Join(t.TempDir(), "x")), "is not a directory")
}
