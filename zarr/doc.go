// Package zarr is the minimal Zarr v3 layer shared by the Icechunk format
// libraries, the CLI and the streamer.
//
// It has three jobs:
//
//   - metadata documents (zarr.json): [ParseMetadata] reads group and array
//     documents into [Metadata]; edits such as [Metadata.WithShape] splice the
//     new value into the original bytes so every untouched field (known or
//     unknown) keeps its exact bytes and order; [NewArray] and [NewGroup]
//     write fresh documents;
//   - keys of the Zarr v3 key space of a store: [ParseKey], [ChunkKey],
//     [MetadataKey] and the node path helpers;
//   - chunk codecs: the "bytes" array-to-bytes codec followed by any of the
//     "zstd", "gzip" and "crc32c" bytes-to-bytes codecs ([EncodeChunk],
//     [DecodeChunk], [FillChunk]), plus whole-array helpers ([ReadArray],
//     [WriteArray]).
//
// Chunk values are typed Go slices in C order: []bool, []int8, []int16,
// []int32, []int64, []uint8, []uint16, []uint32, []uint64, []float32 or
// []float64, matching the array's [DataType].
//
// Every failure is an error wrapping one of [ErrInvalidMetadata],
// [ErrInvalidKey], [ErrUnsupported], [ErrInvalidChunk] or [ErrInvalidValues];
// no input, however malformed, makes this package panic.
package zarr

import "errors"

// Sentinel errors. Every error returned by this package wraps one of them, so
// callers can classify failures with errors.Is.
var (
	// ErrInvalidMetadata marks a zarr.json document that is not valid Zarr v3
	// metadata (bad JSON, wrong zarr_format, missing or malformed fields).
	ErrInvalidMetadata = errors.New("invalid zarr metadata")
	// ErrInvalidKey marks a string that is not a key of the Zarr v3 key space,
	// or a node path that is not a valid absolute path.
	ErrInvalidKey = errors.New("invalid zarr key")
	// ErrUnsupported marks valid Zarr that this package cannot encode or
	// decode: an unknown codec or data type, a storage transformer, ...
	ErrUnsupported = errors.New("unsupported by this zarr implementation")
	// ErrInvalidChunk marks chunk bytes that cannot be decoded: corrupt
	// compressed data, a checksum mismatch, or a decoded size that does not
	// match the chunk shape.
	ErrInvalidChunk = errors.New("invalid zarr chunk")
	// ErrInvalidValues marks Go values handed to an encoder that do not fit the
	// array: wrong slice type for the data type, or wrong number of elements.
	ErrInvalidValues = errors.New("invalid chunk values")
)
