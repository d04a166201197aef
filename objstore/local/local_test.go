package local_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otiai10/copy"

	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/storetest"
)

func newStore(t testing.TB, clock objstore.Clock) objstore.Store {
	st, err := local.Open(t.TempDir(), clock)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestConformance(t *testing.T) {
	storetest.TestStore(t, newStore, storetest.Options{ManyObjects: 500})
}

func BenchmarkLocal(b *testing.B) { storetest.BenchmarkStore(b, newStore) }

// childEnv selects child mode for the cross-process test: the test binary
// re-executes itself with it set, and TestMain runs the child's work instead
// of the tests.
const childEnv = "ICERIG_LOCAL_STORE_CHILD"

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(m.Run())
}

// runChild waits for the parent to close stdin (the start signal), then
// races PutIfAbsent once and performs CAS increments, reporting on stdout.
// spec is "<dir>|<child id>|<increments>".
func runChild(spec string) int {
	parts := strings.Split(spec, "|")
	if len(parts) != 3 {
		fmt.Fprintf(os.Stderr, "bad %s=%q\n", childEnv, spec)
		return 2
	}
	dir, id := parts[0], parts[1]
	n, err := strconv.Atoi(parts[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	st, err := local.Open(dir, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	bufio.NewReader(os.Stdin).ReadString('\n') // blocks until the parent closes stdin
	ctx := context.Background()
	_, err = st.PutIfAbsent(ctx, "refs/tag.race/ref.json", []byte(id))
	switch {
	case err == nil:
		fmt.Println("created")
	case errors.Is(err, objstore.ErrPreconditionFailed):
		fmt.Println("lost")
	default:
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	retries := 0
	for i := 0; i < n; i++ {
		r, err := storetest.Increment(ctx, st, "counter")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		retries += r
	}
	fmt.Println("retries", retries)
	return 0
}

func TestCrossProcessConditionalWrites(t *testing.T) {
	const procs, increments = 4, 40
	dir := t.TempDir()
	type child struct {
		cmd *exec.Cmd
		out strings.Builder
		err strings.Builder
	}
	children := make([]*child, procs)
	var starts []func() error
	for i := range children {
		c := &child{cmd: exec.Command(os.Args[0], "-test.run=^$")}
		c.cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|child-%d|%d", childEnv, dir, i, increments))
		c.cmd.Stdout = &c.out
		c.cmd.Stderr = &c.err
		stdin, err := c.cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		starts = append(starts, stdin.Close)
		children[i] = c
	}
	// Release all children at once.
	for _, start := range starts {
		start()
	}
	created := 0
	for i, c := range children {
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\nstdout:\n%s\nstderr:\n%s", i, err, c.out.String(), c.err.String())
		}
		lines := strings.Split(strings.TrimSpace(c.out.String()), "\n")
		if len(lines) != 2 || (lines[0] != "created" && lines[0] != "lost") {
			t.Fatalf("child %d printed %q", i, c.out.String())
		}
		if lines[0] == "created" {
			created++
		}
		t.Logf("child %d: %s, %s", i, lines[0], lines[1])
	}
	if created != 1 {
		t.Fatalf("%d processes created the same key with PutIfAbsent, want exactly 1", created)
	}
	st, err := local.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _, err := st.Get(context.Background(), "counter")
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa(procs * increments); string(data) != want {
		t.Fatalf("counter = %s after %d processes x %d CAS increments, want %s", data, procs, increments, want)
	}
	winner, _, err := st.Get(context.Background(), "refs/tag.race/ref.json")
	if err != nil || !strings.HasPrefix(string(winner), "child-") {
		t.Fatalf("race key holds %q, %v", winner, err)
	}
	// No temporary or lock files are left behind by completed operations.
	assertNoScratchFiles(t, dir)
}

func assertNoScratchFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			t.Fatal(err)
		}
		if strings.ContainsRune(d.Name(), '\\') {
			t.Errorf("scratch file left behind: %s", p)
		}
		return nil
	})
}

func TestKeyLayoutOnDisk(t *testing.T) {
	dir := t.TempDir()
	st, err := local.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Put(ctx, "refs/tag.it works!/ref.json", []byte(`{"snapshot":"X"}`)); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "refs", "tag.it works!", "ref.json"))
	if err != nil {
		t.Fatalf("object is not stored at its path: %v", err)
	}
	if string(got) != `{"snapshot":"X"}` {
		t.Fatalf("file holds %q", got)
	}
	assertNoScratchFiles(t, dir)
	// Files written by other tools are objects too.
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("a: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, _, err := st.Get(ctx, "config.yaml")
	if err != nil || string(data) != "a: 1\n" {
		t.Fatalf("Get(config.yaml) = %q, %v", data, err)
	}
}

