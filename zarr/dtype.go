package zarr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// DataType is a Zarr v3 data type name as written in "data_type".
type DataType string

// The data types this package can encode and decode. Other names are parsed
// and kept, but [DataType.Supported] reports false for them.
const (
	Bool    DataType = "bool"
	Int8    DataType = "int8"
	Int16   DataType = "int16"
	Int32   DataType = "int32"
	Int64   DataType = "int64"
	Uint8   DataType = "uint8"
	Uint16  DataType = "uint16"
	Uint32  DataType = "uint32"
	Uint64  DataType = "uint64"
	Float32 DataType = "float32"
	Float64 DataType = "float64"
)

// SupportedDataTypes lists every data type this package can encode and
// decode, in a fixed order.
var SupportedDataTypes = []DataType{Bool, Int8, Int16, Int32, Int64, Uint8, Uint16, Uint32, Uint64, Float32, Float64}

// Size is the number of bytes of one element, or 0 for an unsupported type.
func (d DataType) Size() int {
	switch d {
	case Bool, Int8, Uint8:
		return 1
	case Int16, Uint16:
		return 2
	case Int32, Uint32, Float32:
		return 4
	case Int64, Uint64, Float64:
		return 8
	}
	return 0
}

// Supported reports whether chunks of this type can be encoded and decoded.
func (d DataType) Supported() bool { return d.Size() != 0 }

// String returns the Zarr name of the type.
func (d DataType) String() string { return string(d) }

func (d DataType) isSigned() bool {
	return d == Int8 || d == Int16 || d == Int32 || d == Int64
}

func (d DataType) isUnsigned() bool {
	return d == Uint8 || d == Uint16 || d == Uint32 || d == Uint64
}

func (d DataType) isFloat() bool { return d == Float32 || d == Float64 }

// intRange is the value range of a signed integer type.
func (d DataType) intRange() (int64, int64) {
	switch d {
	case Int8:
		return math.MinInt8, math.MaxInt8
	case Int16:
		return math.MinInt16, math.MaxInt16
	case Int32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// uintMax is the largest value of an unsigned integer type.
func (d DataType) uintMax() uint64 {
	switch d {
	case Uint8:
		return math.MaxUint8
	case Uint16:
		return math.MaxUint16
	case Uint32:
		return math.MaxUint32
	}
	return math.MaxUint64
}

// FillKind says which Go value a [FillValue] holds.
type FillKind uint8

// The kinds of fill value.
const (
	// FillUnset is the zero FillValue: no fill value at all.
	FillUnset FillKind = iota
	// FillBool holds a bool.
	FillBool
	// FillInt holds an int64 (signed integer data types).
	FillInt
	// FillUint holds a uint64 (unsigned integer data types).
	FillUint
	// FillFloat holds a float64 (float data types), NaN and infinities included.
	FillFloat
	// FillRaw holds the raw JSON of the fill value of an unsupported data type.
	FillRaw
)

// FillValue is the parsed "fill_value" of an array. The zero value is unset.
// FillValue is comparable with ==, except that a NaN float never equals
// itself; use [FillValue.Equal] to compare NaNs by bit pattern.
type FillValue struct {
	kind FillKind
	b    bool
	i    int64
	u    uint64
	f    float64
	raw  string
}

// BoolFill is a boolean fill value.
func BoolFill(b bool) FillValue { return FillValue{kind: FillBool, b: b} }

// IntFill is a signed integer fill value.
func IntFill(i int64) FillValue { return FillValue{kind: FillInt, i: i} }

// UintFill is an unsigned integer fill value.
func UintFill(u uint64) FillValue { return FillValue{kind: FillUint, u: u} }

// FloatFill is a floating-point fill value (NaN and infinities allowed).
func FloatFill(f float64) FillValue { return FillValue{kind: FillFloat, f: f} }

// RawFill keeps the JSON of a fill value as is; it is meant for data types
// this package does not support. The JSON is compacted; invalid JSON gives an
// unset FillValue.
func RawFill(raw json.RawMessage) FillValue {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return FillValue{}
	}
	return FillValue{kind: FillRaw, raw: buf.String()}
}

// Kind says which value the fill value holds.
func (v FillValue) Kind() FillKind { return v.kind }

// Value returns the fill value as bool, int64, uint64, float64,
// json.RawMessage (FillRaw) or nil (FillUnset).
func (v FillValue) Value() any {
	switch v.kind {
	case FillBool:
		return v.b
	case FillInt:
		return v.i
	case FillUint:
		return v.u
	case FillFloat:
		return v.f
	case FillRaw:
		return json.RawMessage(v.raw)
	}
	return nil
}

// Float64 returns the fill value as a float64 (booleans as 0 or 1); raw and
// unset values give NaN.
func (v FillValue) Float64() float64 {
	switch v.kind {
	case FillBool:
		if v.b {
			return 1
		}
		return 0
	case FillInt:
		return float64(v.i)
	case FillUint:
		return float64(v.u)
	case FillFloat:
		return v.f
	}
	return math.NaN()
}

// Equal reports whether two fill values are the same; floats are compared by
// bit pattern, so NaN equals NaN.
func (v FillValue) Equal(o FillValue) bool {
	if v.kind == FillFloat && o.kind == FillFloat {
		return math.Float64bits(v.f) == math.Float64bits(o.f)
	}
	return v == o
}

// MarshalJSON writes the fill value the way Zarr v3 does: numbers, booleans,
// and the strings "NaN", "Infinity" and "-Infinity". An unset value is null.
func (v FillValue) MarshalJSON() ([]byte, error) {
	switch v.kind {
	case FillBool:
		return strconv.AppendBool(nil, v.b), nil
	case FillInt:
		return strconv.AppendInt(nil, v.i, 10), nil
	case FillUint:
		return strconv.AppendUint(nil, v.u, 10), nil
	case FillFloat:
		return []byte(formatFloat(v.f)), nil
	case FillRaw:
		return []byte(v.raw), nil
	}
	return []byte("null"), nil
}

// String is the JSON form of the fill value.
func (v FillValue) String() string {
	b, _ := v.MarshalJSON()
	return string(b)
}

// formatFloat writes a float as JSON, with non-finite values as the Zarr
// strings and integral values with a trailing ".0" (as Python writes them).
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return `"NaN"`
	case math.IsInf(f, 1):
		return `"Infinity"`
	case math.IsInf(f, -1):
		return `"-Infinity"`
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eE") {
		s += ".0"
	}
	return s
}

