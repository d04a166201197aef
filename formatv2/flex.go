package formatv2

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
)

// A minimal FlexBuffers codec: the schema-less binary format upstream 2.x
// uses for spec-2 snapshot metadata values and for the configuration kept
// in the `repo` object. Values are nil, bool, signed and unsigned integers,
// floats, strings, byte blobs, vectors and maps with string keys.

// errFlex is wrapped by every FlexBuffers decoding error.
var errFlex = errors.New("malformed flexbuffer")

// FlexBuffers value types.
const (
	flexNull        = 0
	flexInt         = 1
	flexUint        = 2
	flexFloat       = 3
	flexKey         = 4
	flexString      = 5
	flexIndirectInt = 6
	flexIndirectU   = 7
	flexIndirectF   = 8
	flexMap         = 9
	flexVector      = 10
	flexVectorInt   = 11
	flexVectorUint  = 12
	flexVectorFloat = 13
	flexVectorKey   = 14
	flexVectorStr   = 15
	flexVectorInt2  = 16 // first of the fixed-length typed vectors
	flexVectorFlt4  = 24 // last of them
	flexBlob        = 25
	flexBool        = 26
	flexVectorBool  = 36
)

// maxFlexDepth bounds the nesting of decoded vectors and maps.
const maxFlexDepth = 64

// ---------------------------------------------------------------------------
// Encoding.

// flexEncoder builds a buffer front to back: children are written before
// the vectors and maps that point at them, so every offset points back.
type flexEncoder struct {
	buf []byte
}

// flexSlot is an encoded value as its parent stores it: inline (a scalar)
// or an offset to a child written earlier.
type flexSlot struct {
	typ    int
	inline bool
	ival   int64   // flexInt, flexBool, flexNull
	uval   uint64  // flexUint
	fval   float64 // flexFloat
	pos    int     // offset types: position of the child
	width  int     // scalars: bytes the value needs; offsets: the child's element width
}

func widthOfInt(v int64) int {
	switch {
	case v >= math.MinInt8 && v <= math.MaxInt8:
		return 1
	case v >= math.MinInt16 && v <= math.MaxInt16:
		return 2
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return 4
	}
	return 8
}

func widthOfUint(v uint64) int {
	switch {
	case v <= math.MaxUint8:
		return 1
	case v <= math.MaxUint16:
		return 2
	case v <= math.MaxUint32:
		return 4
	}
	return 8
}

func widthCode(w int) byte {
	switch w {
	case 1:
		return 0
	case 2:
		return 1
	case 4:
		return 2
	}
	return 3
}

// packedType is the type byte a parent stores for s.
func (s flexSlot) packedType() byte { return byte(s.typ<<2) | widthCode(s.width) }

// fits reports whether s can be stored in a slot of width w at position at.
func (s flexSlot) fits(w, at int) bool {
	if s.inline {
		return s.width <= w
	}
	return widthOfUint(uint64(at-s.pos)) <= w
}

func (e *flexEncoder) pad(w int) {
	for len(e.buf)%w != 0 {
		e.buf = append(e.buf, 0)
	}
}

func (e *flexEncoder) putUint(v uint64, w int) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	e.buf = append(e.buf, b[:w]...)
}

// putSlot writes s into a slot of width w at the end of the buffer.
func (e *flexEncoder) putSlot(s flexSlot, w int) {
	switch {
	case !s.inline:
		e.putUint(uint64(len(e.buf)-s.pos), w)
	case s.typ == flexUint:
		e.putUint(s.uval, w)
	case s.typ == flexFloat:
		if w == 4 {
			e.putUint(uint64(math.Float32bits(float32(s.fval))), 4)
		} else {
			e.putUint(math.Float64bits(s.fval), 8)
		}
	default:
		e.putUint(uint64(s.ival), w)
	}
}

// blobLike writes a string, key or blob and returns its slot.
func (e *flexEncoder) blobLike(typ int, data []byte) flexSlot {
	if typ == flexKey {
		pos := len(e.buf)
		e.buf = append(e.buf, data...)
		e.buf = append(e.buf, 0)
		return flexSlot{typ: flexKey, pos: pos, width: 1}
	}
	w := widthOfUint(uint64(len(data)))
	e.pad(w)
	e.putUint(uint64(len(data)), w)
	pos := len(e.buf)
	e.buf = append(e.buf, data...)
	if typ == flexString {
		e.buf = append(e.buf, 0)
	}
	return flexSlot{typ: typ, pos: pos, width: w}
}

