package formatv2_test

// The core promise on spec-1 repositories: whatever formatv2 writes at spec
// 1 is byte for byte what formatv1 writes for the same value (up to the
// implementation name in the header, which names the writer). This is the
// only place formatv2 meets formatv1, and only in a test.

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"pgregory.net/rapid"

	"github.com/icerig/icerig/formatv1"
	"github.com/icerig/icerig/formatv2"
)

func compatSnapshot(s *formatv2.Snapshot) *formatv1.Snapshot {
	out := &formatv1.Snapshot{ID: formatv1.ObjectID(s.ID), FlushedAt: s.FlushedAt, Message: s.Message}
	if s.ParentID != nil {
		p := formatv1.ObjectID(*s.ParentID)
		out.ParentID = &p
	}
	for _, n := range s.Nodes {
		c := formatv1.Node{ID: formatv1.NodeID(n.ID), Path: n.Path, UserData: n.UserData, Type: formatv1.NodeType(n.Type),
			DimensionNames: n.DimensionNames}
		if n.Shape != nil {
			c.Shape = []formatv1.DimensionShape{}
			for _, d := range n.Shape {
				c.Shape = append(c.Shape, formatv1.DimensionShape{ArrayLength: d.ArrayLength, ChunkLength: d.ChunkLength})
			}
		}
		if n.Manifests != nil {
			c.Manifests = []formatv1.ManifestRef{}
			for _, m := range n.Manifests {
				r := formatv1.ManifestRef{ID: formatv1.ObjectID(m.ID)}
				for _, e := range m.Extents {
					r.Extents = append(r.Extents, formatv1.ChunkIndexRange{From: e.From, To: e.To})
				}
				c.Manifests = append(c.Manifests, r)
			}
		}
		out.Nodes = append(out.Nodes, c)
	}
	for _, m := range s.Metadata {
		out.Metadata = append(out.Metadata, formatv1.MetadataItem{Name: m.Name, Value: m.Value})
	}
	for _, f := range s.ManifestFiles {
		out.ManifestFiles = append(out.ManifestFiles, formatv1.ManifestFileInfo{ID: formatv1.ObjectID(f.ID), SizeBytes: f.SizeBytes, NumChunkRefs: f.NumChunkRefs})
	}
	return out
}

func compatManifest(m *formatv2.Manifest) *formatv1.Manifest {
	out := &formatv1.Manifest{ID: formatv1.ObjectID(m.ID)}
	for _, a := range m.Arrays {
		c := formatv1.ArrayManifest{NodeID: formatv1.NodeID(a.NodeID)}
		for _, r := range a.Refs {
			c.Refs = append(c.Refs, formatv1.ChunkRef{Index: r.Index, Kind: formatv1.ChunkRefKind(r.Kind), Inline: r.Inline,
				ChunkID: formatv1.ObjectID(r.ChunkID), Offset: r.Offset, Length: r.Length, Location: r.Location,
				ChecksumETag: r.ChecksumETag, ChecksumLastModified: r.ChecksumLastModified})
		}
		out.Arrays = append(out.Arrays, c)
	}
	return out
}

func compatNodeIDs(ids []formatv2.NodeID) []formatv1.NodeID {
	if ids == nil {
		return nil
	}
	out := make([]formatv1.NodeID, len(ids))
	for i, id := range ids {
		out[i] = formatv1.NodeID(id)
	}
	return out
}

func compatTxLog(tl *formatv2.TransactionLog) *formatv1.TransactionLog {
	out := &formatv1.TransactionLog{
		ID:            formatv1.ObjectID(tl.ID),
		NewGroups:     compatNodeIDs(tl.NewGroups),
		NewArrays:     compatNodeIDs(tl.NewArrays),
		DeletedGroups: compatNodeIDs(tl.DeletedGroups),
		DeletedArrays: compatNodeIDs(tl.DeletedArrays),
		UpdatedArrays: compatNodeIDs(tl.UpdatedArrays),
		UpdatedGroups: compatNodeIDs(tl.UpdatedGroups),
	}
	for _, u := range tl.UpdatedChunks {
		out.UpdatedChunks = append(out.UpdatedChunks, formatv1.ArrayUpdatedChunks{NodeID: formatv1.NodeID(u.NodeID), Chunks: u.Chunks})
	}
	return out
}

