// Package azure is an objstore.Store on Azure Blob Storage (block blobs),
// built on the azblob SDK. Tests run it against the Azurite emulator.
//
// Objects live in one container under an optional prefix: key K is the blob
// "<prefix>/K". Versions are blob ETags. PutIfAbsent sends If-None-Match: *
// and PutIfVersionMatches sends If-Match: <ETag>; both "already exists" (409
// BlobAlreadyExists) and "condition not met" (412 ConditionNotMet) are
// reported as objstore.ErrPreconditionFailed, a lost race.
//
// Azure sets Last-Modified itself, so when the store has a clock every write
// also records the clock's time in the blob metadata entry "icerigmtime"
// (RFC 3339 with nanoseconds); List reports that time when present and
// Last-Modified otherwise.
//
// Connection strings must name the blob endpoint explicitly
// ("...;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"): the Go SDK
// does not understand the "UseDevelopmentStorage=true" shorthand.
//
// The SDK retries failed requests. If a conditional write succeeds on the
// service but its response is lost, the retried request reports a lost race
// (ErrPreconditionFailed) although the write happened; callers that must
// know can read the object back.
package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/icerig/icerig/objstore"
)

// MTimeMetadataKey is the blob metadata entry holding the store clock's time
// of the last write.
const MTimeMetadataKey = "icerigmtime"

// Store is an object store in an Azure Blob container.
// It is safe for concurrent use.
type Store struct {
	client    *container.Client
	container string
	prefix    string // "" or ends with "/"
	clock     objstore.Clock
}

var _ objstore.Store = (*Store)(nil)

// Open connects to the container named container with connectionString,
// creating the container if it is missing, and returns a store of the blobs
// under prefix (leading and trailing slashes are ignored; "" is the whole
// container). When clock is non-nil every write records clock.Now() as the
// object's modification time.
func Open(ctx context.Context, connectionString, containerName, prefix string, clock objstore.Clock) (*Store, error) {
	prefix = strings.Trim(prefix, "/")
	name := "az://" + containerName + "/" + prefix
	if prefix != "" {
		if err := objstore.ValidateKey(prefix); err != nil {
			return nil, fmt.Errorf("azure store %s: bad prefix: %w", name, err)
		}
		prefix += "/"
	}
	if containerName == "" {
		return nil, fmt.Errorf("azure store %s: empty container name", name)
	}
	if connectionString == "" {
		return nil, fmt.Errorf("azure store %s: empty connection string", name)
	}
	client, err := container.NewClientFromConnectionString(connectionString, containerName, nil)
	if err != nil {
		return nil, fmt.Errorf("azure store %s: bad connection string (it needs an explicit BlobEndpoint=...; UseDevelopmentStorage=true is not supported): %w", name, err)
	}
	if _, err := client.Create(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return nil, fmt.Errorf("azure store %s: create container %q: %w", name, containerName, err)
	}
	return &Store{client: client, container: containerName, prefix: prefix, clock: clock}, nil
}

// String names the store as az://<container>/<prefix>.
func (s *Store) String() string {
	return "az://" + s.container + "/" + strings.TrimSuffix(s.prefix, "/")
}

// Container returns the name of the store's container.
func (s *Store) Container() string { return s.container }

// Prefix returns the store's blob-name prefix ("" or ending with "/").
func (s *Store) Prefix() string { return s.prefix }

func (s *Store) check(ctx context.Context, op objstore.Op, key string) error {
	if err := objstore.ValidateKey(key); err != nil {
		return fmt.Errorf("azure store %s: %s %q: %w", s, op, key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("azure store %s: %s %q: %w", s, op, key, err)
	}
	return nil
}

// fail wraps an SDK error, mapping service answers to objstore errors.
func (s *Store) fail(op objstore.Op, key string, err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		lost := bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet) ||
			re.StatusCode == http.StatusPreconditionFailed ||
			(op == objstore.OpPutIfAbsent && re.StatusCode == http.StatusConflict) ||
			(op == objstore.OpPutIfVersionMatches && re.StatusCode == http.StatusNotFound)
		if lost && (op == objstore.OpPutIfAbsent || op == objstore.OpPutIfVersionMatches) {
			return fmt.Errorf("azure store %s: %s %q: %w (%d %s)", s, op, key, objstore.ErrPreconditionFailed, re.StatusCode, re.ErrorCode)
		}
		if re.StatusCode == http.StatusNotFound {
			return fmt.Errorf("azure store %s: %s %q: %w (%d %s)", s, op, key, objstore.ErrNotFound, re.StatusCode, re.ErrorCode)
		}
	}
	return fmt.Errorf("azure store %s: %s %q: %w", s, op, key, err)
}

func (s *Store) blob(key string) *blockblob.Client {
	return s.client.NewBlockBlobClient(s.prefix + key)
}