// vector writes an untyped vector (or, with keys, a map) of elems and
// returns its slot. prefix are slots written before the length (a map's
// keys vector offset and keys width).
func (e *flexEncoder) vector(typ int, prefix []flexSlot, elems []flexSlot, typed bool) flexSlot {
	n := len(elems)
	w := 8
	for _, cand := range []int{1, 2, 4} {
		if e.vectorFits(cand, prefix, elems) {
			w = cand
			break
		}
	}
	e.pad(w)
	for _, p := range prefix {
		e.putSlot(p, w)
	}
	e.putUint(uint64(n), w)
	pos := len(e.buf)
	for _, el := range elems {
		e.putSlot(el, w)
	}
	if !typed {
		for _, el := range elems {
			e.buf = append(e.buf, el.packedType())
		}
	}
	return flexSlot{typ: typ, pos: pos, width: w}
}

// vectorFits reports whether a vector with these slots can use width w
// when written at the end of the buffer.
func (e *flexEncoder) vectorFits(w int, prefix, elems []flexSlot) bool {
	at := len(e.buf)
	if r := at % w; r != 0 {
		at += w - r
	}
	for _, p := range prefix {
		if !p.fits(w, at) {
			return false
		}
		at += w
	}
	if widthOfUint(uint64(len(elems))) > w {
		return false
	}
	at += w
	for _, el := range elems {
		if !el.fits(w, at) {
			return false
		}
		at += w
	}
	return true
}

// value encodes v and returns its slot.
func (e *flexEncoder) value(v reflect.Value, depth int) (flexSlot, error) {
	if depth > maxFlexDepth {
		return flexSlot{}, fmt.Errorf("nested deeper than %d levels", maxFlexDepth)
	}
	if !v.IsValid() {
		return flexSlot{typ: flexNull, inline: true, width: 1}, nil
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return flexSlot{typ: flexNull, inline: true, width: 1}, nil
		}
		return e.value(v.Elem(), depth)
	case reflect.Bool:
		b := int64(0)
		if v.Bool() {
			b = 1
		}
		return flexSlot{typ: flexBool, inline: true, ival: b, width: 1}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return flexSlot{typ: flexInt, inline: true, ival: v.Int(), width: widthOfInt(v.Int())}, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return flexSlot{typ: flexUint, inline: true, uval: v.Uint(), width: widthOfUint(v.Uint())}, nil
	case reflect.Float32, reflect.Float64:
		return flexSlot{typ: flexFloat, inline: true, fval: v.Float(), width: 8}, nil
	case reflect.String:
		return e.blobLike(flexString, []byte(v.String())), nil
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return e.blobLike(flexBlob, v.Bytes()), nil
		}
		elems := make([]flexSlot, v.Len())
		for i := range elems {
			s, err := e.value(v.Index(i), depth+1)
			if err != nil {
				return flexSlot{}, err
			}
			elems[i] = s
		}
		return e.vector(flexVector, nil, elems, false), nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return flexSlot{}, fmt.Errorf("map with %s keys (want string keys)", v.Type().Key())
		}
		keys := make([]string, 0, v.Len())
		for _, k := range v.MapKeys() {
			keys = append(keys, k.String())
		}
		sort.Strings(keys) // maps are sorted by key bytes
		keySlots := make([]flexSlot, len(keys))
		for i, k := range keys {
			keySlots[i] = e.blobLike(flexKey, []byte(k))
		}
		kv := e.vector(flexVectorKey, nil, keySlots, true)
		vals := make([]flexSlot, len(keys))
		for i, k := range keys {
			s, err := e.value(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())), depth+1)
			if err != nil {
				return flexSlot{}, err
			}
			vals[i] = s
		}
		prefix := []flexSlot{kv, {typ: flexUint, inline: true, uval: uint64(kv.width), width: 1}}
		return e.vector(flexMap, prefix, vals, false), nil
	}
	return flexSlot{}, fmt.Errorf("cannot encode a %s", v.Type())
}

