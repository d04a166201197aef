package formatv2

import (
	"errors"
	"fmt"
	"strings"
)

// Library identity, written into the header of every metadata file.
const (
	// Version is the version of this library.
	Version = "2.0.0"
	// ImplementationName is written into the header's 24-byte implementation
	// field (space padded).
	ImplementationName = "icerig-" + Version
)

// Spec versions the codec reads and writes. The spec byte of a file's header
// says which layout its payload uses. (repository.go exports the same
// values as SpecVersion1 and SpecVersion2.)
const (
	spec1 uint8 = 1
	spec2 uint8 = 2
	// MaxSpecVersion is the newest spec this library understands; objects
	// of a later spec fail with ErrUnsupportedSpec.
	MaxSpecVersion uint8 = spec2
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

// Compression is the compression byte of a metadata file header.
type Compression uint8

// CompressionZstd is the only compression this library writes. (Upstream
// also names 0 "none" but never writes it, so this package rejects it.)
const CompressionZstd Compression = 1

// Errors wrapped by the decoders. Match them with errors.Is.
var (
	// ErrUnsupportedSpec reports an object (or repository) of a spec version
	// this library cannot handle (a spec byte above MaxSpecVersion).
	ErrUnsupportedSpec = errors.New("unsupported Icechunk spec version")
	// ErrCorrupt reports bytes that are not a well-formed metadata file of
	// the expected kind: bad magic, spec byte 0, wrong or unknown file type,
	// unknown compression, broken zstd, malformed flatbuffer, missing
	// required field.
	ErrCorrupt = errors.New("corrupt Icechunk metadata object")
)

// Header is the decoded 39-byte header of a metadata file.
type Header struct {
	// Implementation is the writer's name with padding removed, e.g.
	// "ic-0.1.3" or "icerig-2.0.0".
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
	return fmt.Errorf("formatv2: %s: %s: %w", name, fmt.Sprintf(format, args...), ErrCorrupt)
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

// checkHeader parses the header, accepts spec 1 and 2, the wanted file type
// and zstd, and returns the spec version. The spec version is judged before
// the file type, so any object of a newer spec reports ErrUnsupportedSpec.
// A repo info object (file type 6) is accepted only at spec 2.
func checkHeader(name string, data []byte, want FileType) (uint8, error) {
	h, err := ParseHeader(name, data)
	if err != nil {
		return 0, err
	}
	switch {
	case h.SpecVersion == 0:
		return 0, corruptf(name, "spec version byte is 0")
	case h.SpecVersion > MaxSpecVersion:
		return 0, fmt.Errorf("formatv2: %s: written by %q at spec version %d, this library (%s) reads specs 1 to %d: %w",
			name, h.Implementation, h.SpecVersion, ImplementationName, MaxSpecVersion, ErrUnsupportedSpec)
	}
	switch h.FileType {
	case FileTypeSnapshot, FileTypeManifest, FileTypeTransactionLog:
	case FileTypeRepoInfo:
		if h.SpecVersion < spec2 {
			return 0, corruptf(name, "repo info file at spec version %d (repo info exists only at spec 2)", h.SpecVersion)
		}
	default:
		return 0, corruptf(name, "unknown file type %d", uint8(h.FileType))
	}
	if h.FileType != want {
		return 0, corruptf(name, "is a %s file, want a %s file", h.FileType, want)
	}
	if h.Compression != CompressionZstd {
		return 0, corruptf(name, "unknown compression %d (only 1 = zstd is supported)", uint8(h.Compression))
	}
	return h.SpecVersion, nil
}

// checkEncodeSpec rejects a spec version an encoder cannot write. There is
// no default: a value that does not say which spec it is for is an error,
// so a spec-2 byte can never be stamped into a spec-1 repository by
// accident.
func checkEncodeSpec(kind string, id ObjectID, spec uint8) error {
	if spec != spec1 && spec != spec2 {
		return encodeErr(kind, id, "SpecVersion is %d, must be %d or %d", spec, spec1, spec2)
	}
	return nil
}

// appendHeader appends the header of a file of type t at spec version spec.
func appendHeader(dst []byte, spec uint8, t FileType) []byte {
	dst = append(dst, Magic...)
	impl := ImplementationName
	if len(impl) > implementationFieldSize {
		impl = impl[:implementationFieldSize]
	}
	dst = append(dst, impl...)
	for i := len(impl); i < implementationFieldSize; i++ {
		dst = append(dst, ' ')
	}
	return append(dst, spec, byte(t), byte(CompressionZstd))
}
