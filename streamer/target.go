package streamer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/azure"
	"github.com/icerig/icerig/objstore/local"
	"github.com/icerig/icerig/objstore/storeurl"
)

// TargetEnv names the environment variable holding the target root: a
// local path, file:///abs/path, or az://<container>/<prefix> (credentials
// from AZURE_STORAGE_CONNECTION_STRING).
const TargetEnv = "ICESTREAM_TARGET"

// DefaultTarget is the target root when TargetEnv is unset or empty.
const DefaultTarget = "./data"

// DirLister is implemented by target stores that can list the immediate
// "sub-directories" under a prefix without listing every object below them
// (a delimiter listing). Discovery uses it when the store offers it and
// falls back to a full List otherwise.
type DirLister interface {
	// ListDirs returns the names (without prefix or trailing slash) of the
	// directories directly under prefix ("" or ending with '/'), sorted.
	ListDirs(ctx context.Context, prefix string) ([]string, error)
}

// OpenTarget opens the target root raw (see TargetEnv; "" means
// DefaultTarget), stamping modification times from clock (nil: the
// backend's default). az:// targets take their credentials from
// AZURE_STORAGE_CONNECTION_STRING. The store it returns implements
// DirLister. An authorization failure wraps ErrNoAccess.
func OpenTarget(ctx context.Context, raw string, clock objstore.Clock) (objstore.Store, error) {
	return OpenTargetConn(ctx, raw, os.Getenv(storeurl.ConnectionStringEnv), clock)
}

// OpenTargetConn is OpenTarget with the Azure connection string given
// (used only for az:// targets).
func OpenTargetConn(ctx context.Context, raw, connectionString string, clock objstore.Clock) (objstore.Store, error) {
	if raw == "" {
		raw = DefaultTarget
	}
	loc, err := storeurl.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("target %q: %w", raw, err)
	}
	switch loc.Kind {
	case storeurl.Local:
		st, err := local.Open(loc.Path, clock)
		if err != nil {
			return nil, classify(fmt.Errorf("open target %s: %w", loc, err))
		}
		return &localTarget{Store: st, dir: loc.Path}, nil
	case storeurl.Azure:
		if connectionString == "" {
			return nil, fmt.Errorf("open target %s: %w: %s is not set; it must hold an Azure Storage connection string with an explicit BlobEndpoint=...",
				loc, storeurl.ErrBadLocation, storeurl.ConnectionStringEnv)
		}
		st, err := azure.Open(ctx, connectionString, loc.Container, loc.Prefix, clock)
		if err != nil {
			return nil, classify(fmt.Errorf("open target %s: %w", loc, err))
		}
		client, err := container.NewClientFromConnectionString(connectionString, st.Container(), nil)
		if err != nil {
			return nil, fmt.Errorf("open target %s: %w", loc, err)
		}
		return &azureTarget{Store: st, client: client}, nil
	}
	return nil, fmt.Errorf("target %q: %w: unknown kind %q", raw, storeurl.ErrBadLocation, loc.Kind)
}

// localTarget is a local store that lists directories with one ReadDir.
type localTarget struct {
	*local.Store
	dir string
}

