// Package azurite runs the Azurite Azure Blob emulator for tests.
//
// If AZURITE_BLOB_ENDPOINT is set (for example
// http://127.0.0.1:10000/devstoreaccount1) the tests use that emulator.
// Otherwise Start launches <module root>/node_modules/.bin/azurite-blob on
// 127.0.0.1 on a free port, with telemetry disabled and a temporary data
// directory, and Stop kills it. Install it with `npm ci` in the module root.
//
// A test package that needs Azure declares
//
//	func TestMain(m *testing.M) { os.Exit(azurite.Main(m)) }
//
// and calls Shared(t) in its tests: the first call starts one emulator for
// the whole test binary, and Main stops it when the tests are done.
// Server.Container gives every test its own container.
package azurite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/icerig/icerig/internal/modroot"
)

// EndpointEnv names the environment variable that points the tests at an
// already running emulator instead of starting one.
const EndpointEnv = "AZURITE_BLOB_ENDPOINT"

// AccountName and AccountKey are Azurite's published, well-known
// development account. They grant access to nothing but local emulators.
const (
	AccountName = "devstoreaccount1"
	AccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// startTimeout bounds how long Start waits for a launched emulator to
// listen; externalTimeout how long it waits for an external one.
const (
	startTimeout    = 60 * time.Second
	externalTimeout = 2 * time.Second
)

// Server is a running (or external) Azurite blob service.
type Server struct {
	endpoint string

	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	dir  string
	logs *tailBuffer

	stopOnce sync.Once
	stopErr  error
}

// Endpoint returns the blob service URL, including the account path
// (http://127.0.0.1:<port>/devstoreaccount1).
func (s *Server) Endpoint() string { return s.endpoint }

// ConnectionString returns a connection string for the well-known
// development account with an explicit BlobEndpoint (the Go SDK does not
// accept UseDevelopmentStorage=true).
func (s *Server) ConnectionString() string {
	return ConnectionString(s.endpoint)
}

// ConnectionString returns the development-account connection string for a
// blob endpoint.
func ConnectionString(endpoint string) string {
	return "DefaultEndpointsProtocol=http;AccountName=" + AccountName +
		";AccountKey=" + AccountKey + ";BlobEndpoint=" + endpoint + ";"
}

// Start returns an emulator: the one named by AZURITE_BLOB_ENDPOINT if set,
// else a new azurite-blob process, once it accepts connections.
func Start(ctx context.Context) (*Server, error) {
	if ep := os.Getenv(EndpointEnv); ep != "" {
		u, err := url.Parse(ep)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("azurite: %s=%q is not a URL like http://127.0.0.1:10000/devstoreaccount1", EndpointEnv, ep)
		}
		if err := waitListening(ctx, u.Host, nil, externalTimeout); err != nil {
			return nil, fmt.Errorf("azurite: %s=%q: %w", EndpointEnv, ep, err)
		}
		return &Server{endpoint: strings.TrimSuffix(ep, "/")}, nil
	}
	root, err := modroot.Find()
	if err != nil {
		return nil, fmt.Errorf("azurite: %w", err)
	}
	bin := filepath.Join(root, "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("azurite: %s not found: run `npm ci` in %s to install the emulator (or set %s): %w", bin, root, EndpointEnv, err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := launch(ctx, bin)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// launch starts azurite-blob once on a free port.
func launch(ctx context.Context, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("azurite: find a free port: %w", err)
	}
	dir, err := os.MkdirTemp("", "icerig-azurite-*")
	if err != nil {
		return nil, fmt.Errorf("azurite: %w", err)
	}
	logs := &tailBuffer{max: 16 << 10}
	cmd := exec.Command(bin,
		"--skipApiVersionCheck", "--loose", "--disableTelemetry", "--silent",
		"--location", dir,
		"--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port))
	cmd.Dir = dir
	cmd.Stdout = logs
	cmd.Stderr = logs
	// Own process group, so Stop reaches node and anything it spawns; and
	// die with the test binary if it is killed before Stop runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("azurite: start %s: %w", bin, err)
	}
	s := &Server{
		endpoint: fmt.Sprintf("http://127.0.0.1:%d/%s", port, AccountName),
		cmd:      cmd,
		done:     make(chan struct{}),
		dir:      dir,
		logs:     logs,
	}
	go func() {
		cmd.Wait()
		close(s.done)
	}()
	if err := waitListening(ctx, fmt.Sprintf("127.0.0.1:%d", port), s.done, startTimeout); err != nil {
		s.Stop()
		return nil, fmt.Errorf("azurite: %s did not come up on port %d: %w; output:\n%s", bin, port, err, logs.String())
	}
	return s, nil
}

// waitListening polls addr until it accepts a TCP connection, the process
// exits (exited closes), ctx ends or timeout passes.
func waitListening(ctx context.Context, addr string, exited <-chan struct{}, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var d net.Dialer
	for {
		dctx, dcancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(dctx, "tcp", addr)
		dcancel()
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return errors.New("the process exited")
		case <-ctx.Done():
			return fmt.Errorf("nothing listening on %s: %w (last error: %v)", addr, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// Stop kills an emulator started by Start and removes its data directory.
// For an external emulator (AZURITE_BLOB_ENDPOINT) it does nothing.
func (s *Server) Stop() error {
	if s == nil || s.cmd == nil {
		return nil
	}
	s.stopOnce.Do(func() {
		pgid := s.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-s.done
		}
		s.stopErr = os.RemoveAll(s.dir)
	})
	return s.stopErr
}

var containerSeq atomic.Uint64

// Container returns a container name unique to this test (and test binary)
// and deletes the container when the test ends.
func (s *Server) Container(t testing.TB) string {
	t.Helper()
	name := ContainerName(t.Name())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := container.NewClientFromConnectionString(s.ConnectionString(), name, nil)
		if err != nil {
			t.Errorf("azurite: clean up container %s: %v", name, err)
			return
		}
		if _, err := c.Delete(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerNotFound) {
			t.Errorf("azurite: delete container %s: %v", name, err)
		}
	})
	return name
}

// ContainerName derives a valid, unique Azure container name (3-63
// lowercase letters, digits and single hyphens) from a test name.
func ContainerName(testName string) string {
	var b strings.Builder
	dash := true // no leading hyphen
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	base := strings.TrimSuffix(b.String(), "-")
	var rnd [3]byte
	_, _ = rand.Read(rnd[:])
	suffix := fmt.Sprintf("%x-%d-%s", os.Getpid(), containerSeq.Add(1), hex.EncodeToString(rnd[:]))
	if max := 63 - len(suffix) - 2; len(base) > max {
		base = strings.TrimSuffix(base[:max], "-")
	}
	return "t" + base + "-" + suffix
}

var (
	sharedMu  sync.Mutex
	shared    *Server
	sharedErr error
)

// Shared returns the test binary's emulator, starting it on first use. It
// fails the test (never skips) when the emulator cannot be started.
func Shared(t testing.TB) *Server {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil && sharedErr == nil {
		shared, sharedErr = Start(context.Background())
	}
	if sharedErr != nil {
		t.Fatalf("%v", sharedErr)
	}
	return shared
}

// Main runs the tests and then stops the shared emulator, returning the exit
// code for os.Exit. Use it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil {
		if err := shared.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "azurite: stop: %v\n", err)
		}
		shared = nil
	}
	return code
}

// freePort asks the kernel for an unused TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append([]byte{}, b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
