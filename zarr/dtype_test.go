package zarr

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDataTypeSizes(t *testing.T) {
	want := map[DataType]int{Bool: 1, Int8: 1, Uint8: 1, Int16: 2, Uint16: 2, Int32: 4, Uint32: 4, Float32: 4, Int64: 8, Uint64: 8, Float64: 8}
	require.Len(t, SupportedDataTypes, len(want))
	for _, dt := range SupportedDataTypes {
		require.Equal(t, want[dt], dt.Size(), dt)
		require.True(t, dt.Supported(), dt)
	}
	for _, dt := range []DataType{"complex64", "float16", "string", "", "r16"} {
		require.Zero(t, dt.Size())
		require.False(t, dt.Supported())
	}
	require.Equal(t, "float32", Float32.String())
}

func TestParseFillValue(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		dt   DataType
		raw  string
		want FillValue
	}{
		{Float32, `"NaN"`, FloatFill(nan)},
		{Float64, `"NaN"`, FloatFill(nan)},
		{Float32, `"Infinity"`, FloatFill(math.Inf(1))},
		{Float64, `"-Infinity"`, FloatFill(math.Inf(-1))},
		{Float32, `0`, FloatFill(0)},
		{Float64, `42.0`, FloatFill(42)},
		{Float64, `-1.5e3`, FloatFill(-1500)},
		{Float64, ` 2 `, FloatFill(2)},
		{Float32, `"0x3f800000"`, FloatFill(1)},
		{Float32, `"0x7fc00000"`, FloatFill(float64(math.Float32frombits(0x7fc00000)))},
		{Float64, `"0x3ff0000000000000"`, FloatFill(1)},
		{Float64, `"0x7FF8000000000000"`, FloatFill(math.Float64frombits(0x7ff8000000000000))},
		{Int8, `8`, IntFill(8)},
		{Int8, `-128`, IntFill(-128)},
		{Int8, `127`, IntFill(127)},
		{Int8, `8.0`, IntFill(8)},
		{Int16, `-32768`, IntFill(-32768)},
		{Int32, `1e3`, IntFill(1000)},
		{Int64, `-9223372036854775808`, IntFill(math.MinInt64)},
		{Int64, `9223372036854775807`, IntFill(math.MaxInt64)},
		{Uint8, `255`, UintFill(255)},
		{Uint16, `0`, UintFill(0)},
		{Uint32, `4294967295`, UintFill(math.MaxUint32)},
		{Uint64, `18446744073709551615`, UintFill(math.MaxUint64)},
		{Uint8, `-0`, UintFill(0)},
		{Bool, `true`, BoolFill(true)},
		{Bool, `false`, BoolFill(false)},
		{"complex64", `[1.0, "NaN"]`, RawFill(json.RawMessage(`[1.0,"NaN"]`))},
		{"string", `""`, RawFill(json.RawMessage(`""`))},
	}
	for _, c := range cases {
		got, err := ParseFillValue(c.dt, json.RawMessage(c.raw))
		require.NoError(t, err, "%s %s", c.dt, c.raw)
		require.True(t, c.want.Equal(got), "%s %s: got %v want %v", c.dt, c.raw, got, c.want)
		// Writing the value and reading it back gives the same value.
		b, err := json.Marshal(got)
		require.NoError(t, err)
		again, err := ParseFillValue(c.dt, b)
		require.NoError(t, err, "%s %s", c.dt, b)
		if c.dt.isFloat() && math.IsNaN(got.Float64()) {
			require.True(t, math.IsNaN(again.Float64()))
		} else {
			require.True(t, got.Equal(again), "%s: %s", c.dt, b)
		}
	}

	bad := []struct {
		dt  DataType
		raw string
	}{
		{Float32, `"nan"`},
		{Float32, `"inf"`},
		{Float32, `"0x7fc0"`},
		{Float32, `"0x3ff0000000000000"`},
		{Float64, `"0xZZZZZZZZZZZZZZZZ"`},
		{Float64, `null`},
		{Float64, `true`},
		{Float64, `[1]`},
		{Float64, `1e999`},
		{Float64, `NaN`},
		{Float64, ``},
		{Int8, `128`},
		{Int8, `-129`},
		{Int8, `8.5`},
		{Int8, `"8"`},
		{Int8, `true`},
		{Int64, `9223372036854775808`},
		{Int64, `1e30`},
		{Uint8, `256`},
		{Uint8, `-1`},
		{Uint64, `18446744073709551616`},
		{Uint64, `-1e3`},
		{Bool, `1`},
		{Bool, `"true"`},
		{Bool, `null`},
	}
	for _, c := range bad {
		_, err := ParseFillValue(c.dt, json.RawMessage(c.raw))
		require.ErrorIs(t, err, ErrInvalidMetadata, "%s %s", c.dt, c.raw)
	}
}

