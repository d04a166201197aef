package formatv2

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/icerig/icerig/objstore"
)

func TestValidateRefName(t *testing.T) {
	for _, ok := range []string{"main", "my-branch", "it works!", "it also works!", "v1.0", "a.b", "ünïcode", "x y"} {
		if err := ValidateRefName(ok); err != nil {
			t.Errorf("ValidateRefName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a/b", "/", "..", "a..b", "tab\there", "nl\n", "nul\x00", "del\x7f", `back\slash`} {
		if err := ValidateRefName(bad); !errors.Is(err, ErrInvalidRefName) {
			t.Errorf("ValidateRefName(%q) = %v, want ErrInvalidRefName", bad, err)
		}
	}
	ctx := context.Background()
	r, _, _ := newMemRepo(t, nil)
	tip, err := r.LookupBranch(ctx, "main")
	noErr(t, err)
	mustErrIs(t, r.CreateBranch(ctx, "a/b", tip), ErrInvalidRefName)
	mustErrIs(t, r.CreateTag(ctx, "../x", tip), ErrInvalidRefName)
	_, err = r.LookupTag(ctx, "")
	mustErrIs(t, err, ErrInvalidRefName)
	_, err = r.LookupBranch(ctx, "x/y")
	mustErrIs(t, err, ErrInvalidRefName)
	mustErrIs(t, r.DeleteTag(ctx, "a/b"), ErrInvalidRefName)
	mustErrIs(t, r.DeleteBranch(ctx, "a/b"), ErrInvalidRefName)
	noErr(t, r.CreateTag(ctx, "it works!", tip))
}

func TestBranches(t *testing.T) {
	ctx := context.Background()
	r, st, _ := newMemRepo(t, nil)
	initial, err := r.LookupBranch(ctx, "main")
	noErr(t, err)
	w, err := r.WritableSession(ctx, "main")
	noErr(t, err)
	noErr(t, w.Set(ctx, "zarr.json", groupDoc))
	second, err := w.Commit(ctx, "root", nil)
	noErr(t, err)

	noErr(t, r.CreateBranch(ctx, "dev", initial))
	mustErrIs(t, r.CreateBranch(ctx, "dev", second), ErrBranchExists)
	mustErrIs(t, r.CreateBranch(ctx, "main", second), ErrBranchExists)
	err = r.CreateBranch(ctx, "ghost", ObjectID{9})
	if !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("branch on a missing snapshot: %v", err)
	}
	data, _, err := st.Get(ctx, "refs/branch.dev/ref.json")
	noErr(t, err)
	if string(data) != `{"snapshot":"`+initial.String()+`"}` {
		t.Fatalf("ref.json = %q", data)
	}
	branches, err := r.ListBranches(ctx)
	noErr(t, err)
	if len(branches) != 2 || branches["main"] != second || branches["dev"] != initial {
		t.Fatalf("branches = %v", branches)
	}

	noErr(t, r.ResetBranch(ctx, "dev", second))
	if got, _ := r.LookupBranch(ctx, "dev"); got != second {
		t.Fatal("reset did not move dev")
	}
	mustErrIs(t, r.ResetBranch(ctx, "nope", second), ErrRefNotFound)

	mustErrIs(t, r.DeleteBranch(ctx, "main"), ErrCannotDeleteMain)
	noErr(t, r.DeleteBranch(ctx, "dev"))
	mustErrIs(t, r.DeleteBranch(ctx, "dev"), ErrRefNotFound)
	_, err = r.LookupBranch(ctx, "dev")
	mustErrIs(t, err, ErrRefNotFound)
	// A deleted branch name can be reused (unlike tags).
	noErr(t, r.CreateBranch(ctx, "dev", second))
}

func TestTags(t *testing.T) {
	ctx := context.Background()
	r, st, _ := newMemRepo(t, nil)
	tip, err := r.LookupBranch(ctx, "main")
	noErr(t, err)
	noErr(t, r.CreateTag(ctx, "v1", tip))
	mustErrIs(t, r.CreateTag(ctx, "v1", tip), ErrTagExists)
	got, err := r.LookupTag(ctx, "v1")
	if err != nil || got != tip {
		t.Fatalf("LookupTag = %s, %v", got, err)
	}
	noErr(t, r.DeleteTag(ctx, "v1"))
	_, err = r.LookupTag(ctx, "v1")
	mustErrIs(t, err, ErrRefNotFound)
	mustErrIs(t, r.DeleteTag(ctx, "v1"), ErrRefNotFound)
	mustErrIs(t, r.DeleteTag(ctx, "never"), ErrRefNotFound)
	// A deleted tag name is never reused.
	mustErrIs(t, r.CreateTag(ctx, "v1", tip), ErrTagExists)

	// Upstream 1.x layout: ref.json stays, an empty tombstone beside it.
	data, _, err := st.Get(ctx, "refs/tag.v1/ref.json")
	noErr(t, err)
	if string(data) != `{"snapshot":"`+tip.String()+`"}` {
		t.Fatalf("tag ref.json = %q", data)
	}
	tomb, _, err := st.Get(ctx, "refs/tag.v1/ref.json.deleted")
	noErr(t, err)
	if len(tomb) != 0 {
		t.Fatalf("tombstone holds %q, want nothing", tomb)
	}
	tags, err := r.ListTags(ctx)
	noErr(t, err)
	if len(tags) != 0 {
		t.Fatalf("deleted tag listed: %v", tags)
	}
	deleted, err := r.ListDeletedTags(ctx)
	noErr(t, err)
	if !slices.Equal(deleted, []string{"v1"}) {
		t.Fatalf("deleted tags = %v", deleted)
	}
	// A tombstone left by another client blocks creation too.
	_, err = st.Put(ctx, "refs/tag.v2/ref.json.deleted", nil)
	noErr(t, err)
	mustErrIs(t, r.CreateTag(ctx, "v2", tip), ErrTagExists)
}

func TestCorruptRefIsReported(t *testing.T) {
	ctx := context.Background()
	r, st, _ := newMemRepo(t, nil)
	for _, content := range []string{"", "{", `{"snapshot":1}`, `{"other":"x"}`, `{"snapshot":"SHORT"}`, `[]`} {
		_, err := st.Put(ctx, "refs/branch.bad/ref.json", []byte(content))
		noErr(t, err)
		_, err = r.LookupBranch(ctx, "bad")
		mustErrIs(t, err, ErrCorrupt)
		if err != nil && !strings.Contains(err.Error(), "refs/branch.bad/ref.json") {
			t.Fatalf("error %q does not name the ref file", err)
		}
		_, err = r.ListBranches(ctx)
		mustErrIs(t, err, ErrCorrupt)
	}
}

func TestUpdateBranchCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	r, _, _ := newMemRepo(t, nil)
	initial, err := r.LookupBranch(ctx, "main")
	noErr(t, err)
	w, err := r.WritableSession(ctx, "main")
	noErr(t, err)
	noErr(t, w.Set(ctx, "zarr.json", groupDoc))
	second, err := w.Commit(ctx, "root", nil)
	noErr(t, err)

	mustErrIs(t, r.updateBranch(ctx, "main", initial, initial), ErrConflict)
	mustErrIs(t, r.updateBranch(ctx, "gone", initial, second), ErrConflict)
	noErr(t, r.updateBranch(ctx, "main", second, initial))
	if tip, _ := r.LookupBranch(ctx, "main"); tip != initial {
		t.Fatal("CAS did not move main")
	}

	// Many racers from the same expected tip, each to its own new tip:
	// exactly one wins and the branch ends at its target.
	noErr(t, r.CreateBranch(ctx, "race", initial))
	var wg sync.WaitGroup
	results := make([]error, 16)
	for i := range results {
		wg.Go(func() {
			results[i] = r.updateBranch(ctx, "race", initial, ObjectID{byte(i + 1)})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range results {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("racers %d and %d both won", winner, i)
			}
			winner = i
		case !errors.Is(err, ErrConflict):
			t.Fatalf("racer failed with %v", err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer won")
	}
	if tip, _ := r.LookupBranch(ctx, "race"); tip != (ObjectID{byte(winner + 1)}) {
		t.Fatalf("race at %s, winner wrote %v", tip, ObjectID{byte(winner + 1)})
	}
}