// ListDirs reads the directory prefix names.
func (t *localTarget) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := strings.TrimSuffix(prefix, "/")
	if p != "" {
		if err := objstore.ValidateKey(p); err != nil {
			return nil, fmt.Errorf("list directories of %s: %w", t, err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(t.dir, filepath.FromSlash(p)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, classify(fmt.Errorf("list directories under %q in %s: %w", prefix, t, err))
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.ContainsRune(e.Name(), '\\') {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// azureTarget is an Azure store that lists directories with a delimiter
// listing.
type azureTarget struct {
	*azure.Store
	client *container.Client
}

// ListDirs lists the blob prefixes directly under prefix.
func (t *azureTarget) ListDirs(ctx context.Context, prefix string) ([]string, error) {
	full := t.Prefix() + prefix
	opts := &container.ListBlobsHierarchyOptions{}
	if full != "" {
		opts.Prefix = &full
	}
	var out []string
	pager := t.client.NewListBlobsHierarchyPager("/", opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify(fmt.Errorf("list directories under %q in %s: %w", prefix, t, err))
		}
		for _, p := range page.Segment.BlobPrefixes {
			if p == nil || p.Name == nil {
				continue
			}
			name := strings.TrimSuffix(strings.TrimPrefix(*p.Name, full), "/")
			if name != "" && !strings.Contains(name, "/") {
				out = append(out, name)
			}
		}
	}
	return out, nil
}

// prefixStore is the view of a store below a key prefix: key K of the view
// is key prefix+K of the inner store. A repository lives in such a view.
type prefixStore struct {
	inner  objstore.Store
	prefix string // ends with "/"
}

var _ objstore.Store = (*prefixStore)(nil)

// SubStore returns the view of store below the directory dir (a valid key
// such as "gm01/ch4-flux/inst-gm01-prj-ch4-flux-2024-06-01t00-00-00zl1b"):
// key K of the view is dir+"/"+K in store.
func SubStore(store objstore.Store, dir string) (objstore.Store, error) {
	dir = strings.Trim(dir, "/")
	if err := objstore.ValidateKey(dir); err != nil {
		return nil, fmt.Errorf("sub-store of %s: %w", store, err)
	}
	return &prefixStore{inner: store, prefix: dir + "/"}, nil
}

func (p *prefixStore) key(op objstore.Op, k string) (string, error) {
	if err := objstore.ValidateKey(k); err != nil {
		return "", fmt.Errorf("%s: %s %q: %w", p, op, k, err)
	}
	return p.prefix + k, nil
}

// Get reads prefix+key.
func (p *prefixStore) Get(ctx context.Context, key string) ([]byte, objstore.Version, error) {
	k, err := p.key(objstore.OpGet, key)
	if err != nil {
		return nil, "", err
	}
	return p.inner.Get(ctx, k)
}

// Put writes prefix+key.
func (p *prefixStore) Put(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	k, err := p.key(objstore.OpPut, key)
	if err != nil {
		return "", err
	}
	return p.inner.Put(ctx, k, data)
}

// PutIfAbsent creates prefix+key.
func (p *prefixStore) PutIfAbsent(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	k, err := p.key(objstore.OpPutIfAbsent, key)
	if err != nil {
		return "", err
	}
	return p.inner.PutIfAbsent(ctx, k, data)
}

// PutIfVersionMatches replaces prefix+key if it is still at version v.
func (p *prefixStore) PutIfVersionMatches(ctx context.Context, key string, data []byte, v objstore.Version) (objstore.Version, error) {
	k, err := p.key(objstore.OpPutIfVersionMatches, key)
	if err != nil {
		return "", err
	}
	return p.inner.PutIfVersionMatches(ctx, k, data, v)
}

// Delete removes prefix+key.
func (p *prefixStore) Delete(ctx context.Context, key string) error {
	k, err := p.key(objstore.OpDelete, key)
	if err != nil {
		return err
	}
	return p.inner.Delete(ctx, k)
}

// List lists the objects under prefix+lp, with the view's prefix removed
// from their keys.
func (p *prefixStore) List(ctx context.Context, lp string) ([]objstore.ObjectInfo, error) {
	infos, err := p.inner.List(ctx, p.prefix+lp)
	if err != nil {
		return nil, err
	}
	out := make([]objstore.ObjectInfo, 0, len(infos))
	for _, in := range infos {
		k, ok := strings.CutPrefix(in.Key, p.prefix)
		if !ok {
			continue
		}
		in.Key = k
		out = append(out, in)
	}
	return out, nil
}

// String names the view as the inner store's name followed by the prefix.
func (p *prefixStore) String() string {
	return strings.TrimSuffix(p.inner.String(), "/") + "/" + strings.TrimSuffix(p.prefix, "/")
}
