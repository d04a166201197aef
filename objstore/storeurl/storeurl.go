// Package storeurl turns the repository arguments every command accepts into
// stores: a local path ("./data", "/srv/repo"), a file URL
// ("file:///abs/path") or an Azure Blob location ("az://<container>/<prefix>",
// with credentials from AZURE_STORAGE_CONNECTION_STRING).
package storeurl

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/azure"
	"github.com/icerig/icerig/objstore/local"
)

// ConnectionStringEnv names the environment variable holding the Azure
// connection string for az:// locations. It must name the blob endpoint
// explicitly (BlobEndpoint=...); UseDevelopmentStorage=true is not supported.
const ConnectionStringEnv = "AZURE_STORAGE_CONNECTION_STRING"

// Kind says which backend a Location names.
type Kind string

// The kinds of location.
const (
	Local Kind = "local"
	Azure Kind = "azure"
)

// ErrBadLocation is returned (wrapped) by Parse for unusable arguments.
var ErrBadLocation = errors.New("bad store location")

// Location is a parsed repository argument.
type Location struct {
	// Kind is Local or Azure.
	Kind Kind
	// Path is the cleaned local directory (Local only), absolute for
	// file:// URLs and as given (cleaned) for plain paths.
	Path string
	// Container and Prefix locate the repository in Azure (Azure only).
	// Prefix has no leading or trailing slash and may be empty.
	Container string
	Prefix    string
}

// String renders the location in the form Parse accepts.
func (l Location) String() string {
	if l.Kind == Azure {
		return "az://" + l.Container + "/" + l.Prefix
	}
	return l.Path
}

// Parse interprets a repository argument.
func Parse(raw string) (Location, error) {
	if raw == "" {
		return Location{}, fmt.Errorf("%w: empty location", ErrBadLocation)
	}
	scheme, rest, hasScheme := strings.Cut(raw, "://")
	if !hasScheme || strings.ContainsAny(scheme, `/\.`) {
		// A plain path (which may contain "://" further on, like "a/b://c").
		return Location{Kind: Local, Path: filepath.Clean(raw)}, nil
	}
	switch strings.ToLower(scheme) {
	case "file":
		u, err := url.Parse(raw)
		if err != nil {
			return Location{}, fmt.Errorf("%w: %q: %v", ErrBadLocation, raw, err)
		}
		if u.Host != "" && u.Host != "localhost" {
			return Location{}, fmt.Errorf("%w: %q: file URLs need an absolute path (file:///abs/path), not host %q", ErrBadLocation, raw, u.Host)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return Location{}, fmt.Errorf("%w: %q: file URLs take no query or fragment", ErrBadLocation, raw)
		}
		if !strings.HasPrefix(u.Path, "/") {
			return Location{}, fmt.Errorf("%w: %q: file URLs need an absolute path (file:///abs/path)", ErrBadLocation, raw)
		}
		return Location{Kind: Local, Path: filepath.Clean(filepath.FromSlash(u.Path))}, nil
	case "az":
		container, prefix, _ := strings.Cut(rest, "/")
		if container == "" {
			return Location{}, fmt.Errorf("%w: %q: missing container (az://<container>/<prefix>)", ErrBadLocation, raw)
		}
		if !validContainer(container) {
			return Location{}, fmt.Errorf("%w: %q: container name %q must be 3-63 lowercase letters, digits and single hyphens", ErrBadLocation, raw, container)
		}
		prefix = strings.Trim(prefix, "/")
		if prefix != "" {
			if err := objstore.ValidateKey(prefix); err != nil {
				return Location{}, fmt.Errorf("%w: %q: bad prefix: %w", ErrBadLocation, raw, err)
			}
		}
		return Location{Kind: Azure, Container: container, Prefix: prefix}, nil
	default:
		return Location{}, fmt.Errorf("%w: %q: unsupported scheme %q (want a local path, file:///abs/path or az://<container>/<prefix>)", ErrBadLocation, raw, scheme)
	}
}

// validContainer applies Azure's container naming rules.
func validContainer(name string) bool {
	if len(name) < 3 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' || strings.Contains(name, "--") {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// Open parses raw and opens its store, stamping modification times from
// clock (nil: the backend's default). Local directories are created if
// missing; az:// locations read the connection string from
// AZURE_STORAGE_CONNECTION_STRING and create the container if missing.
func Open(ctx context.Context, raw string, clock objstore.Clock) (objstore.Store, error) {
	loc, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	return loc.Open(ctx, clock)
}

// Open opens the store the location names; see the package-level Open.
func (l Location) Open(ctx context.Context, clock objstore.Clock) (objstore.Store, error) {
	switch l.Kind {
	case Local:
		return local.Open(l.Path, clock)
	case Azure:
		conn := os.Getenv(ConnectionStringEnv)
		if conn == "" {
			return nil, fmt.Errorf("%s: %s is not set; it must hold an Azure Storage connection string with an explicit BlobEndpoint=...", l, ConnectionStringEnv)
		}
		return azure.Open(ctx, conn, l.Container, l.Prefix, clock)
	default:
		return nil, fmt.Errorf("%w: %+v: unknown kind", ErrBadLocation, l)
	}
}
