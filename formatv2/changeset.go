package formatv2

import (
	"bytes"
	"encoding/binary"
	"slices"
)

// changeSet records the uncommitted changes of a writable session, in the
// spirit of upstream 1.x's change set: new nodes by path, updated and
// deleted base nodes by id, and chunk writes and deletions per array.
type changeSet struct {
	newGroups     map[string]*groupData // by path
	newArrays     map[string]*arrayData // by path
	updatedGroups map[NodeID][]byte     // user data of base groups
	updatedArrays map[NodeID]*arrayData // base arrays
	deleted       map[NodeID]string     // base nodes deleted, with their path
	// chunks maps an array (new or base) to its changed chunks, by coordKey.
	// A nil ref is a deletion.
	chunks map[NodeID]map[string]*chunkChange
}

type groupData struct {
	id       NodeID
	userData []byte
}

type arrayData struct {
	id             NodeID
	userData       []byte
	shape          []DimensionShape
	dimensionNames []*string
}

type chunkChange struct {
	coords []uint32
	ref    *ChunkRef // nil: deleted
}

func newChangeSet() *changeSet {
	return &changeSet{
		newGroups:     map[string]*groupData{},
		newArrays:     map[string]*arrayData{},
		updatedGroups: map[NodeID][]byte{},
		updatedArrays: map[NodeID]*arrayData{},
		deleted:       map[NodeID]string{},
		chunks:        map[NodeID]map[string]*chunkChange{},
	}
}

// isEmpty reports whether the change set records nothing.
func (c *changeSet) isEmpty() bool {
	if len(c.newGroups)+len(c.newArrays)+len(c.updatedGroups)+len(c.updatedArrays)+len(c.deleted) > 0 {
		return false
	}
	for _, m := range c.chunks {
		if len(m) > 0 {
			return false
		}
	}
	return true
}

// coordKey is a map key for chunk coordinates.
func coordKey(coords []uint32) string {
	b := make([]byte, 4*len(coords))
	for i, c := range coords {
		binary.BigEndian.PutUint32(b[4*i:], c)
	}
	return string(b)
}

// compareCoords orders chunk coordinates lexicographically (C order).
func compareCoords(a, b []uint32) int {
	return slices.Compare(a, b)
}

func (c *changeSet) setChunk(node NodeID, coords []uint32, ref *ChunkRef) {
	m := c.chunks[node]
	if m == nil {
		m = map[string]*chunkChange{}
		c.chunks[node] = m
	}
	m[coordKey(coords)] = &chunkChange{coords: slices.Clone(coords), ref: ref}
}

// chunk returns the session's change of one chunk, if any.
func (c *changeSet) chunk(node NodeID, coords []uint32) (*chunkChange, bool) {
	ch, ok := c.chunks[node][coordKey(coords)]
	return ch, ok
}

// sortedChunkChanges lists the chunk changes of one array sorted by coords.
func (c *changeSet) sortedChunkChanges(node NodeID) []*chunkChange {
	m := c.chunks[node]
	out := make([]*chunkChange, 0, len(m))
	for _, ch := range m {
		out = append(out, ch)
	}
	slices.SortFunc(out, func(a, b *chunkChange) int { return compareCoords(a.coords, b.coords) })
	return out
}

// dropChunksOutside forgets chunk writes outside the chunk grid of shape
// (after a resize). Deletions are kept: they are harmless and keep deleted
// base chunks from reappearing if the array grows back in this session.
func (c *changeSet) dropChunksOutside(node NodeID, shape []DimensionShape) {
	for k, ch := range c.chunks[node] {
		if ch.ref != nil && !inGrid(shape, ch.coords) {
			delete(c.chunks[node], k)
		}
	}
}

// inGrid reports whether coords name a chunk of an array of this shape:
// one coordinate per dimension, each at most (length-1)/chunkLength (0 for
// an empty dimension), as upstream 1.x checks.
func inGrid(shape []DimensionShape, coords []uint32) bool {
	if len(coords) != len(shape) {
		return false
	}
	for i, d := range shape {
		if uint64(coords[i]) > maxChunkIndex(d) {
			return false
		}
	}
	return true
}

// maxChunkIndex is the largest valid chunk index along one dimension.
func maxChunkIndex(d DimensionShape) uint64 {
	if d.ChunkLength == 0 || d.ArrayLength == 0 {
		return 0
	}
	return (d.ArrayLength - 1) / d.ChunkLength
}

// numChunks is the number of chunk indices along each dimension.
func numChunks(shape []DimensionShape) []uint32 {
	out := make([]uint32, len(shape))
	for i, d := range shape {
		n := maxChunkIndex(d) + 1
		if n > 1<<32-1 {
			n = 1<<32 - 1
		}
		out[i] = uint32(n)
	}
	return out
}

func sameBytes(a, b []byte) bool { return bytes.Equal(a, b) }
