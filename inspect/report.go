// Package inspect builds the JSON reports of `icerig inspect` and `icerig
// read` (DESIGN.md section 7) from an [actors.Repo], whatever library
// version opened it.
//
// Every report is a typed Go value with JSON tags; encoding it with
// encoding/json gives the contract's JSON, and decoding that JSON gives the
// value back (other tools parse it). Conventions:
//
//   - times are RFC 3339 in UTC with exactly six fractional digits
//     ("2024-10-29T15:49:32.123456Z", see [Time]);
//   - floats that JSON cannot hold are the strings "NaN", "Infinity" and
//     "-Infinity"; integral floats keep a ".0" ("42.0"), as Zarr writes them;
//   - an array's "dimension_names" is null when its zarr.json has none, and
//     a list (null for each unnamed dimension) when it has them;
//   - a node's "attributes" is {} when its zarr.json has none.
package inspect

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/zarr"
)

// Report is the JSON object `icerig inspect` prints.
type Report struct {
	// SpecVersion is the repository's spec version.
	SpecVersion int `json:"spec_version"`
	// Branches maps every branch to its tip snapshot id.
	Branches map[string]string `json:"branches"`
	// Tags maps every live tag to its snapshot id.
	Tags map[string]string `json:"tags"`
	// DeletedTags lists the deleted tags, sorted.
	DeletedTags []string `json:"deleted_tags"`
	// Ancestry maps "branch:NAME" and "tag:NAME", for every branch and tag,
	// to the ref's history, newest first.
	Ancestry map[string][]Snapshot `json:"ancestry"`
	// Nodes is the node tree at the inspected ref, sorted by path.
	Nodes []Node `json:"nodes"`
	// Objects counts the objects under each prefix of the store.
	Objects Objects `json:"objects"`
	// OpsLog is the ops log, newest first (spec 2 only; absent otherwise).
	OpsLog []OpsLogEntry `json:"ops_log,omitzero"`
	// Status is the repository status (spec 2 only; absent otherwise).
	Status *Status `json:"status,omitempty"`
}

// Snapshot is one entry of an ancestry.
type Snapshot struct {
	ID            string `json:"id"`
	Message       string `json:"message"`
	FlushedAt     Time   `json:"flushed_at"`
	ManifestFiles int    `json:"manifest_files"`
}

// Node is one group or array. Array is nil for groups, so a group's JSON
// has only "path", "type" and "attributes".
type Node struct {
	// Path is absolute ("/", "/group1/big_chunks").
	Path string `json:"path"`
	// Type is "group" or "array".
	Type string `json:"type"`
	// Attributes is the zarr.json "attributes" object ({} when absent).
	Attributes json.RawMessage `json:"attributes"`
	*Array
}

// Array holds the array-only members of a Node.
type Array struct {
	Shape      []uint64 `json:"shape"`
	ChunkShape []uint64 `json:"chunk_shape"`
	// DataType is the Zarr data type ("float32").
	DataType string `json:"dtype"`
	// FillValue is a JSON number or boolean, or "NaN", "Infinity",
	// "-Infinity".
	FillValue json.RawMessage `json:"fill_value"`
	// DimensionNames is nil (null) when the array has no dimension names.
	DimensionNames []*string `json:"dimension_names"`
	// Chunks counts the array's chunk references by kind.
	Chunks actors.ChunkCounts `json:"chunks"`
}

// Objects counts the objects under each prefix of a repository's store.
type Objects struct {
	Snapshots    int `json:"snapshots"`
	Manifests    int `json:"manifests"`
	Chunks       int `json:"chunks"`
	Transactions int `json:"transactions"`
	Overwritten  int `json:"overwritten"`
}

// OpsLogEntry is one entry of a spec-2 ops log. Its JSON is one object:
// "type", "updated_at" and the type-specific fields side by side.
type OpsLogEntry struct {
	Type      string
	UpdatedAt Time
	// Fields are the type-specific members.
	Fields map[string]any
}

// MarshalJSON writes the entry as one flat object.
func (e OpsLogEntry) MarshalJSON() ([]byte, error) {
	m := make(map[string]any, len(e.Fields)+2)
	maps.Copy(m, e.Fields)
	m["type"] = e.Type
	m["updated_at"] = e.UpdatedAt
	return json.Marshal(m)
}

// UnmarshalJSON reads the flat object MarshalJSON writes.
func (e *OpsLogEntry) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("ops log entry: %w", err)
	}
	var out OpsLogEntry
	if err := json.Unmarshal(raw["type"], &out.Type); err != nil {
		return fmt.Errorf("ops log entry: type: %w", err)
	}
	if err := json.Unmarshal(raw["updated_at"], &out.UpdatedAt); err != nil {
		return fmt.Errorf("ops log entry: updated_at: %w", err)
	}
	delete(raw, "type")
	delete(raw, "updated_at")
	for k, v := range raw {
		var val any
		if err := json.Unmarshal(v, &val); err != nil {
			return fmt.Errorf("ops log entry: %s: %w", k, err)
		}
		if out.Fields == nil {
			out.Fields = map[string]any{}
		}
		out.Fields[k] = val
	}
	*e = out
	return nil
}

// Status is a spec-2 repository's availability status.
type Status struct {
	Availability              string `json:"availability"`
	SetAt                     Time   `json:"set_at"`
	LimitedAvailabilityReason string `json:"limited_availability_reason"`
}