func TestScratchFilesAreInvisible(t *testing.T) {
	dir := t.TempDir()
	st, err := local.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Put(ctx, "refs/branch.main/ref.json", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// What a process killed mid-write leaves behind.
	for _, name := range []string{`.tmp\ref.json\123`, `.lock\ref.json`} {
		if err := os.WriteFile(filepath.Join(dir, "refs", "branch.main", name), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, `.tmp\dir`), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, `.tmp\dir`, "inside"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	infos, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Key != "refs/branch.main/ref.json" {
		t.Fatalf("List = %+v, want only refs/branch.main/ref.json", infos)
	}
	// A stale lock file left by a dead process does not block writers.
	v, err := st.PutIfAbsent(ctx, "refs/branch.dev/ref.json", []byte("y"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutIfVersionMatches(ctx, "refs/branch.main/ref.json", []byte("z"), v); !errors.Is(err, objstore.ErrPreconditionFailed) {
		t.Fatalf("foreign version accepted: %v", err)
	}
	_, mv, err := st.Get(ctx, "refs/branch.main/ref.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutIfVersionMatches(ctx, "refs/branch.main/ref.json", []byte("z"), mv); err != nil {
		t.Fatalf("update next to a stale lock file: %v", err)
	}
}

func TestCopyPreservesModTimes(t *testing.T) {
	clock := objstore.NewVirtualClock(time.Date(2020, 1, 2, 3, 4, 5, 600_000_000, time.UTC), time.Minute)
	src := t.TempDir()
	st, err := local.Open(src, clock)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, k := range []string{"chunks/A", "chunks/B", "snapshots/S", "refs/branch.main/ref.json"} {
		if _, err := st.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	want, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if err := copy.Copy(src, dst, copy.Options{PreserveTimes: true}); err != nil {
		t.Fatal(err)
	}
	cp, err := local.Open(dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cp.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("copy lists %d objects, original %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Key != want[i].Key || got[i].Size != want[i].Size || !got[i].ModTime.Equal(want[i].ModTime) {
			t.Errorf("copy: %+v, original: %+v", got[i], want[i])
		}
		if want[i].ModTime.Year() != 2020 {
			t.Errorf("%s: ModTime %v does not come from the virtual clock", want[i].Key, want[i].ModTime)
		}
	}
}

func TestObjectAndDirectoryConflict(t *testing.T) {
	st := newStore(t, nil)
	ctx := context.Background()
	if _, err := st.Put(ctx, "a/b", []byte("x")); err != nil {
		t.Fatal(err)
	}
	for _, op := range []struct {
		name string
		f    func() error
	}{
		{"Put", func() error { _, err := st.Put(ctx, "a", []byte("y")); return err }},
		{"PutIfAbsent", func() error { _, err := st.PutIfAbsent(ctx, "a", []byte("y")); return err }},
		{"Put under an object", func() error { _, err := st.Put(ctx, "a/b/c", []byte("y")); return err }},
	} {
		err := op.f()
		if err == nil {
			t.Errorf("%s: writing an object where a directory of objects is (or under an object) succeeded", op.name)
			continue
		}
		if errors.Is(err, objstore.ErrPreconditionFailed) {
			t.Errorf("%s: error %v looks like a lost race", op.name, err)
		}
		if !strings.Contains(err.Error(), `"a`) {
			t.Errorf("%s: error %v does not name the key", op.name, err)
		}
	}
	data, _, err := st.Get(ctx, "a/b")
	if err != nil || string(data) != "x" {
		t.Fatalf("a/b = %q, %v after the failed writes", data, err)
	}
}

func TestOpenRejectsFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Open(f, nil); err == nil || !strings.Contains(err.Error(), f) {
		t.Fatalf("Open(file) error = %v, want an error naming %s", err, f)
	}
	sub := filepath.Join(t.TempDir(), "new", "nested")
	st, err := local.Open(sub, nil)
	if err != nil {
		t.Fatalf("Open of a missing directory: %v", err)
	}
	if st.Dir() != sub {
		t.Fatalf("Dir() = %q, want %q", st.Dir(), sub)
	}
}

// FuzzKeyRoundTrip checks that every valid key is stored inside the root and
// listed back exactly, whatever bytes it holds.
func FuzzKeyRoundTrip(f *testing.F) {
	for _, k := range []string{"refs/tag.it works!/ref.json", "a", "..a/b..", ".tmp-x/.lock-y", "a b/ c /d\n", "ü/🧊", "x/ref.json.deleted", "%2F/%00"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if objstore.ValidateKey(key) != nil {
			return
		}
		for _, seg := range strings.Split(key, "/") {
			if len(seg) > 200 {
				return // beyond file-name length limits
			}
		}
		parent := t.TempDir()
		root := filepath.Join(parent, "root")
		st, err := local.Open(root, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if _, err := st.Put(ctx, key, []byte(key)); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
		infos, err := st.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 1 || infos[0].Key != key {
			t.Fatalf("Put(%q) lists as %+v", key, infos)
		}
		got, _, err := st.Get(ctx, key)
		if err != nil || string(got) != key {
			t.Fatalf("Get(%q) = %q, %v", key, got, err)
		}
		entries, err := os.ReadDir(parent)
		if err != nil || len(entries) != 1 {
			t.Fatalf("the store wrote outside its root: %v %v", entries, err)
		}
		if err := st.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if infos, _ := st.List(ctx, ""); len(infos) != 0 {
			t.Fatalf("after Delete(%q): %+v", key, infos)
		}
	})
}
