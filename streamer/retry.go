package streamer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/icerig/icerig/objstore"
)

// Errors of the streamer; match them with errors.Is.
var (
	// ErrNoAccess: the storage refused the credentials or the operation
	// (Azure 401/403, a bad account key, a local permission error). It is
	// never retried, and it is not "repository missing".
	ErrNoAccess = errors.New("no access to the target storage")
	// ErrRetriesExhausted: a transient storage error persisted through
	// every allowed attempt.
	ErrRetriesExhausted = errors.New("storage retries exhausted")
	// ErrRepositoryState: a repository holds something the streamer did
	// not write and cannot append to (arrays of different lengths, a name
	// taken by a repository of other settings, ...).
	ErrRepositoryState = errors.New("repository not in a state the streamer can append to")
)

// Sleeper waits for d or until ctx is done (then it returns ctx.Err()).
// Tests inject one that records the waits and returns at once.
type Sleeper func(ctx context.Context, d time.Duration) error

// RealSleep is the production Sleeper.
func RealSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// classify wraps err with ErrNoAccess when it is an authorization failure.
func classify(err error) error {
	if err == nil || errors.Is(err, ErrNoAccess) {
		return err
	}
	if IsNoAccess(err) {
		return fmt.Errorf("%w: %w", ErrNoAccess, err)
	}
	return err
}

// IsNoAccess reports whether err is an authorization failure: ErrNoAccess,
// an Azure response with status 401 or 403, or a file permission error.
func IsNoAccess(err error) bool {
	if errors.Is(err, ErrNoAccess) || errors.Is(err, fs.ErrPermission) {
		return true
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden
	}
	return false
}

// IsTransient reports whether a storage error may go away when the
// operation is tried again. Missing objects, lost races, invalid keys,
// authorization failures, cancellation and Azure client errors (4xx other
// than 408 and 429) are permanent; everything else (network errors, server
// errors, throttling, unknown failures) is transient.
func IsTransient(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, objstore.ErrNotFound), errors.Is(err, objstore.ErrPreconditionFailed),
		errors.Is(err, objstore.ErrInvalidKey), IsNoAccess(err):
		return false
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500 {
		return re.StatusCode == http.StatusRequestTimeout || re.StatusCode == http.StatusTooManyRequests
	}
	return true
}

// retryStore retries transient failures of every operation of the store it
// wraps, with exponential backoff, and counts the bytes it writes.
//
// A conditional write whose earlier attempt failed ambiguously (the write
// may have landed although an error came back) and whose retry then loses
// the race is resolved by reading the object back: if it holds exactly the
// bytes being written, the earlier attempt landed and the write succeeded.
// Objects written by the format library are either immutable with random
// ids or carry a fresh random id, so equal bytes mean this writer's write.
type retryStore struct {
	inner  objstore.Store
	policy RetryConfig
	sleep  Sleeper
	log    *slog.Logger

	written atomic.Int64 // bytes written successfully
	retries atomic.Int64 // attempts beyond the first
}

var _ objstore.Store = (*retryStore)(nil)

func newRetryStore(inner objstore.Store, policy RetryConfig, sleep Sleeper, log *slog.Logger) *retryStore {
	return &retryStore{inner: inner, policy: policy, sleep: sleep, log: log}
}

// do runs op until it succeeds, fails permanently or runs out of attempts.
// It returns whether an earlier attempt failed transiently.
func (r *retryStore) do(ctx context.Context, what objstore.Op, key string, op func() error) (retried bool, err error) {
	wait := r.policy.InitialBackoff
	for attempt := 1; ; attempt++ {
		err = op()
		if err == nil || !IsTransient(err) {
			return attempt > 1, classify(err)
		}
		if attempt >= r.policy.Attempts {
			return attempt > 1, fmt.Errorf("%w: %s %q failed %d times: %w", ErrRetriesExhausted, what, key, attempt, err)
		}
		r.retries.Add(1)
		r.log.Warn("transient storage error, retrying", "op", string(what), "key", key, "attempt", attempt, "backoff", wait, "err", err)
		if serr := r.sleep(ctx, wait); serr != nil {
			return true, fmt.Errorf("%s %q: waiting to retry: %w (after %w)", what, key, serr, err)
		}
		wait *= 2
		if wait > r.policy.MaxBackoff {
			wait = r.policy.MaxBackoff
		}
	}
}

