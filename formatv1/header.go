package formatv1

import (
	"errors"
	"fmt"
	"strings"
)

// Library identity, written into the header of every metadata file.
const (
	// SpecVersion is the on-disk format version this package reads and writes.
	SpecVersion = 1
	// Version is the version of this library.
	Version = "1.0.0"
	// ImplementationName is written into the header's 24-byte implementation
	// field (space padded).
	ImplementationName = "icerig-" + Version
)

// Header layout.
const (
	// Magic opens every metadata file: "ICE", U+1F9CA (ice cube), "CHUNK",
	// 12 bytes of UTF-8.
	Magic = "ICE\U0001F9CACHUNK"
	// HeaderSize is the size of the fixed header in front of the compressed
	// payload: magic (12), implementation name (24), spec version, file type
	// and compression (1 each).
	HeaderSize = len(Magic) + implementationFieldSize + 3

	implementationFieldSize = 24
)

// FileTypeRepoInfo is the file type of the spec-2 "repo" object. It never
// occurs in a spec-1 repository; decoders reject it as ErrUnsupportedSpec.
const FileTypeRepoInfo FileType = 6

// Compression is the compression byte of a metadata file header.
type Compression uint8

// CompressionZstd is the only compression spec 1 writes. (Upstream also
// names 0 "none" but never writes it and always decompresses with zstd, so
// this package rejects it.)
const CompressionZstd Compression = 1

// Errors wrapped by the decoders. Match them with errors.Is.
var (
	// ErrUnsupportedSpec reports an object (or repository) of a spec version
	// this library cannot handle, such as spec 2.
	ErrUnsupportedSpec = errors.New("unsupported Icechunk spec version")
	// ErrCorrupt reports bytes that are not a well-formed metadata file of
	// the expected kind: bad magic, wrong or unknown file type, unknown
	// compression, broken zstd, malformed flatbuffer, missing required field.
	ErrCorrupt = errors.New("corrupt Icechunk metadata object")
)

// Header is the decoded 39-byte header of a metadata file.
type Header struct {
	// Implementation is the writer's name with padding removed, e.g.
	// "ic-0.1.3" or "icerig-1.0.0".
	Implementation string
	SpecVersion    uint8
	FileType       FileType
	Compression    Compression
}

// String names the file type ("snapshot", "manifest", ...) for messages.
func (t FileType) String() string {
	switch t {
	case FileTypeSnapshot:
		return "snapshot"
	case FileTypeManifest:
		return "manifest"
	case FileTypeTransactionLog:
		return "transaction log"
	case FileTypeRepoInfo:
		return "repo info"
	}
	return fmt.Sprintf("file type %d", uint8(t))
}

// corruptf returns an error naming the object that wraps ErrCorrupt.
func corruptf(name, format string, args ...any) error {
	return fmt.Errorf("formatv1: %s: %s: %w", name, fmt.Sprintf(format, args...), ErrCorrupt)
}

// ParseHeader decodes the header at the start of data without judging the
// spec version, file type or compression it announces; it fails only when
// data is too short or lacks the magic. name is the object key, used in
// errors.
func ParseHeader(name string, data []byte) (Header, error) {
	if len(data) < HeaderSize {
		return Header{}, corruptf(name, "%d bytes is shorter than the %d-byte header", len(data), HeaderSize)
	}
	if string(data[:len(Magic)]) != Magic {
		return Header{}, corruptf(name, "bad magic bytes %q", data[:len(Magic)])
	}
	impl := data[len(Magic) : len(Magic)+implementationFieldSize]
	rest := data[len(Magic)+implementationFieldSize:]
	return Header{
		Implementation: strings.TrimRight(string(impl), " "),
		SpecVersion:    rest[0],
		FileType:       FileType(rest[1]),
		Compression:    Compression(rest[2]),
	}, nil
}

// checkHeader parses the header and accepts only spec 1, the wanted file
// type and zstd. The spec version is judged before the file type, so any
// object written at another spec reports ErrUnsupportedSpec.
func checkHeader(name string, data []byte, want FileType) error {
	h, err := ParseHeader(name, data)
	if err != nil {
		return err
	}
	if h.SpecVersion != SpecVersion {
		return fmt.Errorf("formatv1: %s: written by %q at spec version %d, this library (%s) reads only spec %d: %w",
			name, h.Implementation, h.SpecVersion, ImplementationName, SpecVersion, ErrUnsupportedSpec)
	}
	switch h.FileType {
	case FileTypeSnapshot, FileTypeManifest, FileTypeTransactionLog:
	case FileTypeRepoInfo:
		return fmt.Errorf("formatv1: %s: file type 6 (repo info) exists only in spec-2 repositories: %w", name, ErrUnsupportedSpec)
	default:
		return corruptf(name, "unknown file type %d", uint8(h.FileType))
	}
	if h.FileType != want {
		return corruptf(name, "is a %s file, want a %s file", h.FileType, want)
	}
	if h.Compression != CompressionZstd {
		return corruptf(name, "unknown compression %d (only 1 = zstd is supported)", uint8(h.Compression))
	}
	return nil
}

// appendHeader appends a spec-1 header for a file of type t to dst.
func appendHeader(dst []byte, t FileType) []byte {
	dst = append(dst, Magic...)
	impl := ImplementationName
	if len(impl) > implementationFieldSize {
		impl = impl[:implementationFieldSize]
	}
	dst = append(dst, impl...)
	for i := len(impl); i < implementationFieldSize; i++ {
		dst = append(dst, ' ')
	}
	return append(dst, SpecVersion, byte(t), byte(CompressionZstd))
}