// ParseFillValue parses the JSON of a "fill_value" for an array of type dt.
// Floats accept numbers, "NaN", "Infinity", "-Infinity" and hex strings of
// the value's bit pattern ("0x7fc00000" for float32, 16 hex digits for
// float64). Integers accept integral numbers within the type's range; bool
// accepts true and false. For unsupported data types the raw JSON is kept.
func ParseFillValue(dt DataType, raw json.RawMessage) (FillValue, error) {
	raw = bytes.TrimSpace(raw)
	if !json.Valid(raw) {
		return FillValue{}, fmt.Errorf("fill_value is not valid JSON: %w", ErrInvalidMetadata)
	}
	if !dt.Supported() {
		return RawFill(raw), nil
	}
	if string(raw) == "null" {
		return FillValue{}, fmt.Errorf("fill_value is null (Zarr v3 requires a value): %w", ErrInvalidMetadata)
	}
	switch {
	case dt == Bool:
		switch string(raw) {
		case "true":
			return BoolFill(true), nil
		case "false":
			return BoolFill(false), nil
		}
		return FillValue{}, fmt.Errorf("fill_value %s is not a boolean: %w", raw, ErrInvalidMetadata)
	case dt.isSigned() || dt.isUnsigned():
		return parseIntFill(dt, raw)
	default:
		return parseFloatFill(dt, raw)
	}
}

func parseIntFill(dt DataType, raw json.RawMessage) (FillValue, error) {
	bad := func(why string) (FillValue, error) {
		return FillValue{}, fmt.Errorf("fill_value %s for %s: %s: %w", raw, dt, why, ErrInvalidMetadata)
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return bad("not a number")
	}
	lit := string(raw)
	var v FillValue
	if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
		v = IntFill(i)
	} else if u, err := strconv.ParseUint(lit, 10, 64); err == nil {
		v = UintFill(u)
	} else if f, err := strconv.ParseFloat(lit, 64); err == nil {
		v = FloatFill(f)
	} else {
		return bad("not a number")
	}
	out, err := v.intoInteger(dt)
	if err != nil {
		return bad(err.Error())
	}
	return out, nil
}

// intoInteger converts a numeric fill value into the integer kind of dt,
// checking range and integrality.
func (v FillValue) intoInteger(dt DataType) (FillValue, error) {
	var (
		neg  bool
		mag  uint64 // magnitude when neg, value otherwise
		asF  float64
		useF bool
	)
	switch v.kind {
	case FillBool:
		if v.b {
			mag = 1
		}
	case FillInt:
		if v.i < 0 {
			neg = true
			mag = uint64(-(v.i + 1)) + 1
		} else {
			mag = uint64(v.i)
		}
	case FillUint:
		mag = v.u
	case FillFloat:
		asF, useF = v.f, true
	default:
		return FillValue{}, fmt.Errorf("no numeric value")
	}
	if useF {
		if math.IsNaN(asF) || math.IsInf(asF, 0) || asF != math.Trunc(asF) {
			return FillValue{}, fmt.Errorf("%v is not an integer", asF)
		}
		if asF < 0 {
			if asF < -9.223372036854775808e18 {
				return FillValue{}, fmt.Errorf("%v is out of range", asF)
			}
			neg = true
			i := int64(asF)
			mag = uint64(-(i + 1)) + 1
		} else {
			if asF >= 1.8446744073709551616e19 {
				return FillValue{}, fmt.Errorf("%v is out of range", asF)
			}
			mag = uint64(asF)
		}
	}
	if neg && mag == 0 {
		neg = false
	}
	if dt.isUnsigned() {
		if neg {
			return FillValue{}, fmt.Errorf("negative value for an unsigned type")
		}
		if mag > dt.uintMax() {
			return FillValue{}, fmt.Errorf("%d is out of range", mag)
		}
		return UintFill(mag), nil
	}
	lo, hi := dt.intRange()
	if neg {
		if mag > uint64(-(lo+1))+1 {
			return FillValue{}, fmt.Errorf("-%d is out of range", mag)
		}
		return IntFill(-int64(mag-1) - 1), nil
	}
	if mag > uint64(hi) {
		return FillValue{}, fmt.Errorf("%d is out of range", mag)
	}
	return IntFill(int64(mag)), nil
}