// Get returns the object's bytes and its ETag.
func (s *Store) Get(ctx context.Context, key string) ([]byte, objstore.Version, error) {
	if err := s.check(ctx, objstore.OpGet, key); err != nil {
		return nil, "", err
	}
	resp, err := s.blob(key).DownloadStream(ctx, nil)
	if err != nil {
		return nil, "", s.fail(objstore.OpGet, key, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if resp.ContentLength != nil && *resp.ContentLength > 0 {
		buf.Grow(int(*resp.ContentLength))
	}
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, "", s.fail(objstore.OpGet, key, err)
	}
	if resp.ETag == nil {
		return nil, "", fmt.Errorf("azure store %s: get %q: response has no ETag", s, key)
	}
	return buf.Bytes(), objstore.Version(*resp.ETag), nil
}

// Put writes the object unconditionally.
func (s *Store) Put(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	return s.upload(ctx, objstore.OpPut, key, data, nil)
}

// PutIfAbsent creates the object only if no blob exists at key.
func (s *Store) PutIfAbsent(ctx context.Context, key string, data []byte) (objstore.Version, error) {
	star := azcore.ETagAny
	return s.upload(ctx, objstore.OpPutIfAbsent, key, data, &blob.ModifiedAccessConditions{IfNoneMatch: &star})
}

// PutIfVersionMatches replaces the object only if its ETag is still v.
func (s *Store) PutIfVersionMatches(ctx context.Context, key string, data []byte, v objstore.Version) (objstore.Version, error) {
	if v == "" {
		if err := s.check(ctx, objstore.OpPutIfVersionMatches, key); err != nil {
			return "", err
		}
		return "", fmt.Errorf("azure store %s: %s %q: empty version: %w", s, objstore.OpPutIfVersionMatches, key, objstore.ErrPreconditionFailed)
	}
	etag := azcore.ETag(v)
	return s.upload(ctx, objstore.OpPutIfVersionMatches, key, data, &blob.ModifiedAccessConditions{IfMatch: &etag})
}

func (s *Store) upload(ctx context.Context, op objstore.Op, key string, data []byte, cond *blob.ModifiedAccessConditions) (objstore.Version, error) {
	if err := s.check(ctx, op, key); err != nil {
		return "", err
	}
	opts := &blockblob.UploadOptions{}
	if cond != nil {
		opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: cond}
	}
	if s.clock != nil {
		mt := s.clock.Now().UTC().Format(time.RFC3339Nano)
		opts.Metadata = map[string]*string{MTimeMetadataKey: &mt}
	}
	resp, err := s.blob(key).Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), opts)
	if err != nil {
		return "", s.fail(op, key, err)
	}
	if resp.ETag == nil {
		return "", fmt.Errorf("azure store %s: %s %q: response has no ETag", s, op, key)
	}
	return objstore.Version(*resp.ETag), nil
}

// Delete removes the object; deleting a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, objstore.OpDelete, key); err != nil {
		return err
	}
	include := blob.DeleteSnapshotsOptionTypeInclude
	_, err := s.blob(key).Delete(ctx, &blob.DeleteOptions{DeleteSnapshots: &include})
	if err != nil && !bloberror.HasCode(err, bloberror.BlobNotFound) {
		return s.fail(objstore.OpDelete, key, err)
	}
	return nil
}

// List returns every object whose key starts with prefix, sorted by key,
// paging through the container listing (5000 blobs per page at most).
func (s *Store) List(ctx context.Context, prefix string) ([]objstore.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("azure store %s: list %q: %w", s, prefix, err)
	}
	full := s.prefix + prefix
	opts := &container.ListBlobsFlatOptions{Include: container.ListBlobsInclude{Metadata: true}}
	if full != "" {
		opts.Prefix = &full
	}
	out := make([]objstore.ObjectInfo, 0)
	pager := s.client.NewListBlobsFlatPager(opts)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, s.fail(objstore.OpList, prefix, err)
		}
		for _, it := range page.Segment.BlobItems {
			if it.Name == nil || it.Properties == nil {
				continue
			}
			key := strings.TrimPrefix(*it.Name, s.prefix)
			if !strings.HasPrefix(key, prefix) || objstore.ValidateKey(key) != nil {
				continue // not a key this store could have written
			}
			info := objstore.ObjectInfo{Key: key}
			if it.Properties.ContentLength != nil {
				info.Size = *it.Properties.ContentLength
			}
			if it.Properties.LastModified != nil {
				info.ModTime = *it.Properties.LastModified
			}
			if mt, ok := metadataTime(it.Metadata); ok {
				info.ModTime = mt
			}
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// metadataTime finds the icerigmtime entry (metadata names are
// case-insensitive) and parses it.
func metadataTime(md map[string]*string) (time.Time, bool) {
	for k, v := range md {
		if v != nil && strings.EqualFold(k, MTimeMetadataKey) {
			t, err := time.Parse(time.RFC3339Nano, *v)
			return t, err == nil
		}
	}
	return time.Time{}, false
}

// DeleteContainer deletes the store's whole container (every prefix in it).
// Tests use it to clean up.
func (s *Store) DeleteContainer(ctx context.Context) error {
	if _, err := s.client.Delete(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerNotFound) {
		return fmt.Errorf("azure store %s: delete container: %w", s, err)
	}
	return nil
}
