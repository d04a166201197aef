package gccompare

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/internal/azurite"
	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/azure"
	"github.com/icerig/icerig/objstore/storeurl"
)

// TestCompareURLAzure uploads a fixture into Azurite, compares at its
// az:// location and checks that the comparison ran on the original and
// on a sibling copy that is gone afterwards.
func TestCompareURLAzure(t *testing.T) {
	ctx := context.Background()
	srv := azurite.Shared(t)
	t.Setenv(storeurl.ConnectionStringEnv, srv.ConnectionString())
	container := srv.Container(t)
	upload := objstore.NewVirtualClock(clockStart, time.Second)
	orig, err := azure.Open(ctx, srv.ConnectionString(), container, "data/repo", upload)
	require.NoError(t, err)
	require.NoError(t, CopyStore(ctx, orig, fixtureStore(t, testfixtures.TestRepoV1), upload))
	// A neighbour that must survive untouched.
	whole, err := azure.Open(ctx, srv.ConnectionString(), container, "", nil)
	require.NoError(t, err)
	_, err = whole.Put(ctx, "data/other/keep", []byte("x"))
	require.NoError(t, err)

	url := "az://" + container + "/data/repo"
	rep, err := CompareURL(ctx, url, Args{
		Expire: &ExpireArgs{OlderThan: v1Cutoff, DeleteExpiredBranches: true, DeleteExpiredTags: true},
		GC:     &GCArgs{OlderThan: future},
	}, Options{})
	require.NoError(t, err)
	require.True(t, rep.Passed(), rep.Text())
	assert.Equal(t, url, rep.Scenario)
	assert.Equal(t, "az://"+container+"/data/repo", rep.Original.Store)
	assert.True(t, strings.HasPrefix(rep.Replica.Store, "az://"+container+"/data/repo"+CopySuffix), rep.Replica.Store)
	require.NotNil(t, rep.Original.GC)
	assert.Equal(t, 3, rep.Original.GC.SnapshotsDeleted, "the original was collected")
	assert.Equal(t, 3, rep.Original.KeyCounts["snapshots/"])

	// Only the (collected) original and the neighbour are left.
	all, err := whole.List(ctx, "")
	require.NoError(t, err)
	var total int
	for _, o := range all {
		if o.Key == "data/other/keep" {
			continue
		}
		require.True(t, strings.HasPrefix(o.Key, "data/repo/"), "left behind: %s", o.Key)
		total++
	}
	var want int
	for _, n := range rep.Original.KeyCounts {
		want += n
	}
	assert.Equal(t, want, total)

	// The repository at the root of a container cannot be compared.
	_, err = CompareURL(ctx, "az://"+container+"/", Args{GC: &GCArgs{OlderThan: future}}, Options{})
	assert.ErrorContains(t, err, "needs a repository under a prefix")
}

// TestCompareURLLocalForms: a plain path and a file:/// URL both work.
func TestCompareURLLocalForms(t *testing.T) {
	for _, form := range []func(string) string{
		func(p string) string { return p },
		func(p string) string { return "file://" + p },
	} {
		dir := fixtureDir(t, testfixtures.TestRepoV1)
		rep, err := CompareURL(context.Background(), form(dir), Args{GC: &GCArgs{OlderThan: future, DryRun: true}}, Options{})
		require.NoError(t, err)
		assert.True(t, rep.Passed(), rep.Text())
		assert.Equal(t, dir, rep.Original.Store)
	}
	_, err := CompareURL(context.Background(), "s3://bucket/x", Args{GC: &GCArgs{OlderThan: future}}, Options{})
	assert.ErrorIs(t, err, storeurl.ErrBadLocation)
}
