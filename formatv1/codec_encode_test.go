package formatv1

import (
	"bytes"
	"cmp"
	"reflect"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// The codecCanonical* helpers give the value a decoder returns after an
// encode: sorted as the encoder sorts, empty slices as nil, and only the
// fields a chunk reference's kind writes. They copy; the input is unchanged.

func codecNilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func codecCanonicalSnapshot(s *Snapshot) *Snapshot {
	out := *s
	out.Metadata = nil
	for _, m := range s.Metadata {
		out.Metadata = append(out.Metadata, MetadataItem{Name: m.Name, Value: codecNilIfEmpty(m.Value)})
	}
	slices.SortStableFunc(out.Metadata, func(a, b MetadataItem) int { return cmp.Compare(a.Name, b.Name) })
	out.ManifestFiles = codecNilIfEmpty(s.ManifestFiles)
	slices.SortStableFunc(out.ManifestFiles, func(a, b ManifestFileInfo) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	out.Nodes = nil
	for _, n := range s.Nodes {
		c := n
		c.UserData = codecNilIfEmpty(n.UserData)
		c.Shape = codecNilIfEmpty(n.Shape)
		c.Manifests = nil
		for _, m := range n.Manifests {
			c.Manifests = append(c.Manifests, ManifestRef{ID: m.ID, Extents: codecNilIfEmpty(m.Extents)})
		}
		out.Nodes = append(out.Nodes, c)
	}
	slices.SortStableFunc(out.Nodes, func(a, b Node) int { return cmp.Compare(a.Path, b.Path) })
	return &out
}

func codecCanonicalRef(r ChunkRef) ChunkRef {
	c := ChunkRef{Index: codecNilIfEmpty(r.Index), Kind: r.Kind}
	switch r.Kind {
	case ChunkInline:
		c.Inline = codecNilIfEmpty(r.Inline)
	case ChunkNative:
		c.ChunkID, c.Offset, c.Length = r.ChunkID, r.Offset, r.Length
	case ChunkVirtual:
		c.Location, c.Offset, c.Length = r.Location, r.Offset, r.Length
		c.ChecksumETag, c.ChecksumLastModified = r.ChecksumETag, r.ChecksumLastModified
	}
	return c
}

func codecCanonicalManifest(m *Manifest) *Manifest {
	out := &Manifest{ID: m.ID}
	for _, a := range m.Arrays {
		c := ArrayManifest{NodeID: a.NodeID}
		for _, r := range a.Refs {
			c.Refs = append(c.Refs, codecCanonicalRef(r))
		}
		slices.SortStableFunc(c.Refs, func(a, b ChunkRef) int { return slices.Compare(a.Index, b.Index) })
		out.Arrays = append(out.Arrays, c)
	}
	slices.SortStableFunc(out.Arrays, func(a, b ArrayManifest) int { return bytes.Compare(a.NodeID[:], b.NodeID[:]) })
	return out
}

func codecCanonicalTxLog(tl *TransactionLog) *TransactionLog {
	sorted := func(ids []NodeID) []NodeID {
		ids = codecNilIfEmpty(ids)
		slices.SortFunc(ids, func(a, b NodeID) int { return bytes.Compare(a[:], b[:]) })
		return ids
	}
	out := &TransactionLog{
		ID:            tl.ID,
		NewGroups:     sorted(tl.NewGroups),
		NewArrays:     sorted(tl.NewArrays),
		DeletedGroups: sorted(tl.DeletedGroups),
		DeletedArrays: sorted(tl.DeletedArrays),
		UpdatedArrays: sorted(tl.UpdatedArrays),
		UpdatedGroups: sorted(tl.UpdatedGroups),
	}
	for _, u := range tl.UpdatedChunks {
		c := ArrayUpdatedChunks{NodeID: u.NodeID}
		for _, ch := range u.Chunks {
			c.Chunks = append(c.Chunks, codecNilIfEmpty(ch))
		}
		out.UpdatedChunks = append(out.UpdatedChunks, c)
	}
	slices.SortStableFunc(out.UpdatedChunks, func(a, b ArrayUpdatedChunks) int { return bytes.Compare(a.NodeID[:], b.NodeID[:]) })
	return out
}

// Generators.

func codecGenObjectID(t *rapid.T, label string) ObjectID {
	var id ObjectID
	copy(id[:], rapid.SliceOfN(rapid.Byte(), 12, 12).Draw(t, label))
	return id
}

func codecGenNodeID(t *rapid.T, label string) NodeID {
	var id NodeID
	copy(id[:], rapid.SliceOfN(rapid.Byte(), 8, 8).Draw(t, label))
	return id
}

func codecGenNodeIDs(t *rapid.T, label string, max int) []NodeID {
	raw := rapid.SliceOfNDistinct(rapid.SliceOfN(rapid.Byte(), 8, 8), 0, max,
		func(b []byte) string { return string(b) }).Draw(t, label)
	ids := make([]NodeID, len(raw))
	for i, b := range raw {
		copy(ids[i][:], b)
	}
	return ids
}

var codecGenText = rapid.OneOf(rapid.Just(""), rapid.StringMatching(`[a-z_é🧊]{1,8}`))

func codecGenSnapshot(t *rapid.T) *Snapshot {
	s := &Snapshot{
		ID:        codecGenObjectID(t, "id"),
		FlushedAt: rapid.Uint64().Draw(t, "flushed_at"),
		Message:   codecGenText.Draw(t, "message"),
	}
	if rapid.Bool().Draw(t, "has parent") {
		p := codecGenObjectID(t, "parent")
		s.ParentID = &p
	}
	names := rapid.SliceOfNDistinct(codecGenText, 0, 3, func(s string) string { return s }).Draw(t, "metadata names")
	for _, n := range names {
		s.Metadata = append(s.Metadata, MetadataItem{Name: n, Value: rapid.SliceOfN(rapid.Byte(), 0, 6).Draw(t, "value")})
	}
	files := rapid.SliceOfNDistinct(rapid.SliceOfN(rapid.Byte(), 12, 12), 0, 4, func(b []byte) string { return string(b) }).Draw(t, "files")
	for _, f := range files {
		var id ObjectID
		copy(id[:], f)
		s.ManifestFiles = append(s.ManifestFiles, ManifestFileInfo{ID: id, SizeBytes: rapid.Uint64().Draw(t, "size"), NumChunkRefs: rapid.Uint32().Draw(t, "refs")})
	}
	paths := rapid.SliceOfNDistinct(rapid.StringMatching(`/([a-z-]{1,3}(/[a-zé]{1,2}){0,2})?`), 0, 6, func(s string) string { return s }).Draw(t, "paths")
	for _, p := range paths {
		n := Node{
			ID:       codecGenNodeID(t, "node id"),
			Path:     p,
			UserData: rapid.SliceOfN(rapid.Byte(), 0, 12).Draw(t, "user data"),
			Type:     NodeGroup,
		}
		if rapid.Bool().Draw(t, "array") {
			n.Type = NodeArray
			ndim := rapid.IntRange(0, 3).Draw(t, "ndim")
			n.Shape = make([]DimensionShape, ndim)
			for i := range n.Shape {
				n.Shape[i] = DimensionShape{rapid.Uint64().Draw(t, "len"), rapid.Uint64().Draw(t, "chunk")}
			}
			if rapid.Bool().Draw(t, "has dim names") {
				n.DimensionNames = make([]*string, ndim)
				for i := range n.DimensionNames {
					if rapid.Bool().Draw(t, "named") {
						name := codecGenText.Draw(t, "dim name")
						n.DimensionNames[i] = &name
					}
				}
			}
			for range rapid.IntRange(0, 3).Draw(t, "manifests") {
				ref := ManifestRef{ID: codecGenObjectID(t, "manifest")}
				for range ndim {
					from := rapid.Uint32().Draw(t, "from")
					ref.Extents = append(ref.Extents, ChunkIndexRange{from, rapid.Uint32Min(from).Draw(t, "to")})
				}
				n.Manifests = append(n.Manifests, ref)
			}
		}
		s.Nodes = append(s.Nodes, n)
	}
	return s
}

func codecGenManifest(t *rapid.T) *Manifest {
	m := &Manifest{ID: codecGenObjectID(t, "id")}
	for _, nid := range codecGenNodeIDs(t, "arrays", 3) {
		a := ArrayManifest{NodeID: nid}
		indices := rapid.SliceOfNDistinct(rapid.SliceOfN(rapid.Uint32Range(0, 3), 0, 3), 0, 6,
			fmtIndex).Draw(t, "indices")
		for _, ix := range indices {
			a.Refs = append(a.Refs, ChunkRef{
				Index:                ix,
				Kind:                 ChunkRefKind(rapid.IntRange(1, 3).Draw(t, "kind")),
				Inline:               rapid.SliceOfN(rapid.Byte(), 0, 5).Draw(t, "inline"),
				ChunkID:              codecGenObjectID(t, "chunk"),
				Offset:               rapid.Uint64().Draw(t, "offset"),
				Length:               rapid.Uint64().Draw(t, "length"),
				Location:             "s3://b/" + codecGenText.Draw(t, "location"),
				ChecksumETag:         codecGenText.Draw(t, "etag"),
				ChecksumLastModified: rapid.Uint32().Draw(t, "last modified"),
			})
		}
		m.Arrays = append(m.Arrays, a)
	}
	return m
}

// fmtIndex is a distinctness key for small chunk indices.
func fmtIndex(ix []uint32) string {
	var b strings.Builder
	for _, v := range ix {
		b.WriteByte(byte('0' + v))
	}
	return b.String()
}

func codecGenTxLog(t *rapid.T) *TransactionLog {
	tl := &TransactionLog{
		ID:            codecGenObjectID(t, "id"),
		NewGroups:     codecGenNodeIDs(t, "new groups", 3),
		NewArrays:     codecGenNodeIDs(t, "new arrays", 3),
		DeletedGroups: codecGenNodeIDs(t, "deleted groups", 3),
		DeletedArrays: codecGenNodeIDs(t, "deleted arrays", 3),
		UpdatedArrays: codecGenNodeIDs(t, "updated arrays", 3),
		UpdatedGroups: codecGenNodeIDs(t, "updated groups", 3),
	}
	for _, nid := range codecGenNodeIDs(t, "updated chunks", 3) {
		u := ArrayUpdatedChunks{NodeID: nid}
		for range rapid.IntRange(0, 4).Draw(t, "chunks") {
			u.Chunks = append(u.Chunks, rapid.SliceOfN(rapid.Uint32(), 0, 3).Draw(t, "coords"))
		}
		tl.UpdatedChunks = append(tl.UpdatedChunks, u)
	}
	return tl
}

func TestCodecRoundTripProperty(t *testing.T) {
	t.Run("snapshot", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			s := codecGenSnapshot(t)
			want := codecCanonicalSnapshot(s)
			enc, err := EncodeSnapshot(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeSnapshot("snapshots/"+s.ID.String(), enc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, want)
			}
			if again, err := EncodeSnapshot(got); err != nil || !bytes.Equal(again, enc) {
				t.Fatalf("re-encoding the decoded snapshot changed the bytes (%v)", err)
			}
		})
	})
	t.Run("manifest", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			m := codecGenManifest(t)
			want := codecCanonicalManifest(m)
			enc, err := EncodeManifest(m)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeManifest("manifests/"+m.ID.String(), enc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, want)
			}
			if again, err := EncodeManifest(got); err != nil || !bytes.Equal(again, enc) {
				t.Fatalf("re-encoding the decoded manifest changed the bytes (%v)", err)
			}
		})
	})
	t.Run("transaction log", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			tl := codecGenTxLog(t)
			want := codecCanonicalTxLog(tl)
			enc, err := EncodeTransactionLog(tl)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeTransactionLog("transactions/"+tl.ID.String(), enc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, want)
			}
		})
	})
}

