package streamer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/icerig/icerig/formatv2"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/zarr"
)

// element is a Go type the streamer stores in arrays.
type element interface {
	~int32 | ~int64 | ~float32 | ~float64
}

// arrayState is an array of a session as the streamer sees it.
type arrayState struct {
	spec arraySpec
	doc  *zarr.Metadata // nil when the array does not exist yet
	rows int            // length along the first dimension
	// partial holds the encoded partial last chunk when prefetched
	// (hasPartial; partial is nil for a chunk never written).
	partial    []byte
	hasPartial bool
}

// loadArray reads the zarr.json of the named array from sess.
func loadArray(ctx context.Context, sess *formatv2.Session, spec arraySpec) (arrayState, error) {
	st := arrayState{spec: spec}
	data, err := sess.Get(ctx, zarr.MetadataKey("/"+spec.name))
	if errors.Is(err, formatv2.ErrKeyNotFound) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	doc, err := zarr.ParseMetadata(spec.name+"/zarr.json", data)
	if err != nil {
		return st, fmt.Errorf("%w: %w", ErrRepositoryState, err)
	}
	if !doc.IsArray() {
		return st, fmt.Errorf("%w: %s is a group, want an array", ErrRepositoryState, spec.name)
	}
	a := doc.Array
	wantDims := 1
	if spec.width > 1 {
		wantDims = 2
	}
	if a.DataType != spec.dtype || len(a.Shape) != wantDims || (wantDims == 2 && a.Shape[1] != uint64(spec.width)) {
		return st, fmt.Errorf("%w: array %s is %s %v, want %s with %d dimensions", ErrRepositoryState, spec.name, a.DataType, a.Shape, spec.dtype, wantDims)
	}
	if err := a.Decodable(); err != nil {
		return st, fmt.Errorf("%w: array %s: %w", ErrRepositoryState, spec.name, err)
	}
	st.doc, st.rows = doc, int(a.Shape[0])
	return st, nil
}

// appendRows appends rows to an array of a writable session: the zarr.json
// gets the new shape, the partial last chunk is read, completed and written
// again, and the following chunks are written (the last one padded with the
// fill value). vals holds len(vals)/width rows of width elements. A missing
// array is created with chunks of chunkRows rows. It returns the new state.
func appendRows[T element](ctx context.Context, sess *formatv2.Session, st arrayState, chunkRows int, vals []T) (arrayState, error) {
	width := st.spec.width
	n := len(vals) / width
	if st.doc == nil {
		doc, err := newArrayDoc(st.spec, 0, uint64(chunkRows))
		if err != nil {
			return st, err
		}
		if err := sess.Set(ctx, zarr.MetadataKey("/"+st.spec.name), doc); err != nil {
			return st, err
		}
		if st.doc, err = zarr.ParseMetadata(st.spec.name+"/zarr.json", doc); err != nil {
			return st, err
		}
	}
	if n == 0 {
		return st, nil
	}
	shape := append([]uint64(nil), st.doc.Array.Shape...)
	shape[0] = uint64(st.rows + n)
	doc, err := st.doc.WithShape(shape)
	if err != nil {
		return st, fmt.Errorf("resize %s: %w", st.spec.name, err)
	}
	key := zarr.MetadataKey("/" + st.spec.name)
	if err := sess.Set(ctx, key, doc.Bytes()); err != nil {
		return st, err
	}
	meta := doc.Array
	c := int(meta.ChunkShape[0])
	for i, r := 0, st.rows; i < n; {
		ci, off := r/c, r%c
		take := min(c-off, n-i)
		coords := []uint32{uint32(ci)}
		if width > 1 {
			coords = append(coords, 0)
		}
		ck := zarr.ChunkKey("/"+st.spec.name, coords, meta.ChunkKeyEncoding)
		var buf []T
		if off > 0 {
			data, err := st.partial, error(nil)
			if !st.hasPartial || i > 0 {
				data, err = sess.Get(ctx, ck)
			} else if data == nil {
				err = formatv2.ErrKeyNotFound
			}
			switch {
			case errors.Is(err, formatv2.ErrKeyNotFound):
			case err != nil:
				return st, fmt.Errorf("read partial chunk %s: %w", ck, err)
			default:
				dec, err := zarr.DecodeChunk(meta, data)
				if err != nil {
					return st, fmt.Errorf("%w: chunk %s: %w", ErrRepositoryState, ck, err)
				}
				if buf, _ = dec.([]T); buf == nil {
					return st, fmt.Errorf("%w: chunk %s decodes to %T", ErrRepositoryState, ck, dec)
				}
			}
		}
		if buf == nil {
			fill, err := zarr.FillChunk(meta)
			if err != nil {
				return st, err
			}
			if buf, _ = fill.([]T); buf == nil {
				return st, fmt.Errorf("array %s: fill chunk is %T", st.spec.name, fill)
			}
		}
		copy(buf[off*width:], vals[i*width:(i+take)*width])
		enc, err := zarr.EncodeChunk(meta, buf)
		if err != nil {
			return st, fmt.Errorf("encode %s: %w", ck, err)
		}
		if err := sess.Set(ctx, ck, enc); err != nil {
			return st, err
		}
		i += take
		r += take
	}
	st.doc, st.rows = doc, st.rows+n
	return st, nil
}

