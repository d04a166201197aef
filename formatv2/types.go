package formatv2

// This file holds the in-memory form of the three immutable metadata files
// (snapshot, manifest, transaction log) of both spec versions. The codec
// (codec_*.go) turns them into and out of their on-disk form: a 39-byte
// header followed by a zstd-compressed flatbuffer. Each value carries the
// spec version it was read at or is to be written at; the encoders write
// that spec's layout and refuse fields the layout cannot hold.
//
// Optional byte fields that only spec 2 has (the Extra fields,
// CompressedLocation, LocationDictionary) distinguish nil (absent on disk)
// from empty (present but empty); decoding and encoding preserve the
// difference.

// ObjectID is a 12-byte id of a snapshot, manifest or chunk object.
// Its text form is 20 characters of upper-case Crockford base32.
type ObjectID [12]byte

// NodeID is the 8-byte id of a group or array node.
// Its text form is 13 characters of upper-case Crockford base32.
type NodeID [8]byte

// FileType is the file-type byte of a metadata file's header.
type FileType uint8

// File types of metadata files. FileTypeRepoInfo exists only at spec 2.
const (
	FileTypeSnapshot       FileType = 1
	FileTypeManifest       FileType = 2
	FileTypeTransactionLog FileType = 4
	FileTypeRepoInfo       FileType = 6
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

// DimensionShape is the spec-1 extent of an array along one dimension: the
// array length and the chunk length along it.
type DimensionShape struct {
	ArrayLength uint64
	ChunkLength uint64
}

// DimensionShapeV2 is the spec-2 extent of an array along one dimension: the
// array length and the number of chunks along it.
type DimensionShapeV2 struct {
	ArrayLength uint64
	NumChunks   uint32
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
	//
	// Shape is the spec-1 shape (nil on spec-2 arrays); ShapeV2 is the
	// spec-2 shape (nil on spec-1 arrays). Decoding fills whichever the file
	// holds; encoding at spec 1 requires ShapeV2 == nil and at spec 2 requires
	// an empty Shape (convert with ShapeToV2 / ShapeFromV2).
	Shape   []DimensionShape
	ShapeV2 []DimensionShapeV2
	// DimensionNames has one entry per dimension, nil where the dimension has
	// no name; the slice itself is nil when the array has no names at all.
	DimensionNames []*string
	Manifests      []ManifestRef
	// Extra is spec-2 reserved opaque bytes (nil = absent). Spec 1 has no
	// room for it: encoding a spec-1 snapshot requires nil.
	Extra []byte
}

// MetadataItem is one named metadata entry of a commit or repository. Value
// is kept opaque: a msgpack document in spec-1 snapshots (see
// EncodeMetadataValue), a flexbuffer in spec-2 snapshots and repo objects.
type MetadataItem struct {
	Name  string
	Value []byte
}

// ManifestFileInfo describes one manifest file a snapshot references. At
// spec 1 it is written to the snapshot's manifest_files list, at spec 2 to
// manifest_files_v2.
type ManifestFileInfo struct {
	ID           ObjectID
	SizeBytes    uint64
	NumChunkRefs uint32
	// Extra is spec-2 reserved opaque bytes (nil = absent; must be nil at
	// spec 1).
	Extra []byte
}

// Snapshot is the content of a snapshot file.
type Snapshot struct {
	// SpecVersion is the spec of the file: set by DecodeSnapshot from the
	// header, and required (1 or 2) by EncodeSnapshot, which writes exactly
	// that spec byte and layout.
	SpecVersion uint8
	ID          ObjectID
	// ParentID is nil for the initial snapshot. Spec-2 snapshots never
	// carry a parent (it lives in the repo object): EncodeSnapshot rejects
	// a non-nil ParentID at spec 2.
	ParentID *ObjectID
	// Nodes are sorted by Path.
	Nodes []Node
	// FlushedAt is the commit time in microseconds since the Unix epoch.
	FlushedAt uint64
	Message   string
	Metadata  []MetadataItem
	// ManifestFiles lists the manifest files the snapshot depends on, for
	// either spec (see ManifestFileInfo).
	ManifestFiles []ManifestFileInfo
	// Extra is spec-2 reserved opaque bytes (nil = absent; must be nil at
	// spec 1).
	Extra []byte
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
	// CompressedLocation is a spec-2 virtual reference's location
	// compressed with the manifest's LocationDictionary, kept opaque (nil =
	// absent). A virtual reference has a Location, a CompressedLocation or
	// both.
	CompressedLocation []byte
	// Extra is spec-2 reserved opaque bytes (nil = absent).
	Extra []byte
}

// ArrayManifest holds the chunk references of one array within a manifest,
// sorted by chunk index.
type ArrayManifest struct {
	NodeID NodeID
	Refs   []ChunkRef
	// Extra is spec-2 reserved opaque bytes (nil = absent).
	Extra []byte
}

// Location compression algorithms of a spec-2 manifest.
const (
	// LocationCompressionNone: virtual locations are plain strings. Spec-1
	// manifests always decode with this value.
	LocationCompressionNone uint8 = 0
	// LocationCompressionZstdDict: CompressedLocation fields are zstd
	// frames compressed with the manifest's LocationDictionary.
	LocationCompressionZstdDict uint8 = 1
)

// Manifest is the content of a manifest file. Arrays are sorted by node id.
type Manifest struct {
	// SpecVersion is the spec of the file (see Snapshot.SpecVersion).
	SpecVersion uint8
	ID          ObjectID
	Arrays      []ArrayManifest
	// Spec-2 fields; at spec 1 they must be nil / LocationCompressionNone.
	LocationDictionary   []byte
	CompressionAlgorithm uint8
	Extra                []byte
}

// ArrayUpdatedChunks lists the chunk indices of one array that a commit wrote
// or deleted.
type ArrayUpdatedChunks struct {
	NodeID NodeID
	Chunks [][]uint32
}

// MoveOperation records that a node changed path in a commit (spec 2).
type MoveOperation struct {
	From     string
	To       string
	NodeID   NodeID
	NodeType NodeType
}

// TransactionLog is the content of a transaction log file: what one commit
// changed. Its ID equals the ID of the snapshot it belongs to.
type TransactionLog struct {
	// SpecVersion is the spec of the file (see Snapshot.SpecVersion).
	SpecVersion   uint8
	ID            ObjectID
	NewGroups     []NodeID
	NewArrays     []NodeID
	DeletedGroups []NodeID
	DeletedArrays []NodeID
	UpdatedArrays []NodeID
	UpdatedGroups []NodeID
	UpdatedChunks []ArrayUpdatedChunks
	// MovedNodes is spec 2 only (must be empty at spec 1). The encoder sorts
	// it by To, segment-wise.
	MovedNodes []MoveOperation
	// Extra is spec-2 reserved opaque bytes (nil = absent).
	Extra []byte
}

// ShapeToV2 converts a spec-1 shape to the spec-2 form, as upstream does:
// the number of chunks along a dimension is ceil(array length / chunk
// length), 0 when the chunk length is 0.
func ShapeToV2(shape []DimensionShape) []DimensionShapeV2 {
	if shape == nil {
		return nil
	}
	out := make([]DimensionShapeV2, len(shape))
	for i, d := range shape {
		out[i].ArrayLength = d.ArrayLength
		if d.ChunkLength != 0 {
			n := d.ArrayLength / d.ChunkLength
			if d.ArrayLength%d.ChunkLength != 0 {
				n++
			}
			out[i].NumChunks = uint32(n)
		}
	}
	return out
}

// ShapeFromV2 converts a spec-2 shape to the spec-1 form, as upstream does
// when it writes a spec-1 snapshot: the chunk length is ceil(array length /
// number of chunks), 0 when there are no chunks. The result can differ from
// the array's real chunk length (the zarr.json document is authoritative),
// so prefer the chunk shape from the metadata when it is at hand.
func ShapeFromV2(shape []DimensionShapeV2) []DimensionShape {
	if shape == nil {
		return nil
	}
	out := make([]DimensionShape, len(shape))
	for i, d := range shape {
		out[i].ArrayLength = d.ArrayLength
		if d.NumChunks != 0 {
			n := uint64(d.NumChunks)
			out[i].ChunkLength = d.ArrayLength / n
			if d.ArrayLength%n != 0 {
				out[i].ChunkLength++
			}
		}
	}
	return out
}