func parseFloatFill(dt DataType, raw json.RawMessage) (FillValue, error) {
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return FillValue{}, fmt.Errorf("fill_value %s: %w", raw, ErrInvalidMetadata)
		}
		switch s {
		case "NaN":
			return FloatFill(math.NaN()), nil
		case "Infinity":
			return FloatFill(math.Inf(1)), nil
		case "-Infinity":
			return FloatFill(math.Inf(-1)), nil
		}
		if hex, ok := strings.CutPrefix(s, "0x"); ok && len(hex) == 2*dt.Size() {
			bits, err := strconv.ParseUint(hex, 16, 64)
			if err == nil {
				if dt == Float32 {
					return FloatFill(float64(math.Float32frombits(uint32(bits)))), nil
				}
				return FloatFill(math.Float64frombits(bits)), nil
			}
		}
		return FillValue{}, fmt.Errorf("fill_value %s for %s: want a number, \"NaN\", \"Infinity\", \"-Infinity\" or a %d-digit hex string \"0x...\": %w",
			raw, dt, 2*dt.Size(), ErrInvalidMetadata)
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return FillValue{}, fmt.Errorf("fill_value %s for %s is not a number: %w", raw, dt, ErrInvalidMetadata)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return FillValue{}, fmt.Errorf("fill_value %s for %s is out of range: %w", raw, dt, ErrInvalidMetadata)
	}
	return FloatFill(f), nil
}

// typed converts the fill value to a Go value of dt's element type
// (bool, int8, ..., float64).
func (v FillValue) typed(dt DataType) (any, error) {
	if !dt.Supported() {
		return nil, fmt.Errorf("data type %q: %w", dt, ErrUnsupported)
	}
	switch {
	case dt == Bool:
		switch v.kind {
		case FillBool:
			return v.b, nil
		case FillInt, FillUint, FillFloat:
			f := v.Float64()
			if f == 0 || f == 1 {
				return f == 1, nil
			}
		}
		return nil, fmt.Errorf("fill value %s does not fit bool: %w", v, ErrInvalidMetadata)
	case dt.isFloat():
		if v.kind == FillUnset || v.kind == FillRaw {
			return nil, fmt.Errorf("fill value %s does not fit %s: %w", v, dt, ErrInvalidMetadata)
		}
		if dt == Float32 {
			return float32(v.Float64()), nil
		}
		return v.Float64(), nil
	}
	iv, err := v.intoInteger(dt)
	if err != nil {
		return nil, fmt.Errorf("fill value %s does not fit %s: %v: %w", v, dt, err, ErrInvalidMetadata)
	}
	switch dt {
	case Int8:
		return int8(iv.i), nil
	case Int16:
		return int16(iv.i), nil
	case Int32:
		return int32(iv.i), nil
	case Int64:
		return iv.i, nil
	case Uint8:
		return uint8(iv.u), nil
	case Uint16:
		return uint16(iv.u), nil
	case Uint32:
		return uint32(iv.u), nil
	}
	return iv.u, nil
}

// normalize converts a fill value to the kind that fits dt (bool, int,
// uint or float), checking that it fits; unsupported types keep it as is.
func (v FillValue) normalize(dt DataType) (FillValue, error) {
	if !dt.Supported() {
		return v, nil
	}
	tv, err := v.typed(dt)
	if err != nil {
		return FillValue{}, err
	}
	switch x := tv.(type) {
	case bool:
		return BoolFill(x), nil
	case int8:
		return IntFill(int64(x)), nil
	case int16:
		return IntFill(int64(x)), nil
	case int32:
		return IntFill(int64(x)), nil
	case int64:
		return IntFill(x), nil
	case uint8:
		return UintFill(uint64(x)), nil
	case uint16:
		return UintFill(uint64(x)), nil
	case uint32:
		return UintFill(uint64(x)), nil
	case uint64:
		return UintFill(x), nil
	case float32:
		if v.kind == FillFloat {
			return v, nil // keep NaN payloads and float64 digits as given
		}
		return FloatFill(float64(x)), nil
	case float64:
		return FloatFill(x), nil
	}
	return FillValue{}, fmt.Errorf("fill value of type %T: %w", tv, ErrUnsupported)
}