// The store prefixes Objects counts.
const (
	snapshotsPrefix    = "snapshots/"
	manifestsPrefix    = "manifests/"
	chunksPrefix       = "chunks/"
	transactionsPrefix = "transactions/"
	overwrittenPrefix  = "overwritten/"
)

// Inspect builds the report of repo, whose objects live in store, with the
// node tree at ref. A spec-2 repository needs an actor whose Repo
// implements actors.Spec2Reader (ErrUnsupportedOperation otherwise).
func Inspect(ctx context.Context, store objstore.Store, repo actors.Repo, ref actors.Ref) (*Report, error) {
	rep := &Report{SpecVersion: repo.SpecVersion(), Ancestry: map[string][]Snapshot{}}
	var err error
	if rep.Branches, err = repo.Branches(ctx); err != nil {
		return nil, err
	}
	if rep.Tags, err = repo.Tags(ctx); err != nil {
		return nil, err
	}
	if rep.DeletedTags, err = repo.DeletedTags(ctx); err != nil {
		return nil, err
	}
	if rep.DeletedTags == nil {
		rep.DeletedTags = []string{}
	}
	var refs []actors.Ref
	for name := range rep.Branches {
		refs = append(refs, actors.Branch(name))
	}
	for name := range rep.Tags {
		refs = append(refs, actors.Tag(name))
	}
	for _, r := range refs {
		anc, err := repo.Ancestry(ctx, r)
		if err != nil {
			return nil, err
		}
		list := make([]Snapshot, 0, len(anc))
		for _, s := range anc {
			list = append(list, Snapshot{ID: s.ID, Message: s.Message, FlushedAt: Time{s.FlushedAt}, ManifestFiles: s.ManifestFiles})
		}
		rep.Ancestry[r.String()] = list
	}
	if rep.Nodes, err = Nodes(ctx, repo, ref); err != nil {
		return nil, err
	}
	if rep.Objects, err = CountObjects(ctx, store); err != nil {
		return nil, err
	}
	if rep.SpecVersion >= 2 {
		if err := addSpec2(ctx, rep, repo); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// addSpec2 fills the spec-2 members through the optional Spec2Reader.
func addSpec2(ctx context.Context, rep *Report, repo actors.Repo) error {
	sr, ok := repo.(actors.Spec2Reader)
	if !ok {
		return fmt.Errorf("inspect: actor %s cannot report the ops log and status of a spec-%d repository: %w",
			repo.Actor(), rep.SpecVersion, actors.ErrUnsupportedOperation)
	}
	ops, err := sr.OpsLog(ctx)
	if err != nil {
		return err
	}
	rep.OpsLog = make([]OpsLogEntry, 0, len(ops))
	for _, op := range ops {
		rep.OpsLog = append(rep.OpsLog, OpsLogEntry{Type: op.Type, UpdatedAt: Time{op.UpdatedAt}, Fields: op.Fields})
	}
	st, err := sr.Status(ctx)
	if err != nil {
		return err
	}
	rep.Status = &Status{Availability: st.Availability, SetAt: Time{st.SetAt}, LimitedAvailabilityReason: st.LimitedAvailabilityReason}
	return nil
}

// Nodes describes the node tree at ref, sorted by path (as the Repo lists
// it). A zarr.json that does not parse is an error naming the node.
func Nodes(ctx context.Context, repo actors.Repo, ref actors.Ref) ([]Node, error) {
	infos, err := repo.Nodes(ctx, ref)
	if err != nil {
		return nil, err
	}
	out := make([]Node, 0, len(infos))
	for _, info := range infos {
		n, err := describeNode(info)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func describeNode(info actors.NodeInfo) (Node, error) {
	meta, err := zarr.ParseMetadata(info.Path, info.ZarrJSON)
	if err != nil {
		return Node{}, fmt.Errorf("node %s: %w: %w", info.Path, actors.ErrCorrupt, err)
	}
	if meta.NodeType != info.Type {
		return Node{}, fmt.Errorf("node %s: %w: listed as %s but its zarr.json says %s", info.Path, actors.ErrCorrupt, info.Type, meta.NodeType)
	}
	n := Node{Path: info.Path, Type: string(meta.NodeType), Attributes: meta.Attributes}
	if len(n.Attributes) == 0 {
		n.Attributes = json.RawMessage("{}")
	}
	if a := meta.Array; a != nil {
		fill, err := a.FillValue.MarshalJSON()
		if err != nil {
			return Node{}, fmt.Errorf("node %s: fill value: %w", info.Path, err)
		}
		n.Array = &Array{
			Shape:          append([]uint64{}, a.Shape...),
			ChunkShape:     append([]uint64{}, a.ChunkShape...),
			DataType:       string(a.DataType),
			FillValue:      fill,
			DimensionNames: a.DimensionNames,
			Chunks:         info.Chunks,
		}
	}
	return n, nil
}

// CountObjects counts the objects under the snapshots/, manifests/,
// chunks/, transactions/ and overwritten/ prefixes of store.
func CountObjects(ctx context.Context, store objstore.Store) (Objects, error) {
	var o Objects
	for _, p := range []struct {
		prefix string
		n      *int
	}{
		{snapshotsPrefix, &o.Snapshots},
		{manifestsPrefix, &o.Manifests},
		{chunksPrefix, &o.Chunks},
		{transactionsPrefix, &o.Transactions},
		{overwrittenPrefix, &o.Overwritten},
	} {
		objs, err := store.List(ctx, p.prefix)
		if err != nil {
			return Objects{}, fmt.Errorf("count objects: list %s of %s: %w", p.prefix, store, err)
		}
		*p.n = len(objs)
	}
	return o, nil
}