func TestCodecEncodeIsDeterministicAndCanonical(t *testing.T) {
	s := codecTestSnapshot()
	s.Metadata = append(s.Metadata, MetadataItem{Name: "aaa", Value: []byte{0xc3}})
	s.ManifestFiles = append(s.ManifestFiles, ManifestFileInfo{ID: ObjectID{0x01}})
	a, err := EncodeSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := EncodeSnapshot(s)
	if !bytes.Equal(a, b) {
		t.Fatal("two encodings of one snapshot differ")
	}
	// Reordered input gives the same bytes, and the input is not touched.
	r := *s
	r.Nodes = []Node{s.Nodes[1], s.Nodes[0]}
	r.Metadata = []MetadataItem{s.Metadata[1], s.Metadata[0]}
	r.ManifestFiles = []ManifestFileInfo{s.ManifestFiles[1], s.ManifestFiles[0]}
	c, err := EncodeSnapshot(&r)
	if err != nil || !bytes.Equal(a, c) {
		t.Fatalf("reordered snapshot encodes differently (%v)", err)
	}
	if r.Nodes[0].Path != "/temp" || r.Metadata[0].Name != "aaa" {
		t.Fatal("EncodeSnapshot reordered its input")
	}
	dec, err := DecodeSnapshot("s", a)
	if err != nil {
		t.Fatal(err)
	}
	if dec.Nodes[0].Path != "/" || dec.Metadata[0].Name != "aaa" || dec.ManifestFiles[0].ID != (ObjectID{0x01}) {
		t.Errorf("decoded order: %s %s %s", dec.Nodes[0].Path, dec.Metadata[0].Name, dec.ManifestFiles[0].ID)
	}
	h, _ := ParseHeader("s", a)
	if h.Implementation != ImplementationName || h.SpecVersion != 1 || h.FileType != FileTypeSnapshot || h.Compression != CompressionZstd {
		t.Errorf("header %+v", h)
	}
}

