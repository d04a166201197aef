package statemachine

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/faults"
)

// Planted cross-version bugs: one library version misbehaving on a
// repository the other one also works on. Each is a test-only wrapper
// (nothing here is registered, nothing reaches the libraries), run in the
// CrossVersion configuration by TestPlantedCrossVersionBugsAreCaught, and
// selectable for the CrossVersion tests themselves with -plant:
//
//	go test -run CrossVersion ./statemachine -plant=v2-spec-byte-2
//
// must fail and print a short trace.

// plant replaces the actor of the same base in the CrossVersion tests'
// actor list with a planted bug.
var plant = flag.String("plant", "", "run the CrossVersion tests with this planted cross-version bug in place of its library version (see planted_cross_test.go)")

// specByteOffset is where a metadata file's header holds its spec
// version: after the 12-byte magic and the 24-byte implementation name.
const specByteOffset = 36

// stampingStore rewrites the spec byte of the snapshot files a library
// writes: the bug "spec 2 stamped into a spec-1 snapshot".
type stampingStore struct{ objstore.Store }

func (s *stampingStore) stamp(key string, data []byte) []byte {
	if !strings.HasPrefix(key, "snapshots/") || len(data) <= specByteOffset || data[specByteOffset] != 1 {
		return data
	}
	out := append([]byte(nil), data...)
	out[specByteOffset] = 2
	return out
}

func (s *stampingStore) Put(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	return s.Store.Put(ctx, key, s.stamp(key, data))
}

func (s *stampingStore) PutIfAbsent(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	return s.Store.PutIfAbsent(ctx, key, s.stamp(key, data))
}

func (s *stampingStore) PutIfVersionMatches(ctx context.Context, key string, data []byte, v objstore.Version) (objstore.Version, error) {
	return s.Store.PutIfVersionMatches(ctx, key, s.stamp(key, data), v)
}

// expireWithMainProtection is spec-1 expiration with the spec-2 rule
// misapplied: main's tip, and the branches sharing it, count as protected,
// so main's expired tip is not reported released and those branches are
// not deleted.
func expireWithMainProtection(h actors.Handle, ctx context.Context, olderThan time.Time, delBranches, delTags bool) (actors.ExpireResult, error) {
	if h.SpecVersion() != 1 {
		return h.ExpireSnapshots(ctx, olderThan, delBranches, delTags)
	}
	before, err := h.Branches(ctx)
	if err != nil {
		return actors.ExpireResult{}, err
	}
	mainTip := before[actors.MainBranch.Name]
	res, err := h.ExpireSnapshots(ctx, olderThan, delBranches, delTags)
	if err != nil {
		return res, err
	}
	deleted := []string{}
	for _, name := range res.DeletedBranches {
		if before[name] == mainTip {
			if err := h.CreateBranch(ctx, name, mainTip); err != nil {
				return res, fmt.Errorf("planted: %w", err)
			}
			continue
		}
		deleted = append(deleted, name)
	}
	res.DeletedBranches = deleted
	shared := false
	for name, tip := range before {
		shared = shared || (name != actors.MainBranch.Name && tip == mainTip)
	}
	if shared {
		released := []string{}
		for _, id := range res.ReleasedSnapshots {
			if id != mainTip {
				released = append(released, id)
			}
		}
		res.ReleasedSnapshots = released
	}
	return res, nil
}

// plantedCross are the cross-version bugs. Each runs with the other
// library version, on spec-1 repositories; weights make the actions the
// bug needs a little more likely, as TestCrossVersionUpgrade does.
var plantedCross = []struct {
	plantedBug
	weights map[string]int
}{
	{plantedBug: plantedBug{
		// formatv2 stamps spec byte 2 into the snapshots it writes to a
		// spec-1 repository: formatv1 refuses to read them.
		actor: &buggyActor{name: "v2-spec-byte-2", base: actors.V2{}, wrap: func(st objstore.Store, _ *atomic.Bool) objstore.Store {
			return &stampingStore{Store: st}
		}},
		maxOps: 6, mentions: "ancestry", blames: "v1",
	}},
	{plantedBug: plantedBug{
		// formatv2 ignores the tombstones formatv1 leaves on deleted tags.
		actor: &buggyActor{name: "v2-ignores-tombstones", base: actors.V2{}, wrap: func(st objstore.Store, _ *atomic.Bool) objstore.Store {
			return faults.Hide(st, func(k string) bool { return strings.HasSuffix(k, "/ref.json.deleted") })
		}},
		maxOps: 6, mentions: "tags",
	}},
	{plantedBug: plantedBug{
		// formatv2 expires a spec-1 repository with the spec-2 rule for
		// branches sharing main's tip.
		actor:  &buggyActor{name: "v2-expire-spec2-rule", base: actors.V2{}, expire: expireWithMainProtection},
		maxOps: 10, mentions: "expire",
	}},
	{plantedBug: plantedBug{
		// formatv1 overlooks the spec-2 repo object and opens a migrated
		// repository through the refs/ it kept.
		actor: &buggyActor{name: "v1-ignores-repo-object", base: actors.V1{}, wrap: func(st objstore.Store, _ *atomic.Bool) objstore.Store {
			return faults.Hide(st, func(k string) bool { return k == "repo" })
		}},
		maxOps: 4, mentions: "open",
	}, weights: map[string]int{ActUpgrade: 4}},
	{plantedBug: plantedBug{
		// formatv2's GC on a spec-1 repository forgets the tags (formatv1
		// created them): chunks only a tag reaches are deleted.
		actor: &buggyActor{name: "v2-gc-ignores-tags", base: actors.V2{}, wrap: func(st objstore.Store, inGC *atomic.Bool) objstore.Store {
			return faults.Hide(st, func(k string) bool { return inGC.Load() && strings.HasPrefix(k, "refs/tag.") })
		}},
		maxOps: 12, mentions: "gc",
	}},
}

// crossActors returns the registered actors, with the bug -plant names in
// place of its library version.
func crossActors(t testing.TB) []actors.Actor {
	t.Helper()
	all := actors.Registered()
	if *plant == "" {
		return all
	}
	for _, p := range plantedCross {
		if p.actor.name != *plant {
			continue
		}
		for i, a := range all {
			if a.Name() == p.actor.baseActor().Name() {
				all[i] = p.actor
			}
		}
		t.Logf("planted bug %s in place of %s", p.actor.name, p.actor.baseActor().Name())
		return all
	}
	var names []string
	for _, p := range plantedCross {
		names = append(names, p.actor.name)
	}
	t.Fatalf("-plant=%s: no such planted bug (have %s)", *plant, strings.Join(names, ", "))
	return nil
}

// TestPlantedCrossVersionBugsAreCaught runs the CrossVersion machine (both
// library versions on a spec-1 repository, switching) with each planted
// cross-version bug at the package's default budget, and requires a
// failure with a short, replayable trace that the real libraries pass.
func TestPlantedCrossVersionBugsAreCaught(t *testing.T) {
	plantedFlags(t, "100", fmt.Sprint(defaultSteps))
	for _, p := range plantedCross {
		t.Run(p.actor.name, func(t *testing.T) {
			var acts []actors.Actor
			for _, a := range actors.Registered() {
				if a.Name() == p.actor.baseActor().Name() {
					a = p.actor
				}
				acts = append(acts, a)
			}
			requireCaught(t, p.plantedBug, Config{Actors: acts, Specs: []int{1}, Weights: p.weights})
		})
	}
}