// landed reports whether key holds exactly data (an earlier attempt of a
// conditional write landed), with the object's version.
func (r *retryStore) landed(ctx context.Context, key string, data []byte) (objstore.Version, bool) {
	var got []byte
	var v objstore.Version
	_, err := r.do(ctx, objstore.OpGet, key, func() error {
		var err error
		got, v, err = r.inner.Get(ctx, key)
		return err
	})
	if err != nil || !bytes.Equal(got, data) {
		return "", false
	}
	return v, true
}

// Get reads with retries.
func (r *retryStore) Get(ctx context.Context, key string) (data []byte, v objstore.Version, err error) {
	_, err = r.do(ctx, objstore.OpGet, key, func() error {
		data, v, err = r.inner.Get(ctx, key)
		return err
	})
	return data, v, err
}

// Put writes with retries (an unconditional write is idempotent).
func (r *retryStore) Put(ctx context.Context, key string, data []byte) (v objstore.Version, err error) {
	_, err = r.do(ctx, objstore.OpPut, key, func() error {
		v, err = r.inner.Put(ctx, key, data)
		return err
	})
	if err == nil {
		r.written.Add(int64(len(data)))
	}
	return v, err
}

// PutIfAbsent creates with retries, resolving an ambiguous earlier attempt.
func (r *retryStore) PutIfAbsent(ctx context.Context, key string, data []byte) (v objstore.Version, err error) {
	retried, err := r.do(ctx, objstore.OpPutIfAbsent, key, func() error {
		v, err = r.inner.PutIfAbsent(ctx, key, data)
		return err
	})
	if retried && errors.Is(err, objstore.ErrPreconditionFailed) {
		if lv, ok := r.landed(ctx, key, data); ok {
			r.log.Info("an earlier attempt of a write landed", "key", key)
			v, err = lv, nil
		}
	}
	if err == nil {
		r.written.Add(int64(len(data)))
	}
	return v, err
}

// PutIfVersionMatches replaces with retries, resolving an ambiguous earlier
// attempt.
func (r *retryStore) PutIfVersionMatches(ctx context.Context, key string, data []byte, want objstore.Version) (v objstore.Version, err error) {
	retried, err := r.do(ctx, objstore.OpPutIfVersionMatches, key, func() error {
		v, err = r.inner.PutIfVersionMatches(ctx, key, data, want)
		return err
	})
	if retried && errors.Is(err, objstore.ErrPreconditionFailed) {
		if lv, ok := r.landed(ctx, key, data); ok {
			r.log.Info("an earlier attempt of a write landed", "key", key)
			v, err = lv, nil
		}
	}
	if err == nil {
		r.written.Add(int64(len(data)))
	}
	return v, err
}

// Delete deletes with retries (deleting a missing object is no error).
func (r *retryStore) Delete(ctx context.Context, key string) error {
	_, err := r.do(ctx, objstore.OpDelete, key, func() error { return r.inner.Delete(ctx, key) })
	return err
}

// List lists with retries.
func (r *retryStore) List(ctx context.Context, prefix string) (out []objstore.ObjectInfo, err error) {
	_, err = r.do(ctx, objstore.OpList, prefix, func() error {
		out, err = r.inner.List(ctx, prefix)
		return err
	})
	return out, err
}

// ListDirs lists directories with retries when the inner store can.
func (r *retryStore) ListDirs(ctx context.Context, prefix string) (out []string, err error) {
	dl, ok := r.inner.(DirLister)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	_, err = r.do(ctx, objstore.OpList, prefix, func() error {
		out, err = dl.ListDirs(ctx, prefix)
		return err
	})
	return out, err
}

// String names the wrapped store.
func (r *retryStore) String() string { return r.inner.String() }