// encodeFlexValue encodes a Go value (nil, bool, integers, floats, string,
// []byte, slices and maps with string keys, pointers to those) as a
// FlexBuffer.
func encodeFlexValue(v any) ([]byte, error) {
	e := &flexEncoder{}
	root, err := e.value(reflect.ValueOf(v), 0)
	if err != nil {
		return nil, fmt.Errorf("formatv2: encode flexbuffer: %w", err)
	}
	for _, w := range []int{1, 2, 4, 8} {
		start := len(e.buf)
		if r := start % w; r != 0 {
			start += w - r
		}
		if root.fits(w, start) || w == 8 {
			e.pad(w)
			e.putSlot(root, w)
			e.buf = append(e.buf, root.packedType(), byte(w))
			break
		}
	}
	return e.buf, nil
}

// ---------------------------------------------------------------------------
// Decoding.

type flexDecoder struct {
	b      []byte
	budget int // values left to decode: bounds work on hostile input
}

func (d *flexDecoder) errf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errFlex, fmt.Sprintf(format, args...))
}

// readUint reads an unsigned little-endian integer of width w at pos.
func (d *flexDecoder) readUint(pos, w int) (uint64, error) {
	if pos < 0 || w <= 0 || pos+w > len(d.b) || pos+w < pos {
		return 0, d.errf("read of %d bytes at %d is outside the %d-byte buffer", w, pos, len(d.b))
	}
	var b [8]byte
	copy(b[:], d.b[pos:pos+w])
	return binary.LittleEndian.Uint64(b[:]), nil
}

func (d *flexDecoder) readInt(pos, w int) (int64, error) {
	u, err := d.readUint(pos, w)
	if err != nil {
		return 0, err
	}
	shift := uint(64 - 8*w)
	return int64(u<<shift) >> shift, nil
}

func (d *flexDecoder) readFloat(pos, w int) (float64, error) {
	u, err := d.readUint(pos, w)
	if err != nil {
		return 0, err
	}
	switch w {
	case 4:
		return float64(math.Float32frombits(uint32(u))), nil
	case 8:
		return math.Float64frombits(u), nil
	}
	return 0, d.errf("float of width %d", w)
}

// deref follows the offset stored in the slot at pos (width w).
func (d *flexDecoder) deref(pos, w int) (int, error) {
	off, err := d.readUint(pos, w)
	if err != nil {
		return 0, err
	}
	if off > uint64(pos) {
		return 0, d.errf("offset %d at %d points before the buffer", off, pos)
	}
	return pos - int(off), nil
}

// length reads the element count stored just before pos.
func (d *flexDecoder) length(pos, w int) (int, error) {
	n, err := d.readUint(pos-w, w)
	if err != nil {
		return 0, err
	}
	if n > uint64(len(d.b)) {
		return 0, d.errf("length %d exceeds the buffer", n)
	}
	return int(n), nil
}

