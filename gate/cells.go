package gate

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/fixtures"
	"github.com/icerig/icerig/internal/testfixtures"
	"github.com/icerig/icerig/internal/transitions"
)

// StreamReader is the actor the production streamer runs on: the stream
// cells of spec-1 repositories are required for it.
const StreamReader = "v2"

// UpstreamRepos are the upstream Icechunk repositories the gate requires
// in Config.UpstreamDir.
var UpstreamRepos = []string{
	testfixtures.TestRepoV1,
	testfixtures.SplitRepoV1,
	testfixtures.TestRepoV2,
	testfixtures.TestRepoV2Migrated,
}

// RequiredCells computes the transition cells a release must exercise from
// the actors' capabilities. For every writer w, every spec s that w writes
// (w.Capabilities().Specs) and every reader r:
//
//   - if r reads s: (w, r, op, s) for op in read, commit, conflict, crash,
//     branch, tag, expire and gc, and (w, r, amend, 2) when s is 2 and r
//     has Amend;
//   - if r cannot read s: (w, r, refuse, s);
//   - if s is 1: (w, r, upgrade, 1) for every r with Upgrade, and
//     (w, StreamReader, stream, 1), because the production streamer runs on
//     the v2 library (required only when an actor named StreamReader is
//     among acts).
//
// The result is sorted like transitions.Set.Entries.
func RequiredCells(acts []actors.Actor) []transitions.Cell {
	req := transitions.New()
	hasStreamer := false
	for _, a := range acts {
		hasStreamer = hasStreamer || a.Name() == StreamReader
	}
	for _, w := range acts {
		for _, s := range w.Capabilities().Specs {
			for _, r := range acts {
				rc := r.Capabilities()
				add := func(op string) {
					req.Add(transitions.Cell{Writer: w.Name(), Reader: r.Name(), Op: op, Spec: s})
				}
				if rc.Reads(s) {
					for _, op := range []string{transitions.OpRead, transitions.OpCommit, transitions.OpConflict, transitions.OpCrash, transitions.OpBranch,
						transitions.OpTag, transitions.OpExpire, transitions.OpGC} {
						add(op)
					}
					if s == 2 && rc.Amend {
						add(transitions.OpAmend)
					}
				} else {
					add(transitions.OpRefuse)
				}
				if s == 1 && rc.Upgrade {
					add(transitions.OpUpgrade)
				}
			}
			if s == 1 && hasStreamer {
				req.Add(transitions.Cell{Writer: w.Name(), Reader: StreamReader, Op: transitions.OpStream, Spec: 1})
			}
		}
	}
	var out []transitions.Cell
	for _, e := range req.Entries() {
		out = append(out, e.Cell)
	}
	return out
}

// MissingCells returns the cells of required that got never exercised in
// got, in the order of required.
func MissingCells(required []transitions.Cell, got *transitions.Set) []transitions.Cell {
	var out []transitions.Cell
	for _, c := range required {
		if got.Count(c) == 0 {
			out = append(out, c)
		}
	}
	return out
}

// missingActors names the required actors absent from acts.
func missingActors(acts []actors.Actor, required []string) []string {
	var out []string
	for _, name := range required {
		if !slices.ContainsFunc(acts, func(a actors.Actor) bool { return a.Name() == name }) {
			out = append(out, name)
		}
	}
	return out
}

// missingUpstream names the required upstream repositories that are not
// directories in dir.
func missingUpstream(dir string, repos []string) []string {
	if dir == "" {
		return []string{fmt.Sprintf("upstream fixtures: no directory given (%s or $%s)",
			filepath.Join("..", "shared", "icechunk-fixtures"), testfixtures.Env)}
	}
	var out []string
	for _, name := range repos {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			out = append(out, fmt.Sprintf("upstream fixture %s: no directory %s (provide the Icechunk fixtures there or point $%s at them)",
				name, p, testfixtures.Env))
		}
	}
	return out
}

// OurFixture is one golden repository of ours:
// <FixturesDir>/<Version>/<Name>/repo, with expected.json beside repo/.
type OurFixture struct {
	// Version is the release that wrote the fixture set (the directory
	// name).
	Version string
	// Name is the fixture's name.
	Name string
	// Dir is <FixturesDir>/<Version>/<Name>.
	Dir string
}

// Repo is the repository directory of the fixture.
func (f OurFixture) Repo() string { return filepath.Join(f.Dir, fixtures.RepoDir) }

// Expected is the expected-facts file beside the repository.
func (f OurFixture) Expected() string { return filepath.Join(f.Dir, fixtures.ExpectedFile) }

// OurFixtures lists the fixture repositories under dir, sorted by version
// and name.
func OurFixtures(dir string) ([]OurFixture, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*", "*", fixtures.RepoDir))
	if err != nil {
		return nil, fmt.Errorf("fixtures %s: %w", dir, err)
	}
	var out []OurFixture
	for _, m := range matches {
		if fi, err := os.Stat(m); err != nil || !fi.IsDir() {
			continue
		}
		d := filepath.Dir(m)
		out = append(out, OurFixture{Version: filepath.Base(filepath.Dir(d)), Name: filepath.Base(d), Dir: d})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Version != out[j].Version {
			return out[i].Version < out[j].Version
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// missingOurs reports a fixtures directory that holds no fixture set.
func missingOurs(dir string) []string {
	if dir == "" {
		return []string{"golden fixtures: no directory given (fixtures/repos)"}
	}
	fx, err := OurFixtures(dir)
	if err != nil {
		return []string{err.Error()}
	}
	if len(fx) == 0 {
		return []string{fmt.Sprintf("golden fixtures: %s holds no fixture set (want %s; save one with 'icerig fixtures save')",
			dir, filepath.Join(dir, "<version>", "<name>", "repo"))}
	}
	return nil
}
