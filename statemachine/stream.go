package statemachine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/internal/transitions"
	"github.com/icerig/icerig/streamer"
	"github.com/icerig/icerig/streamer/source"

	"pgregory.net/rapid"
)

// The `stream` action: the production streamer (on the current library,
// formatv2) appends a window of mock-instrument data to branch main of the
// rig's repository, whatever its spec, beside the rig's own nodes. Every
// actor that reads the spec must then read exactly the values the mock
// source produced for everything streamed so far (streamer.
// CheckAgainstSource, with the streamer's runtime invariants), and the
// model takes the commit in: the keys the window changed are applied to a
// session of the model on main and committed, so the invariant goes on
// checking every actor byte for byte, and GC and expiration account for
// the window's manifests and chunks like any commit's.

// StreamEpoch is where the mock instrument's data starts: the first window
// of a repository covers (StreamEpoch, StreamEpoch+by].
var StreamEpoch = Epoch.Add(-24 * time.Hour)

// streamerName names the streamer in divergences and transition cells:
// it runs on the v2 library.
const streamerName = "v2"

// streamConfig is the streamer's configuration in the rig: one variable
// and small chunks keep the invariant's reads cheap.
const streamConfig = `
source: {instrument: rig, project: cross, gas_id: 1, seed: 7}
data: minimal
variables: [ch4]
chunk_timestamps: 1024
max_window: 4h
`

// streamWindows are the window lengths the generator draws (at most
// max_window, so each stream op commits one window).
var streamWindows = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute}

// isStreamKey reports whether a key belongs to the streamer's nodes: every
// node that is neither the root nor one of the rig's own paths.
func isStreamKey(key string) bool {
	path := ""
	if p, ok := ParseMetadataKey(key); ok {
		path = p
	} else if p, _, ok := ParseChunkKey(key); ok {
		path = p
	}
	return path != "" && !slices.Contains(allPaths, path)
}

// streamKeys is the part of a key space that belongs to the streamer.
func streamKeys(keys map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range keys {
		if isStreamKey(k) {
			out[k] = v
		}
	}
	return out
}

