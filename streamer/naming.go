package streamer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/icerig/icerig/objstore"
)

// nameTimeLayout is the time in a repository name: 2024-06-01t00-00-00z.
const nameTimeLayout = "2006-01-02t15-04-05z"

// RepoRef locates one repository of the target store.
type RepoRef struct {
	// Name is the repository's directory name,
	// inst-<instrument>-prj-<project>-<YYYY-MM-DDtHH-mm-SSz>l1b.
	Name string
	// Path is its directory in the target store:
	// <instrument>/<project>/<Name>.
	Path string
	// Start is the time in the name (UTC, whole seconds): the repository
	// holds data after it, up to Start + days_per_file.
	Start time.Time
}

// RepoName is the directory name of the repository of instrument and
// project that starts at start (truncated to the second, in UTC).
func RepoName(instrument, project string, start time.Time) string {
	return "inst-" + instrument + "-prj-" + project + "-" + start.UTC().Truncate(time.Second).Format(nameTimeLayout) + "l1b"
}

// NewRepoRef returns the reference of the repository starting at start.
func NewRepoRef(instrument, project string, start time.Time) RepoRef {
	name := RepoName(instrument, project, start)
	return RepoRef{Name: name, Path: instrument + "/" + project + "/" + name, Start: start.UTC().Truncate(time.Second)}
}

// ParseRepoName parses a directory name written by RepoName for instrument
// and project; ok is false for any other name (other instruments, other
// projects, malformed or impossible times).
func ParseRepoName(instrument, project, name string) (start time.Time, ok bool) {
	rest, ok := strings.CutPrefix(name, "inst-"+instrument+"-prj-"+project+"-")
	if !ok {
		return time.Time{}, false
	}
	ts, ok := strings.CutSuffix(rest, "l1b")
	if !ok || len(ts) != len(nameTimeLayout) {
		return time.Time{}, false
	}
	t, err := time.Parse(nameTimeLayout, ts)
	if err != nil || t.Format(nameTimeLayout) != ts {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// Discover lists the repositories of instrument and project in the target
// store, oldest first (by the time in their names). Directory names that do
// not match the naming scheme are ignored. It uses a delimiter listing when
// target implements DirLister and lists every object under
// <instrument>/<project>/ otherwise.
func Discover(ctx context.Context, target objstore.Store, instrument, project string) ([]RepoRef, error) {
	base := instrument + "/" + project + "/"
	var dirs []string
	listed := false
	if dl, ok := target.(DirLister); ok {
		d, err := dl.ListDirs(ctx, base)
		switch {
		case err == nil:
			dirs, listed = d, true
		case !errors.Is(err, errors.ErrUnsupported):
			return nil, fmt.Errorf("discover repositories under %s in %s: %w", base, target, err)
		}
	}
	if !listed {
		infos, err := target.List(ctx, base)
		if err != nil {
			return nil, fmt.Errorf("discover repositories under %s in %s: %w", base, target, classify(err))
		}
		seen := map[string]bool{}
		for _, in := range infos {
			rest := strings.TrimPrefix(in.Key, base)
			dir, _, found := strings.Cut(rest, "/")
			if found && !seen[dir] {
				seen[dir] = true
				dirs = append(dirs, dir)
			}
		}
	}
	var out []RepoRef
	for _, d := range dirs {
		start, ok := ParseRepoName(instrument, project, d)
		if !ok {
			continue
		}
		out = append(out, RepoRef{Name: d, Path: base + d, Start: start})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out, nil
}