// chunkReader reads chunks of the arrays of one snapshot, fetching chunk
// objects in parallel and keeping the decoded chunks it read.
type chunkReader struct {
	sess  *formatv2.Session
	store objstore.Store // the repository's store

	mu    sync.Mutex
	metas map[string]*zarr.ArrayMetadata
	cache map[chunkID]any
}

type chunkID struct {
	array string
	index int
}

func newChunkReader(sess *formatv2.Session, store objstore.Store) *chunkReader {
	return &chunkReader{sess: sess, store: store, metas: map[string]*zarr.ArrayMetadata{}, cache: map[chunkID]any{}}
}

// maxParallelReads bounds the concurrent chunk reads of one request.
var maxParallelReads = 16

// meta returns the parsed zarr.json of the named array.
func (cr *chunkReader) meta(ctx context.Context, name string) (*zarr.ArrayMetadata, error) {
	cr.mu.Lock()
	m := cr.metas[name]
	cr.mu.Unlock()
	if m != nil {
		return m, nil
	}
	data, err := cr.sess.Get(ctx, zarr.MetadataKey("/"+name))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	doc, err := zarr.ParseMetadata(name+"/zarr.json", data)
	if err != nil {
		return nil, err
	}
	if !doc.IsArray() || len(doc.Array.Shape) == 0 {
		return nil, fmt.Errorf("%w: %s is not an array with rows", ErrRepositoryState, name)
	}
	cr.mu.Lock()
	cr.metas[name] = doc.Array
	cr.mu.Unlock()
	return doc.Array, nil
}

