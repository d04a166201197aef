package formatv2

import (
	flatbuffers "github.com/google/flatbuffers/go"

	"github.com/icerig/icerig/formatv2/internal/fbv2"
)

// createObjectID12 writes id as an inline ObjectId12 struct. Like every
// inline struct it must be created immediately before the slot it fills.
func createObjectID12(b *flatbuffers.Builder, id ObjectID) flatbuffers.UOffsetT {
	return fbv2.CreateObjectId12(b, id[0], id[1], id[2], id[3], id[4], id[5],
		id[6], id[7], id[8], id[9], id[10], id[11])
}

// createObjectID8 writes id as an inline ObjectId8 struct.
func createObjectID8(b *flatbuffers.Builder, id NodeID) flatbuffers.UOffsetT {
	return fbv2.CreateObjectId8(b, id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7])
}

// createOffsetVector writes a vector of table or string offsets.
func createOffsetVector(b *flatbuffers.Builder, offs []flatbuffers.UOffsetT) flatbuffers.UOffsetT {
	b.StartVector(flatbuffers.SizeUOffsetT, len(offs), flatbuffers.SizeUOffsetT)
	for i := len(offs) - 1; i >= 0; i-- {
		b.PrependUOffsetT(offs[i])
	}
	return b.EndVector(len(offs))
}

// createUint32Vector writes a [uint] vector.
func createUint32Vector(b *flatbuffers.Builder, v []uint32) flatbuffers.UOffsetT {
	b.StartVector(flatbuffers.SizeUint32, len(v), flatbuffers.SizeUint32)
	for i := len(v) - 1; i >= 0; i-- {
		b.PrependUint32(v[i])
	}
	return b.EndVector(len(v))
}

// has reports whether field number i (0-based, in schema order) of table t
// is present.
func has(t flatbuffers.Table, i int) bool {
	return t.Offset(flatbuffers.VOffsetT(4+2*i)) != 0
}

// readUint32s copies a [uint] vector of length n using get.
func (r *fbReader) readUint32s(field string, n int, get func(int) uint32) ([]uint32, error) {
	n, err := r.vec(field, n, 4, 4)
	if err != nil || n == 0 {
		return nil, err
	}
	out := make([]uint32, n)
	for j := range out {
		out[j] = get(j)
	}
	return out, nil
}

// createOptBytes writes an optional byte vector: nothing (offset 0) for nil,
// a vector (maybe empty) otherwise.
func createOptBytes(b *flatbuffers.Builder, v []byte) flatbuffers.UOffsetT {
	if v == nil {
		return 0
	}
	return b.CreateByteVector(v)
}