func sameKeys(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// lastWindow returns main's newest snapshot with a streamed window in its
// history, or nil.
func (m *Model) lastWindow() *Snapshot {
	for _, s := range m.Ancestry(m.Branches[MainBranch]) {
		if s.Window != nil {
			return s
		}
	}
	return nil
}

// StreamApplies reports whether a stream window can run as the model
// knows it: main's tip holds the streamer's nodes exactly as its newest
// window left them and the root is a group (the rig never writes the
// streamer's nodes, but making the root an array, deleting it or
// resetting main around an expiration can leave a tip the streamer would
// rightly refuse to resume), every object main's history needs is stored,
// and the clock is past main's tip.
func (m *Model) StreamApplies() bool {
	return m.streamResumable() && m.Now.After(m.Snapshots[m.Branches[MainBranch]].FlushedAt)
}

// streamResumable is StreamApplies but for the clock.
func (m *Model) streamResumable() bool {
	if !m.Initialized() {
		return false
	}
	tip := m.Snapshots[m.Branches[MainBranch]]
	if m.Damaged(tip.Label) {
		return false
	}
	if root := tip.Nodes[""]; root != nil && !root.Group {
		return false // the streamer needs the root to be a group
	}
	want := map[string][]byte{}
	if last := m.lastWindow(); last != nil {
		want = streamKeys(last.KeySpace())
	}
	return sameKeys(streamKeys(tip.KeySpace()), want)
}

// streamDoc is what the model reads of a zarr.json the streamer wrote.
type streamDoc struct {
	NodeType  string   `json:"node_type"`
	Shape     []uint64 `json:"shape"`
	ChunkGrid struct {
		Configuration struct {
			ChunkShape []uint64 `json:"chunk_shape"`
		} `json:"configuration"`
	} `json:"chunk_grid"`
}

// CommitWindow takes in a window the streamer committed on main: the keys
// of after (main's new key space) that differ from main's tip are set in a
// session on main (metadata first, parents before children, then chunks)
// and committed as label, as the streamer's session did. The active
// session is left as it was. It returns a model kind other than ok when
// the change cannot be a streamer commit.
func (m *Model) CommitWindow(label, message string, metadata map[string]string, after map[string][]byte, from, until time.Time) error {
	saved := m.Session
	defer func() { m.Session = saved }()
	tip := m.Branches[MainBranch]
	m.OpenSession("branch:"+MainBranch, MainBranch, tip)
	before := m.Session.KeySpace()
	for k := range before {
		if _, ok := after[k]; !ok {
			return fmt.Errorf("the window deleted %s", k)
		}
	}
	var docs, chunks []string
	for k, v := range after {
		if old, ok := before[k]; ok && bytes.Equal(old, v) {
			continue
		}
		if _, ok := ParseMetadataKey(k); ok {
			docs = append(docs, k)
		} else {
			chunks = append(chunks, k)
		}
	}
	sort.Slice(docs, func(i, j int) bool {
		if a, b := strings.Count(docs[i], "/"), strings.Count(docs[j], "/"); a != b {
			return a < b
		}
		return docs[i] < docs[j]
	})
	sort.Strings(chunks)
	for _, k := range docs {
		path, _ := ParseMetadataKey(k)
		var d streamDoc
		if err := json.Unmarshal(after[k], &d); err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		group := d.NodeType == "group"
		if !group && len(d.Shape) != len(d.ChunkGrid.Configuration.ChunkShape) {
			return fmt.Errorf("%s: an array without a regular chunk grid", k)
		}
		if kind := m.SetMetadata(path, after[k], group, d.Shape, d.ChunkGrid.Configuration.ChunkShape); kind != KindOK {
			return fmt.Errorf("set %s: %s", k, kind)
		}
	}
	for _, k := range chunks {
		path, coords, ok := ParseChunkKey(k)
		if !ok {
			return fmt.Errorf("%s is neither metadata nor a chunk", k)
		}
		if kind := m.WriteChunk(path, coords, after[k]); kind != KindOK {
			return fmt.Errorf("write %s: %s", k, kind)
		}
	}
	if kind := m.CommitKind(false); kind != KindOK {
		return fmt.Errorf("commit: %s", kind)
	}
	snap := m.Commit(label, message, metadata, false)
	snap.Window = &Window{From: from, Until: until}
	return nil
}

// StreamOp appends one window of By to main with the production streamer.
type StreamOp struct{ By time.Duration }

// Action returns the op's action name.
func (o *StreamOp) Action() string { return ActStream }

// String renders the op as ParseOp reads it.
func (o *StreamOp) String() string { return "stream by=" + o.By.String() }

func genStream(mc *machine, t *rapid.T) []Op {
	mc.needRepo(t, ActStream)
	m := mc.env.model
	if !m.streamResumable() {
		mc.skip(t, ActStream)
	}
	var ops []Op
	if tip := m.Snapshots[m.Branches[MainBranch]]; !m.Now.After(tip.FlushedAt) {
		ops = append(ops, &AdvanceOp{By: time.Second})
	}
	return append(ops, &StreamOp{By: rapid.SampledFrom(streamWindows).Draw(t, "window")})
}

func (o *StreamOp) run(e *Env) (string, error) {
	if err := e.needRepo(); err != nil {
		return "", err
	}
	m := e.model
	if !m.StreamApplies() {
		return "", badTrace("the streamer cannot append to main here (its nodes changed, main's history lost objects, or the clock is not past main's tip)")
	}
	from := StreamEpoch
	last := m.lastWindow()
	if last != nil {
		from = last.Window.Until
	}
	until := from.Add(o.By)
	cfg, err := streamer.ParseConfig("rig", []byte(streamConfig))
	if err != nil {
		return "", fmt.Errorf("statemachine: stream config: %w", err)
	}
	st, err := streamer.New(cfg, e.store, streamer.Options{Clock: e.clock, Rand: e.rand})
	if err != nil {
		return "", fmt.Errorf("statemachine: %w", err)
	}
	diverge := func(actor, what, expected, seen string) error {
		return &Divergence{Line: e.line, Op: e.opText, Actor: actor, What: what, Expected: expected, Seen: seen}
	}
	rep, err := st.RunRepo(e.ctx, e.store, streamer.Hints{Since: StreamEpoch, Until: until})
	if err != nil {
		return "", diverge("streamer ("+streamerName+")", "stream window", "a window committed", err.Error())
	}
	if len(rep.Windows) != 1 || !rep.Windows[0].From.Equal(from) || !rep.Windows[0].Until.Equal(until) {
		return "", diverge("streamer ("+streamerName+")", "stream windows", fmt.Sprintf("one window (%s, %s]", from.Format(time.RFC3339), until.Format(time.RFC3339)), fmt.Sprintf("%+v", rep.Windows))
	}
	w := rep.Windows[0]

	// Every actor that reads the spec reads exactly the source's data.
	var captured map[string][]byte
	var message string
	var meta map[string]string
	isNotFound := func(err error) bool { return errors.Is(err, actors.ErrKeyNotFound) }
	for _, name := range e.names {
		a := e.actors[name]
		if !a.Capabilities().Reads(m.Spec) {
			continue
		}
		h, err := a.Open(e.ctx, e.store, e.options())
		if err != nil {
			return "", diverge(name, "open after the stream window", "ok", describe(err))
		}
		s, err := h.Session(e.ctx, actors.MainBranch)
		if err != nil {
			return "", diverge(name, "session on main after the stream window", "ok", describe(err))
		}
		if s.Base() != w.Snapshot {
			return "", diverge(name, "main after the stream window", w.Snapshot, s.Base())
		}
		if _, err := streamer.CheckAgainstSource(e.ctx, s, isNotFound, nil, cfg, StreamEpoch, until); err != nil {
			return "", diverge(name, "streamed values", "the mock source's data for ("+StreamEpoch.Format(time.RFC3339)+", "+until.Format(time.RFC3339)+"]", err.Error())
		}
		if captured != nil {
			continue
		}
		keys, err := s.List(e.ctx)
		if err != nil {
			return "", diverge(name, "list after the stream window", "ok", describe(err))
		}
		captured = map[string][]byte{}
		for _, k := range keys {
			if captured[k], err = s.Get(e.ctx, k); err != nil {
				return "", diverge(name, "get "+k+" after the stream window", "ok", describe(err))
			}
		}
		anc, err := h.Ancestry(e.ctx, actors.MainBranch)
		if err != nil || len(anc) == 0 {
			return "", diverge(name, "ancestry of main after the stream window", "ok", describe(err))
		}
		message, meta = anc[0].Message, metaStrings(anc[0].Metadata)
	}
	if captured == nil {
		return "", badTrace("no actor of the run reads spec %d", m.Spec)
	}
	label, d := e.newLabel(w.Snapshot)
	if d != nil {
		return "", d
	}
	if err := m.CommitWindow(label, message, meta, captured, from, until); err != nil {
		return "", diverge("streamer ("+streamerName+")", "stream window as a commit", "a commit of the streamer's keys", err.Error())
	}
	out := fmt.Sprintf("-> %s (%d rows)", label, w.Rows)
	if last == nil {
		// The repository's first window is tagged, unless the name was
		// ever a tag.
		tag := source.StartTagName(w.Fingerprint)
		if _, live := m.Tags[tag]; !live && !m.DeletedTags[tag] {
			m.Tags[tag] = label
			out += ", tagged " + tag
		}
	}
	e.exercised(streamerName, transitions.OpStream, true)
	return out, nil
}
