package formatv2

import (
	"errors"
	"fmt"
	"io"
)

// crockford is the Crockford base32 alphabet used for the text form of ids.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Text lengths of ids: ceil(bits/5) characters, no padding.
const (
	objectIDTextLen = (len(ObjectID{})*8 + 4) / 5 // 20
	nodeIDTextLen   = (len(NodeID{})*8 + 4) / 5   // 13
)

// ErrInvalidID is wrapped by ParseObjectID and ParseNodeID when the text is
// not the canonical form of an id.
var ErrInvalidID = errors.New("invalid id")

// crockfordValue maps an upper-case alphabet character to its 5-bit value, or
// -1 for any other byte.
var crockfordValue = func() [256]int8 {
	var t [256]int8
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(crockford); i++ {
		t[crockford[i]] = int8(i)
	}
	return t
}()

// encodeBase32 writes b as Crockford base32, most significant bit first; the
// last character is padded with zero bits.
func encodeBase32(b []byte) string {
	out := make([]byte, 0, (len(b)*8+4)/5)
	var acc uint32
	bits := 0
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, crockford[(acc>>uint(bits))&31])
		}
	}
	if bits > 0 {
		out = append(out, crockford[(acc<<uint(5-bits))&31])
	}
	return string(out)
}

// decodeBase32 fills dst from the canonical Crockford text s. It accepts only
// the exact length, upper-case alphabet characters, and zero padding bits,
// so every id has exactly one accepted text form.
func decodeBase32(kind, s string, dst []byte) error {
	want := (len(dst)*8 + 4) / 5
	if len(s) != want {
		return fmt.Errorf("formatv2: %s %q: length %d, want %d: %w", kind, s, len(s), want, ErrInvalidID)
	}
	var acc uint32
	bits := 0
	n := 0
	for i := 0; i < len(s); i++ {
		v := crockfordValue[s[i]]
		if v < 0 {
			return fmt.Errorf("formatv2: %s %q: character %q at %d is not upper-case Crockford base32: %w", kind, s, s[i], i, ErrInvalidID)
		}
		acc = acc<<5 | uint32(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			dst[n] = byte(acc >> uint(bits))
			n++
		}
	}
	if acc&(1<<uint(bits)-1) != 0 {
		return fmt.Errorf("formatv2: %s %q: non-zero padding bits in last character: %w", kind, s, ErrInvalidID)
	}
	return nil
}

// String returns the 20-character upper-case Crockford base32 form of id, as
// used in object keys ("snapshots/<ID>") and ref files.
func (id ObjectID) String() string { return encodeBase32(id[:]) }

// String returns the 13-character upper-case Crockford base32 form of id.
func (id NodeID) String() string { return encodeBase32(id[:]) }

// ParseObjectID parses the text form written by ObjectID.String.
//
// Parsing is strict: exactly 20 characters of the upper-case alphabet
// "0-9A-Z" without I, L, O, U, and zero padding bits. Lower-case letters and
// the Crockford aliases (O for 0, I/L for 1) are rejected even though
// upstream Icechunk's reader tolerates them: upstream never writes them, and
// accepting them would give one id several spellings, hence several object
// keys. Callers taking ids from humans may upper-case first.
func ParseObjectID(s string) (ObjectID, error) {
	var id ObjectID
	err := decodeBase32("object id", s, id[:])
	return id, err
}

// ParseNodeID parses the 13-character text form written by NodeID.String,
// with the same strictness as ParseObjectID.
func ParseNodeID(s string) (NodeID, error) {
	var id NodeID
	err := decodeBase32("node id", s, id[:])
	return id, err
}

// NewObjectID reads a fresh random id from r (crypto/rand.Reader in
// production, a seeded source in tests).
func NewObjectID(r io.Reader) (ObjectID, error) {
	var id ObjectID
	if _, err := io.ReadFull(r, id[:]); err != nil {
		return ObjectID{}, fmt.Errorf("formatv2: new object id: %w", err)
	}
	return id, nil
}

// NewNodeID reads a fresh random node id from r.
func NewNodeID(r io.Reader) (NodeID, error) {
	var id NodeID
	if _, err := io.ReadFull(r, id[:]); err != nil {
		return NodeID{}, fmt.Errorf("formatv2: new node id: %w", err)
	}
	return id, nil
}
