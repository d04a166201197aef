package azurite_test

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/icerig/icerig/internal/azurite"
	"github.com/icerig/icerig/objstore/azure"
)

func TestMain(m *testing.M) { os.Exit(azurite.Main(m)) }

var containerRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9])*$`)

func TestContainerName(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range []string{
		"TestX", "TestConformance/RacePutIfAbsent", strings.Repeat("VeryLong_Name/", 20), "", "---", "Ünïcode/名前",
	} {
		for i := 0; i < 3; i++ {
			c := azurite.ContainerName(name)
			if len(c) < 3 || len(c) > 63 || !containerRE.MatchString(c) {
				t.Errorf("ContainerName(%q) = %q is not a valid container name", name, c)
			}
			if seen[c] {
				t.Errorf("ContainerName(%q) repeated %q", name, c)
			}
			seen[c] = true
		}
	}
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestStartStop(t *testing.T) {
	t.Setenv(azurite.EndpointEnv, "")
	ctx := context.Background()
	srv, err := azurite.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(srv.Endpoint())
	if err != nil || u.Hostname() != "127.0.0.1" || u.Path != "/"+azurite.AccountName {
		t.Fatalf("Endpoint() = %q", srv.Endpoint())
	}
	if !strings.Contains(srv.ConnectionString(), "BlobEndpoint="+srv.Endpoint()+";") {
		t.Errorf("ConnectionString() = %q lacks the explicit BlobEndpoint", srv.ConnectionString())
	}
	// The emulator answers real requests.
	st, err := azure.Open(ctx, srv.ConnectionString(), azurite.ContainerName(t.Name()), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}

	// An external endpoint is used as is and never stopped.
	t.Setenv(azurite.EndpointEnv, srv.Endpoint())
	ext, err := azurite.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ext.Endpoint() != srv.Endpoint() {
		t.Errorf("with %s set, Endpoint() = %q, want %q", azurite.EndpointEnv, ext.Endpoint(), srv.Endpoint())
	}
	if err := ext.Stop(); err != nil {
		t.Fatal(err)
	}
	if !listening(u.Host) {
		t.Fatal("stopping the external-endpoint server killed the emulator")
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if listening(u.Host) {
		t.Fatal("emulator still listening after Stop")
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	// With the variable pointing at a dead emulator, Start says so.
	if _, err := azurite.Start(ctx); err == nil || !strings.Contains(err.Error(), azurite.EndpointEnv) {
		t.Fatalf("Start with a dead %s: error = %v", azurite.EndpointEnv, err)
	}
}

func TestMissingAzuriteSaysNpmCi(t *testing.T) {
	t.Setenv(azurite.EndpointEnv, "")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	_, err := azurite.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "npm ci") || !strings.Contains(err.Error(), dir) {
		t.Fatalf("Start without node_modules: error = %v, want advice to run npm ci in %s", err, dir)
	}
}

func TestSharedContainer(t *testing.T) {
	srv := azurite.Shared(t)
	if again := azurite.Shared(t); again != srv {
		t.Fatal("Shared started a second emulator")
	}
	name := srv.Container(t)
	ctx := context.Background()
	st, err := azure.Open(ctx, srv.ConnectionString(), name, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "x", nil); err != nil {
		t.Fatal(err)
	}
}