func TestCodecEncodeRejects(t *testing.T) {
	bad := "\xff"
	snap := func(edit func(*Snapshot)) func() error {
		return func() error {
			s := codecTestSnapshot()
			edit(s)
			_, err := EncodeSnapshot(s)
			return err
		}
	}
	man := func(edit func(*Manifest)) func() error {
		return func() error {
			m := &Manifest{ID: ObjectID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, Arrays: []ArrayManifest{{NodeID: NodeID{1}, Refs: []ChunkRef{
				{Index: []uint32{0}, Kind: ChunkInline, Inline: []byte{1}},
				{Index: []uint32{1}, Kind: ChunkVirtual, Location: "s3://x"},
			}}}}
			edit(m)
			_, err := EncodeManifest(m)
			return err
		}
	}
	tx := func(edit func(*TransactionLog)) func() error {
		return func() error {
			tl := &TransactionLog{ID: ObjectID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, NewGroups: []NodeID{{1}},
				UpdatedChunks: []ArrayUpdatedChunks{{NodeID: NodeID{2}}}}
			edit(tl)
			_, err := EncodeTransactionLog(tl)
			return err
		}
	}
	for name, c := range map[string]struct {
		encode func() error
		msg    string
	}{
		"duplicate path":         {snap(func(s *Snapshot) { s.Nodes[1].Path = "/" }), `node path "/" listed twice`},
		"group with shape":       {snap(func(s *Snapshot) { s.Nodes[0].Shape = []DimensionShape{{1, 1}} }), "has array fields"},
		"unknown node type":      {snap(func(s *Snapshot) { s.Nodes[0].Type = 7 }), "unknown type 7"},
		"bad message":            {snap(func(s *Snapshot) { s.Message = bad }), "message is not valid UTF-8"},
		"bad path":               {snap(func(s *Snapshot) { s.Nodes[1].Path = "/" + bad }), "not valid UTF-8"},
		"bad dimension name":     {snap(func(s *Snapshot) { s.Nodes[1].DimensionNames[1] = &bad }), "dimension name"},
		"bad metadata name":      {snap(func(s *Snapshot) { s.Metadata[0].Name = bad }), "metadata name"},
		"duplicate metadata":     {snap(func(s *Snapshot) { s.Metadata = append(s.Metadata, s.Metadata[0]) }), "listed twice"},
		"duplicate manifest":     {snap(func(s *Snapshot) { s.ManifestFiles = append(s.ManifestFiles, s.ManifestFiles[0]) }), "listed twice"},
		"duplicate array":        {man(func(m *Manifest) { m.Arrays = append(m.Arrays, m.Arrays[0]) }), "listed twice"},
		"duplicate chunk":        {man(func(m *Manifest) { m.Arrays[0].Refs[1].Index = []uint32{0} }), "chunk [0] listed twice"},
		"unknown kind":           {man(func(m *Manifest) { m.Arrays[0].Refs[0].Kind = 0 }), "unknown kind 0"},
		"bad location":           {man(func(m *Manifest) { m.Arrays[0].Refs[1].Location = bad }), "not valid UTF-8"},
		"duplicate new group":    {tx(func(tl *TransactionLog) { tl.NewGroups = append(tl.NewGroups, tl.NewGroups[0]) }), "new_groups lists node"},
		"duplicate updated node": {tx(func(tl *TransactionLog) { tl.UpdatedChunks = append(tl.UpdatedChunks, tl.UpdatedChunks[0]) }), "updated_chunks lists node"},
	} {
		err := c.encode()
		if err == nil || !strings.Contains(err.Error(), c.msg) || !strings.Contains(err.Error(), "041061050R3GG28A1C60") {
			t.Errorf("%s: err = %v; want one naming the object and saying %q", name, err, c.msg)
		}
	}
	if _, err := EncodeSnapshot(nil); err == nil {
		t.Error("EncodeSnapshot(nil) succeeded")
	}
	if _, err := EncodeManifest(nil); err == nil {
		t.Error("EncodeManifest(nil) succeeded")
	}
	if _, err := EncodeTransactionLog(nil); err == nil {
		t.Error("EncodeTransactionLog(nil) succeeded")
	}
}
