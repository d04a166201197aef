package formatv1

// This file holds the in-memory form of the three spec-1 metadata files
// (snapshot, manifest, transaction log). The codec (codec_*.go) turns them
// into and out of their on-disk form: a 39-byte header followed by a
// zstd-compressed flatbuffer.

// ObjectID is a 12-byte id of a snapshot, manifest or chunk object.
// Its text form is 20 characters of upper-case Crockford base32.
type ObjectID [12]byte

// NodeID is the 8-byte id of a group or array node.
// Its text form is 13 characters of upper-case Crockford base32.
type NodeID [8]byte

// FileType is the file-type byte of a metadata file's header.
type FileType uint8

// File types of spec-1 metadata files.
const (
	FileTypeSnapshot       FileType = 1
	FileTypeManifest       FileType = 2
	FileTypeTransactionLog FileType = 4
)

// NodeType says whether a node is a group or an array.
type NodeType uint8

// Node types.
const (
	NodeGroup NodeType = iota + 1
	NodeArray
)

// ChunkIndexRange is the half-open range [From, To) of chunk indices along one
// dimension that a manifest covers.
type ChunkIndexRange struct {
	From uint32
	To   uint32
}

// ManifestRef points an array at one manifest file and says which region of
// its chunk grid (one range per dimension) that manifest covers.
type ManifestRef struct {
	ID      ObjectID
	Extents []ChunkIndexRange
}

// DimensionShape is the length of an array along one dimension and the chunk
// length along it.
type DimensionShape struct {
	ArrayLength uint64
	ChunkLength uint64
}

// Node is one group or array of a snapshot's node tree.
type Node struct {
	ID NodeID
	// Path is absolute: "/" for the root group, "/group1/big_chunks" below it.
	Path string
	// UserData is the node's Zarr v3 metadata document (zarr.json), kept as
	// opaque bytes.
	UserData []byte
	Type     NodeType
	// Array-only fields.
	Shape []DimensionShape
	// DimensionNames has one entry per dimension, nil where the dimension has
	// no name; the slice itself is nil when the array has no names at all.
	DimensionNames []*string
	Manifests      []ManifestRef
}

// MetadataItem is one commit metadata entry; Value is msgpack-encoded.
type MetadataItem struct {
	Name  string
	Value []byte
}

// ManifestFileInfo describes one manifest file a snapshot references.
type ManifestFileInfo struct {
	ID           ObjectID
	SizeBytes    uint64
	NumChunkRefs uint32
}

// Snapshot is the content of a spec-1 snapshot file.
type Snapshot struct {
	ID ObjectID
	// ParentID is nil for the initial snapshot.
	ParentID *ObjectID
	// Nodes are sorted by Path.
	Nodes []Node
	// FlushedAt is the commit time in microseconds since the Unix epoch.
	FlushedAt     uint64
	Message       string
	Metadata      []MetadataItem
	ManifestFiles []ManifestFileInfo
}

// ChunkRefKind tells what a chunk reference points at.
type ChunkRefKind uint8

// Chunk reference kinds.
const (
	ChunkInline ChunkRefKind = iota + 1
	ChunkNative
	ChunkVirtual
)

// ChunkRef is one manifest entry: the chunk at Index of an array, stored
// inline, in a chunk object of this repository (native), or outside it
// (virtual).
type ChunkRef struct {
	Index []uint32
	Kind  ChunkRefKind
	// Inline holds the chunk bytes of an inline reference.
	Inline []byte
	// ChunkID names the chunk object of a native reference.
	ChunkID ObjectID
	// Offset and Length locate the bytes inside the chunk object (native) or
	// the external object (virtual).
	Offset uint64
	Length uint64
	// Location is the URL of a virtual reference's target.
	Location string
	// Optional checksum of a virtual reference's target.
	ChecksumETag         string
	ChecksumLastModified uint32
}

// ArrayManifest holds the chunk references of one array within a manifest,
// sorted by chunk index.
type ArrayManifest struct {
	NodeID NodeID
	Refs   []ChunkRef
}

// Manifest is the content of a spec-1 manifest file. Arrays are sorted by
// node id.
type Manifest struct {
	ID     ObjectID
	Arrays []ArrayManifest
}

// ArrayUpdatedChunks lists the chunk indices of one array that a commit wrote
// or deleted.
type ArrayUpdatedChunks struct {
	NodeID NodeID
	Chunks [][]uint32
}

// TransactionLog is the content of a spec-1 transaction log file: what one
// commit changed. Its ID equals the ID of the snapshot it belongs to.
type TransactionLog struct {
	ID            ObjectID
	NewGroups     []NodeID
	NewArrays     []NodeID
	DeletedGroups []NodeID
	DeletedArrays []NodeID
	UpdatedArrays []NodeID
	UpdatedGroups []NodeID
	UpdatedChunks []ArrayUpdatedChunks
}