// value decodes the value in the slot at pos of a parent of width
// parentW, with packed type byte packed.
func (d *flexDecoder) value(pos, parentW int, packed byte, depth int) (any, error) {
	if depth > maxFlexDepth {
		return nil, d.errf("nested deeper than %d levels", maxFlexDepth)
	}
	if d.budget--; d.budget < 0 {
		return nil, d.errf("too many values")
	}
	typ := int(packed >> 2)
	childW := 1 << (packed & 3)
	switch typ {
	case flexNull:
		return nil, nil
	case flexBool:
		v, err := d.readUint(pos, parentW)
		return v != 0, err
	case flexInt:
		return d.readInt(pos, parentW)
	case flexUint:
		return d.readUint(pos, parentW)
	case flexFloat:
		return d.readFloat(pos, parentW)
	}
	target, err := d.deref(pos, parentW)
	if err != nil {
		return nil, err
	}
	switch typ {
	case flexIndirectInt:
		return d.readInt(target, childW)
	case flexIndirectU:
		return d.readUint(target, childW)
	case flexIndirectF:
		return d.readFloat(target, childW)
	case flexKey:
		return d.key(target)
	case flexString, flexBlob:
		n, err := d.length(target, childW)
		if err != nil {
			return nil, err
		}
		if target+n > len(d.b) {
			return nil, d.errf("%d bytes at %d run past the buffer", n, target)
		}
		if typ == flexString {
			return string(d.b[target : target+n]), nil
		}
		return slices.Clone(d.b[target : target+n]), nil
	case flexVector, flexMap:
		n, err := d.length(target, childW)
		if err != nil {
			return nil, err
		}
		types := target + n*childW
		if types < target || types+n > len(d.b) {
			return nil, d.errf("vector of %d elements at %d runs past the buffer", n, target)
		}
		vals := make([]any, n)
		for i := range vals {
			v, err := d.value(target+i*childW, childW, d.b[types+i], depth+1)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
		if typ == flexVector {
			return vals, nil
		}
		keysPos, err := d.deref(target-3*childW, childW)
		if err != nil {
			return nil, err
		}
		kw, err := d.readUint(target-2*childW, childW)
		if err != nil {
			return nil, err
		}
		if kw != 1 && kw != 2 && kw != 4 && kw != 8 {
			return nil, d.errf("map keys of width %d", kw)
		}
		nk, err := d.length(keysPos, int(kw))
		if err != nil {
			return nil, err
		}
		if nk != n {
			return nil, d.errf("map of %d values has %d keys", n, nk)
		}
		m := make(map[string]any, n)
		for i := range n {
			kp, err := d.deref(keysPos+i*int(kw), int(kw))
			if err != nil {
				return nil, err
			}
			k, err := d.key(kp)
			if err != nil {
				return nil, err
			}
			m[k] = vals[i]
		}
		return m, nil
	}
	if (typ >= flexVectorInt && typ <= flexVectorKey) || typ == flexVectorStr || typ == flexVectorBool ||
		(typ >= flexVectorInt2 && typ <= flexVectorFlt4) {
		return d.typedVector(typ, target, childW, depth)
	}
	return nil, d.errf("unknown value type %d", typ)
}

// typedVector decodes a vector whose elements share one type.
func (d *flexDecoder) typedVector(typ, target, w, depth int) (any, error) {
	var elem, n int
	var err error
	switch {
	case typ >= flexVectorInt && typ <= flexVectorKey:
		elem = typ - flexVectorInt + flexInt
		n, err = d.length(target, w)
	case typ == flexVectorStr:
		elem = flexString
		n, err = d.length(target, w)
	case typ == flexVectorBool:
		elem = flexBool
		n, err = d.length(target, w)
	default: // fixed-length typed vectors of 2, 3 or 4 elements
		k := typ - flexVectorInt2
		elem = k%3 + flexInt
		n = k/3 + 2
	}
	if err != nil {
		return nil, err
	}
	if target+n*w > len(d.b) || target+n*w < target {
		return nil, d.errf("typed vector of %d elements at %d runs past the buffer", n, target)
	}
	out := make([]any, n)
	for i := range out {
		packed := byte(elem<<2) | widthCode(w)
		v, err := d.value(target+i*w, w, packed, depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// key reads a NUL-terminated key at pos.
func (d *flexDecoder) key(pos int) (string, error) {
	if pos < 0 || pos >= len(d.b) {
		return "", d.errf("key at %d is outside the buffer", pos)
	}
	for i := pos; i < len(d.b); i++ {
		if d.b[i] == 0 {
			return string(d.b[pos:i]), nil
		}
	}
	return "", d.errf("key at %d is not terminated", pos)
}

// decodeFlexValue decodes a FlexBuffer into nil, bool, int64, uint64,
// float64, string, []byte, []any or map[string]any. Malformed input is an
// error wrapping errFlex, never a panic.
func decodeFlexValue(b []byte) (any, error) {
	if len(b) < 3 {
		return nil, fmt.Errorf("formatv2: decode flexbuffer: %w: %d bytes", errFlex, len(b))
	}
	d := &flexDecoder{b: b, budget: 8 * len(b)}
	w := int(b[len(b)-1])
	if w != 1 && w != 2 && w != 4 && w != 8 {
		return nil, fmt.Errorf("formatv2: decode flexbuffer: %w: root width %d", errFlex, w)
	}
	packed := b[len(b)-2]
	pos := len(b) - 2 - w
	if pos < 0 {
		return nil, fmt.Errorf("formatv2: decode flexbuffer: %w: root does not fit", errFlex)
	}
	v, err := d.value(pos, w, packed, 0)
	if err != nil {
		return nil, fmt.Errorf("formatv2: decode flexbuffer: %w", err)
	}
	return v, nil
}
