package storeurl_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/icerig/icerig/internal/azurite"
	"github.com/icerig/icerig/objstore/storeurl"
)

func TestMain(m *testing.M) { os.Exit(azurite.Main(m)) }

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		want storeurl.Location
	}{
		{"./data", storeurl.Location{Kind: storeurl.Local, Path: "data"}},
		{"data/", storeurl.Location{Kind: storeurl.Local, Path: "data"}},
		{"/srv/repos/x", storeurl.Location{Kind: storeurl.Local, Path: "/srv/repos/x"}},
		{"/tmp/with space!/repo", storeurl.Location{Kind: storeurl.Local, Path: "/tmp/with space!/repo"}},
		{"file:///abs/path", storeurl.Location{Kind: storeurl.Local, Path: "/abs/path"}},
		{"file:///abs/with%20space/", storeurl.Location{Kind: storeurl.Local, Path: "/abs/with space"}},
		{"file://localhost/abs", storeurl.Location{Kind: storeurl.Local, Path: "/abs"}},
		{"az://mycontainer/inst/proj/repo-1", storeurl.Location{Kind: storeurl.Azure, Container: "mycontainer", Prefix: "inst/proj/repo-1"}},
		{"az://mycontainer/inst/", storeurl.Location{Kind: storeurl.Azure, Container: "mycontainer", Prefix: "inst"}},
		{"az://mycontainer", storeurl.Location{Kind: storeurl.Azure, Container: "mycontainer"}},
		{"az://my-container/", storeurl.Location{Kind: storeurl.Azure, Container: "my-container"}},
		// No "://": a relative path that happens to contain a colon.
		{"file:relative", storeurl.Location{Kind: storeurl.Local, Path: "file:relative"}},
	} {
		got, err := storeurl.Parse(tc.raw)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.raw, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.raw, got, tc.want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, raw := range []string{
		"",
		"s3://bucket/x",
		"file://host/abs",
		"file:///abs?query=1",
		"az://",
		"az:///prefix",
		"az://UPPER/x",
		"az://ab/x",
		"az://a--b/x",
		"az://-abc/x",
		"az://container/a//b",
		"az://container/a/../b",
	} {
		loc, err := storeurl.Parse(raw)
		if err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", raw, loc)
			continue
		}
		if !errors.Is(err, storeurl.ErrBadLocation) {
			t.Errorf("Parse(%q) error %v is not ErrBadLocation", raw, err)
		}
		if raw != "" && !strings.Contains(err.Error(), raw) {
			t.Errorf("Parse(%q) error %v does not quote the argument", raw, err)
		}
	}
}

func TestLocationStringRoundTrips(t *testing.T) {
	for _, raw := range []string{"/srv/x", "az://c0ntainer/a/b", "az://abc/"} {
		loc, err := storeurl.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		again, err := storeurl.Parse(loc.String())
		if err != nil || again != loc {
			t.Errorf("Parse(%q).String() = %q parses to %+v, %v", raw, loc.String(), again, err)
		}
	}
}

func TestOpenLocal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new repo")
	ctx := context.Background()
	for _, raw := range []string{dir, "file://" + filepath.ToSlash(dir)} {
		st, err := storeurl.Open(ctx, raw, nil)
		if err != nil {
			t.Fatalf("Open(%q): %v", raw, err)
		}
		if _, err := st.Put(ctx, "k", []byte(raw)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "k"))
		if err != nil || string(got) != raw {
			t.Fatalf("store from %q wrote %q, %v into %s", raw, got, err, dir)
		}
	}
}

func TestOpenAzure(t *testing.T) {
	ctx := context.Background()
	t.Setenv(storeurl.ConnectionStringEnv, "")
	_, err := storeurl.Open(ctx, "az://somecontainer/p", nil)
	if err == nil || !strings.Contains(err.Error(), storeurl.ConnectionStringEnv) {
		t.Fatalf("Open(az://...) without credentials: error = %v, want one naming %s", err, storeurl.ConnectionStringEnv)
	}
	srv := azurite.Shared(t)
	t.Setenv(storeurl.ConnectionStringEnv, srv.ConnectionString())
	name := srv.Container(t)
	st, err := storeurl.Open(ctx, "az://"+name+"/inst/proj", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "refs/branch.main/ref.json", []byte("x")); err != nil {
		t.Fatal(err)
	}
	root, err := storeurl.Open(ctx, "az://"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	infos, err := root.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Key != "inst/proj/refs/branch.main/ref.json" {
		t.Fatalf("container holds %+v, want inst/proj/refs/branch.main/ref.json", infos)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"./data", "/abs/x", "file:///abs/p%20q", "file://host/x", "az://c0ntainer/a/b", "az://x", "s3://b/k", "az://abc/a//b", "file:rel", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		loc, err := storeurl.Parse(raw)
		if err != nil {
			if !errors.Is(err, storeurl.ErrBadLocation) {
				t.Fatalf("Parse(%q) error %v is not ErrBadLocation", raw, err)
			}
			return
		}
		again, err := storeurl.Parse(loc.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, whose String %q does not parse: %v", raw, loc, loc.String(), err)
		}
		if again != loc {
			t.Fatalf("Parse(%q) = %+v, but its String %q parses to %+v", raw, loc, loc.String(), again)
		}
	})
}