// compatSame fails unless the two files are identical outside the 24-byte
// implementation name, and formatv2's names formatv2.
func compatSame(t interface {
	Helper()
	Fatalf(string, ...any)
}, what string, v1, v2 []byte) {
	t.Helper()
	const implStart, implEnd = 12, 36
	if len(v1) != len(v2) || !bytes.Equal(v1[:implStart], v2[:implStart]) || !bytes.Equal(v1[implEnd:], v2[implEnd:]) {
		t.Fatalf("%s: formatv2 at spec 1 writes %d bytes that differ from formatv1's %d bytes", what, len(v2), len(v1))
	}
	if !bytes.HasPrefix(v2[implStart:implEnd], []byte(formatv2.ImplementationName+" ")) || v2[36] != 1 {
		t.Fatalf("%s: formatv2 header % x", what, v2[:formatv2.HeaderSize])
	}
}

func TestCompatSpec1EncodingMatchesFormatv1(t *testing.T) {
	t.Run("snapshot", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			s := formatv2.CodecGenSnapshot(t, 1)
			v2, err := formatv2.EncodeSnapshot(s)
			if err != nil {
				t.Fatal(err)
			}
			v1, err := formatv1.EncodeSnapshot(compatSnapshot(s))
			if err != nil {
				t.Fatal(err)
			}
			compatSame(t, "snapshot "+s.ID.String(), v1, v2)
		})
	})
	t.Run("manifest", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			m := formatv2.CodecGenManifest(t, 1)
			v2, err := formatv2.EncodeManifest(m)
			if err != nil {
				t.Fatal(err)
			}
			v1, err := formatv1.EncodeManifest(compatManifest(m))
			if err != nil {
				t.Fatal(err)
			}
			compatSame(t, "manifest "+m.ID.String(), v1, v2)
		})
	})
	t.Run("transaction log", func(t *testing.T) {
		rapid.Check(t, func(t *rapid.T) {
			tl := formatv2.CodecGenTxLog(t, 1)
			v2, err := formatv2.EncodeTransactionLog(tl)
			if err != nil {
				t.Fatal(err)
			}
			v1, err := formatv1.EncodeTransactionLog(compatTxLog(tl))
			if err != nil {
				t.Fatal(err)
			}
			compatSame(t, "transaction log "+tl.ID.String(), v1, v2)
		})
	})
}

// TestCompatSpec1FixturesReencodeLikeFormatv1 decodes every spec-1 object
// of the fixtures with both libraries and re-encodes it with both.
func TestCompatSpec1FixturesReencodeLikeFormatv1(t *testing.T) {
	n := 0
	for _, repo := range []string{"test-repo-v1", "split-repo-v1", "test-repo-v2-migrated"} {
		for _, prefix := range []string{"snapshots", "manifests", "transactions"} {
			dir := filepath.Join(formatv2.CodecFixturesDir(t), repo, prefix)
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				key := prefix + "/" + e.Name()
				data, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				var v1, v2 []byte
				switch prefix {
				case "snapshots":
					s, err := formatv2.DecodeSnapshot(key, data)
					if err != nil || s.SpecVersion != 1 {
						t.Fatalf("%s %s: %v", repo, key, err)
					}
					v2, err = formatv2.EncodeSnapshot(s)
					if err != nil {
						t.Fatal(err)
					}
					s1, err := formatv1.DecodeSnapshot(key, data)
					if err != nil {
						t.Fatal(err)
					}
					if v1, err = formatv1.EncodeSnapshot(s1); err != nil {
						t.Fatal(err)
					}
				case "manifests":
					m, err := formatv2.DecodeManifest(key, data)
					if err != nil || m.SpecVersion != 1 {
						t.Fatalf("%s %s: %v", repo, key, err)
					}
					v2, err = formatv2.EncodeManifest(m)
					if err != nil {
						t.Fatal(err)
					}
					m1, err := formatv1.DecodeManifest(key, data)
					if err != nil {
						t.Fatal(err)
					}
					if v1, err = formatv1.EncodeManifest(m1); err != nil {
						t.Fatal(err)
					}
				case "transactions":
					tl, err := formatv2.DecodeTransactionLog(key, data)
					if err != nil || tl.SpecVersion != 1 {
						t.Fatalf("%s %s: %v", repo, key, err)
					}
					v2, err = formatv2.EncodeTransactionLog(tl)
					if err != nil {
						t.Fatal(err)
					}
					tl1, err := formatv1.DecodeTransactionLog(key, data)
					if err != nil {
						t.Fatal(err)
					}
					if v1, err = formatv1.EncodeTransactionLog(tl1); err != nil {
						t.Fatal(err)
					}
				}
				compatSame(t, repo+" "+key, v1, v2)
				n++
			}
		}
	}
	if n < 30 {
		t.Errorf("compared only %d fixture objects", n)
	}
}