func TestFillValueJSONAndAccessors(t *testing.T) {
	for _, c := range []struct {
		v    FillValue
		want string
		val  any
	}{
		{FloatFill(math.NaN()), `"NaN"`, nil},
		{FloatFill(math.Inf(1)), `"Infinity"`, math.Inf(1)},
		{FloatFill(math.Inf(-1)), `"-Infinity"`, math.Inf(-1)},
		{FloatFill(42), `42.0`, 42.0},
		{FloatFill(-0.25), `-0.25`, -0.25},
		{FloatFill(1e300), `1e+300`, 1e300},
		{IntFill(-3), `-3`, int64(-3)},
		{UintFill(7), `7`, uint64(7)},
		{BoolFill(true), `true`, true},
		{RawFill(json.RawMessage(` [ 1 ] `)), `[1]`, json.RawMessage(`[1]`)},
		{FillValue{}, `null`, nil},
	} {
		b, err := json.Marshal(c.v)
		require.NoError(t, err)
		require.Equal(t, c.want, string(b))
		require.Equal(t, c.want, c.v.String())
		if c.val != nil {
			require.Equal(t, c.val, c.v.Value())
		}
	}
	require.Equal(t, FillFloat, FloatFill(1).Kind())
	require.Equal(t, FillUnset, RawFill(json.RawMessage(`{`)).Kind())
	require.Equal(t, 1.0, BoolFill(true).Float64())
	require.Equal(t, 0.0, BoolFill(false).Float64())
	require.True(t, math.IsNaN(FillValue{}.Float64()))
	require.True(t, FloatFill(math.NaN()).Equal(FloatFill(math.NaN())))
	require.False(t, FloatFill(1).Equal(IntFill(1)))
	require.Equal(t, IntFill(3), IntFill(3))
}

func TestFillValueTyped(t *testing.T) {
	cases := []struct {
		dt   DataType
		v    FillValue
		want any
	}{
		{Bool, BoolFill(true), true},
		{Bool, IntFill(0), false},
		{Int8, IntFill(-5), int8(-5)},
		{Int16, UintFill(300), int16(300)},
		{Int32, FloatFill(7), int32(7)},
		{Int64, IntFill(math.MinInt64), int64(math.MinInt64)},
		{Uint8, IntFill(200), uint8(200)},
		{Uint16, BoolFill(true), uint16(1)},
		{Uint32, UintFill(math.MaxUint32), uint32(math.MaxUint32)},
		{Uint64, UintFill(math.MaxUint64), uint64(math.MaxUint64)},
		{Float32, FloatFill(1.5), float32(1.5)},
		{Float64, IntFill(-2), float64(-2)},
	}
	for _, c := range cases {
		got, err := c.v.typed(c.dt)
		require.NoError(t, err, c.dt)
		require.Equal(t, c.want, got, c.dt)
	}
	for _, c := range []struct {
		dt DataType
		v  FillValue
	}{
		{Bool, IntFill(2)}, {Int8, IntFill(200)}, {Uint8, IntFill(-1)}, {Int32, FloatFill(0.5)},
		{Int64, FloatFill(math.NaN())}, {Float32, FillValue{}}, {Float64, RawFill(json.RawMessage(`1`))},
		{Bool, FillValue{}}, {Uint64, FloatFill(math.Inf(1))},
	} {
		_, err := c.v.typed(c.dt)
		require.ErrorIs(t, err, ErrInvalidMetadata, "%s %v", c.dt, c.v)
	}
	_, err := IntFill(1).typed("complex64")
	require.ErrorIs(t, err, ErrUnsupported)
}