// chunks returns the decoded chunks first..last (along the first
// dimension) of the named array, reading those not cached in parallel.
// Chunks never written are the fill value.
func chunks[T element](ctx context.Context, cr *chunkReader, name string, first, last int) ([][]T, error) {
	meta, err := cr.meta(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([][]T, last-first+1)
	errs := make([]error, len(out))
	sem := make(chan struct{}, maxParallelReads)
	var wg sync.WaitGroup
	for ci := first; ci <= last; ci++ {
		slot := ci - first
		id := chunkID{name, ci}
		cr.mu.Lock()
		cached, ok := cr.cache[id]
		cr.mu.Unlock()
		if ok {
			out[slot], _ = cached.([]T)
			continue
		}
		coords := make([]uint32, len(meta.Shape))
		coords[0] = uint32(ci)
		ref, ok, err := cr.sess.GetChunkRef(ctx, "/"+name, coords)
		if err != nil {
			return nil, fmt.Errorf("read %s: chunk %v: %w", name, coords, err)
		}
		if !ok {
			fill, err := zarr.FillChunk(meta)
			if err != nil {
				return nil, err
			}
			out[slot], _ = fill.([]T)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			vals, err := fetchChunk[T](ctx, cr.store, meta, name, coords, ref)
			out[slot], errs[slot] = vals, err
			if err == nil {
				cr.mu.Lock()
				cr.cache[id] = vals
				cr.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, ch := range out {
		if ch == nil {
			return nil, fmt.Errorf("read %s: chunk %d has values of the wrong type", name, first+i)
		}
	}
	return out, nil
}

// readRows returns rows [lo, hi) of the named array (all elements of each
// row), decoded to T.
func readRows[T element](ctx context.Context, cr *chunkReader, name string, lo, hi int) ([]T, error) {
	meta, err := cr.meta(ctx, name)
	if err != nil {
		return nil, err
	}
	if lo < 0 || hi < lo || uint64(hi) > meta.Shape[0] {
		return nil, fmt.Errorf("read %s: rows [%d, %d) outside its %d rows", name, lo, hi, meta.Shape[0])
	}
	width := 1
	for _, d := range meta.Shape[1:] {
		width *= int(d)
	}
	if hi == lo {
		return []T{}, nil
	}
	c := int(meta.ChunkShape[0])
	first, last := lo/c, (hi-1)/c
	chs, err := chunks[T](ctx, cr, name, first, last)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, (hi-lo)*width)
	for ci := first; ci <= last; ci++ {
		from, to := max(lo, ci*c)-ci*c, min(hi, (ci+1)*c)-ci*c
		out = append(out, chs[ci-first][from*width:to*width]...)
	}
	return out, nil
}

// searchRows returns the first row r of the first n rows of a 1-D array
// for which pred(value[r]) holds, or n; pred must be false and then true
// along the array (a sorted time coordinate). It reads O(log chunks)
// chunks.
func searchRows[T element](ctx context.Context, cr *chunkReader, name string, n int, pred func(T) bool) (int, error) {
	meta, err := cr.meta(ctx, name)
	if err != nil {
		return 0, err
	}
	c := int(meta.ChunkShape[0])
	nchunks := (n + c - 1) / c
	var ferr error
	chunk := func(ci int) []T {
		if ferr != nil {
			return nil
		}
		chs, err := chunks[T](ctx, cr, name, ci, ci)
		if err != nil {
			ferr = err
			return nil
		}
		return chs[0][:min(c, n-ci*c)]
	}
	ci := sort.Search(nchunks, func(ci int) bool {
		vals := chunk(ci)
		return ferr == nil && pred(vals[len(vals)-1])
	})
	if ferr != nil {
		return 0, ferr
	}
	if ci == nchunks {
		return n, nil
	}
	vals := chunk(ci)
	if ferr != nil {
		return 0, ferr
	}
	return ci*c + sort.Search(len(vals), func(i int) bool { return pred(vals[i]) }), nil
}

// fetchChunk reads and decodes the chunk a reference points at.
func fetchChunk[T element](ctx context.Context, store objstore.Store, meta *zarr.ArrayMetadata, name string, coords []uint32, ref formatv2.ChunkRef) ([]T, error) {
	var data []byte
	switch ref.Kind {
	case formatv2.ChunkInline:
		data = ref.Inline
	case formatv2.ChunkNative:
		key := "chunks/" + ref.ChunkID.String()
		obj, _, err := store.Get(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("read %s chunk %v: %w", name, coords, err)
		}
		end := ref.Offset + ref.Length
		if end < ref.Offset || end > uint64(len(obj)) {
			return nil, fmt.Errorf("read %s chunk %v: %s has %d bytes, the reference wants offset %d length %d", name, coords, key, len(obj), ref.Offset, ref.Length)
		}
		data = obj[ref.Offset:end]
	default:
		return nil, fmt.Errorf("read %s chunk %v: %w", name, coords, formatv2.ErrVirtualChunk)
	}
	dec, err := zarr.DecodeChunk(meta, data)
	if err != nil {
		return nil, fmt.Errorf("read %s chunk %v: %w", name, coords, err)
	}
	vals, ok := dec.([]T)
	if !ok {
		return nil, fmt.Errorf("read %s chunk %v: values are %T", name, coords, dec)
	}
	return vals, nil
}

// prefetchPartials reads, in parallel, the manifests of the arrays about to
// grow and their partial last chunks, so that appending (which goes through
// the session one operation at a time) finds them at hand: the manifests
// in the repository's cache, the chunks in the states.
func prefetchPartials(ctx context.Context, repo *formatv2.Repository, sess *formatv2.Session, states []*arrayState) error {
	var todo []*arrayState
	for _, st := range states {
		if st.doc != nil && st.rows%int(st.doc.Array.ChunkShape[0]) != 0 {
			todo = append(todo, st)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	nodes, err := sess.Nodes(ctx)
	if err != nil {
		return err
	}
	manifests := map[formatv2.ObjectID]bool{}
	byPath := map[string]formatv2.Node{}
	for _, n := range nodes {
		byPath[n.Path] = n
	}
	for _, st := range todo {
		for _, m := range byPath["/"+st.spec.name].Manifests {
			manifests[m.ID] = true
		}
	}
	sem := make(chan struct{}, maxParallelReads)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	run := func(f func() error) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	for id := range manifests {
		run(func() error { _, err := repo.ReadManifest(ctx, id); return err })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, st := range todo {
		meta := st.doc.Array
		coords := make([]uint32, len(meta.Shape))
		coords[0] = uint32(st.rows / int(meta.ChunkShape[0]))
		ref, ok, err := sess.GetChunkRef(ctx, "/"+st.spec.name, coords)
		if err != nil {
			return err
		}
		if !ok {
			st.partial, st.hasPartial = nil, true
			continue
		}
		if ref.Kind == formatv2.ChunkInline {
			st.partial, st.hasPartial = ref.Inline, true
			continue
		}
		if ref.Kind != formatv2.ChunkNative {
			continue // let the session report it
		}
		run(func() error {
			key := "chunks/" + ref.ChunkID.String()
			obj, _, err := repo.Store().Get(ctx, key)
			if err != nil {
				return fmt.Errorf("read partial chunk of %s: %w", st.spec.name, err)
			}
			end := ref.Offset + ref.Length
			if end < ref.Offset || end > uint64(len(obj)) {
				return fmt.Errorf("%w: %s has %d bytes, the reference of %s wants offset %d length %d", ErrRepositoryState, key, len(obj), st.spec.name, ref.Offset, ref.Length)
			}
			st.partial, st.hasPartial = obj[ref.Offset:end], true
			return nil
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
