package statemachine

import (
	"fmt"
	"slices"
	"time"

	"pgregory.net/rapid"
)

// The generator: one rapid action per op type. Each action first checks
// its precondition against the model and calls t.Skip, before drawing
// anything, when it does not apply; then it draws the op's parameters
// (biased towards the interesting: existing refs and arrays, cutoffs at
// exact flush times, chunks just outside the grid) and runs the op.

// Node paths the machine writes ("" is the root). Groups and arrays may
// land on any of them; the first three lean to groups, the rest to arrays.
var (
	groupPaths = []string{"", "g", "g/h"}
	arrayPaths = []string{"a", "g/b", "g/h/d"}
	allPaths   = append(slices.Clone(groupPaths), arrayPaths...)
	// Ref names: existing ones are preferred; a few are invalid.
	branchPool = []string{"main", "dev", "feature", "x.y", "bad/name"}
	tagPool    = []string{"t1", "t2", "v1.0", "it works!", "a..b"}
	// Durations of clock advances; a commit's advance may be 0.
	advances = []time.Duration{time.Second, time.Minute, time.Hour, 24 * time.Hour, time.Microsecond}
	offsets  = []time.Duration{0, -time.Microsecond, time.Microsecond, -time.Second, time.Second}
	inlines  = []int{0, 8, 32}
)

// actionWeights makes the actions that build content more frequent than
// the others (weight 1).
var actionWeights = map[string]int{ActWrite: 5, ActSetArray: 2, ActCommit: 3, ActCrash: 2}

// generator draws the ops of one action, or skips.
type generator func(mc *machine, t *rapid.T) []Op

// generators maps every action to its generator.
var generators = map[string]generator{
	ActInit:         genInit,
	ActSwitch:       genSwitch,
	ActReopen:       genReopen,
	ActSetGroup:     genSetGroup,
	ActSetArray:     genSetArray,
	ActResize:       genResize,
	ActWrite:        genWrite,
	ActDelete:       genDelete,
	ActGet:          genGet,
	ActCommit:       genCommit(false),
	ActAmend:        genCommit(true),
	ActDiscard:      genDiscard,
	ActCheckout:     genCheckout,
	ActCreateBranch: genRef(ActCreateBranch),
	ActResetBranch:  genRef(ActResetBranch),
	ActDeleteBranch: genRef(ActDeleteBranch),
	ActCreateTag:    genRef(ActCreateTag),
	ActDeleteTag:    genRef(ActDeleteTag),
	ActExpire:       genExpire,
	ActGC:           genGC,
	ActUpgrade:      genUpgrade,
	ActAdvance:      genAdvance,
	ActStream:       genStream,
	ActRace:         genRace,
	ActCrash:        genCrash,
}

func (mc *machine) needRepo(t *rapid.T, action string) {
	if !mc.env.model.Initialized() {
		mc.skip(t, action)
	}
}

func (mc *machine) needSession(t *rapid.T, action string) {
	if mc.env.model.Session == nil {
		mc.skip(t, action)
	}
}

// oneIn is true about once in n draws (n at most 10). rapid favours small
// numbers (and shrinks towards them), so the rare branch sits on the
// largest value and a shrunk run takes the common one.
func oneIn(t *rapid.T, n int, label string) bool {
	return rapid.IntRange(0, n-1).Draw(t, label) == n-1
}

func genInit(mc *machine, t *rapid.T) []Op {
	m := mc.env.model
	if m.Initialized() && len(mc.trace.Steps)%10 != 0 {
		// A second Create (which must fail and change nothing) only now
		// and then.
		mc.skip(t, ActInit)
	}
	actor := rapid.SampledFrom(mc.env.names).Draw(t, "actor")
	if m.Initialized() {
		return []Op{&InitOp{Spec: m.Spec, Actor: actor}}
	}
	spec := mc.cfg.Specs[0]
	if len(mc.cfg.Specs) > 1 && oneIn(t, 4, "other spec") {
		spec = rapid.SampledFrom(mc.cfg.Specs[1:]).Draw(t, "spec")
	}
	return []Op{&InitOp{Spec: spec, Inline: rapid.SampledFrom(inlines).Draw(t, "inline"), Actor: actor}}
}

func genSwitch(mc *machine, t *rapid.T) []Op {
	mc.needRepo(t, ActSwitch)
	return []Op{&SwitchOp{Actor: rapid.SampledFrom(mc.env.names).Draw(t, "actor")}}
}

func genReopen(mc *machine, t *rapid.T) []Op {
	mc.needRepo(t, ActReopen)
	return []Op{&ReopenOp{}}
}

// drawPath draws a node path, leaning to the preferred ones.
func drawPath(t *rapid.T, preferred []string) string {
	if !oneIn(t, 4, "any path") {
		return rapid.SampledFrom(preferred).Draw(t, "path")
	}
	return rapid.SampledFrom(allPaths).Draw(t, "path")
}

func genSetGroup(mc *machine, t *rapid.T) []Op {
	mc.needSession(t, ActSetGroup)
	return []Op{&SetGroupOp{Path: drawPath(t, groupPaths), Attrs: rapid.IntRange(0, 2).Draw(t, "attrs")}}
}

// drawShape draws an array shape; an empty dimension now and then.
func drawShape(t *rapid.T, ndim int) []uint64 {
	shape := make([]uint64, ndim)
	for i := range shape {
		if !oneIn(t, 10, "empty dimension") {
			shape[i] = uint64(rapid.IntRange(1, 7).Draw(t, "length"))
		}
	}
	return shape
}

func genSetArray(mc *machine, t *rapid.T) []Op {
	mc.needSession(t, ActSetArray)
	path := drawPath(t, arrayPaths)
	ndim := rapid.IntRange(1, 2).Draw(t, "ndim")
	p := ArrayParams{Shape: drawShape(t, ndim), ChunkShape: make([]uint64, ndim), Attrs: rapid.IntRange(0, 1).Draw(t, "attrs")}
	for i := range p.ChunkShape {
		p.ChunkShape[i] = uint64(rapid.IntRange(1, 3).Draw(t, "chunk"))
	}
	return []Op{&SetArrayOp{Path: path, Params: p}}
}

// viewArrays lists the arrays the session sees.
func (mc *machine) viewArrays() []string {
	s := mc.env.model.Session
	var out []string
	for _, p := range allPaths {
		if s.NodeKind(p) == "array" {
			out = append(out, p)
		}
	}
	return out
}

func genResize(mc *machine, t *rapid.T) []Op {
	mc.needSession(t, ActResize)
	arrays := mc.viewArrays()
	if len(arrays) == 0 {
		mc.skip(t, ActResize)
	}
	path := rapid.SampledFrom(arrays).Draw(t, "array")
	shape, _, _ := mc.env.model.Session.ArrayShape(path)
	return []Op{&ResizeOp{Path: path, Shape: drawShape(t, len(shape))}}
}

// drawCoords draws chunk coordinates of an array, one step outside its
// grid along one dimension when outside is set.
func drawCoords(t *rapid.T, shape, chunkShape []uint64, outside bool) []uint32 {
	out := -1
	if outside {
		out = rapid.IntRange(0, max(0, len(shape)-1)).Draw(t, "outside dim")
	}
	coords := make([]uint32, len(shape))
	for i := range coords {
		last := int(maxChunkIndex(shape[i], chunkShape[i]))
		if i == out {
			coords[i] = uint32(last + 1)
			continue
		}
		coords[i] = uint32(rapid.IntRange(0, last).Draw(t, "coord"))
	}
	return coords
}

func genWrite(mc *machine, t *rapid.T) []Op {
	mc.needSession(t, ActWrite)
	arrays := mc.viewArrays()
	if len(arrays) == 0 {
		mc.skip(t, ActWrite)
	}
	m := mc.env.model
	n := rapid.IntRange(1, 3).Draw(t, "chunks")
	// Now and then the last chunk is a mistake: outside the grid, or on a
	// path that may hold no array.
	mistake := rapid.IntRange(0, 15).Draw(t, "mistake")
	op := &WriteOp{}
	for i := range n {
		path := rapid.SampledFrom(arrays).Draw(t, "array")
		shape, chunkShape, _ := m.Session.ArrayShape(path)
		last := i == n-1
		if last && mistake == 15 {
			path = rapid.SampledFrom(allPaths).Draw(t, "path")
		}
		coords := drawCoords(t, shape, chunkShape, last && mistake == 14)
		var length int
		if !rapid.Bool().Draw(t, "native") {
			length = rapid.IntRange(0, m.InlineThreshold).Draw(t, "inline length")
		} else {
			length = rapid.IntRange(m.InlineThreshold+1, m.InlineThreshold+64).Draw(t, "native length")
		}
		op.Writes = append(op.Writes, ChunkWrite{
			Key:   ChunkKey(path, coords),
			Value: Value{Len: length, Seed: uint64(rapid.IntRange(0, 1<<16).Draw(t, "value"))},
		})
	}
	return []Op{op}
}

func genDelete(mc *machine, t *rapid.T) []Op {
	mc.needSession(t, ActDelete)
	m := mc.env.model
	if rapid.IntRange(0, 4).Draw(t, "delete kind") >= 3 {
		return []Op{&DeleteOp{Key: MetadataKey(rapid.SampledFrom(allPaths).Draw(t, "path"))}}
	}
	var chunkKeys []string
	for _, k := range SortedNames(m.Session.KeySpace()) {
		if _, _, ok := ParseChunkKey(k); ok && !isStreamKey(k) {
			chunkKeys = append(chunkKeys, k)
		}
	}
	if len(chunkKeys) > 0 && !oneIn(t, 3, "other chunk") {
		return []Op{&DeleteOp{Key: rapid.SampledFrom(chunkKeys).Draw(t, "chunk key")}}
	}
	arrays := mc.viewArrays()
	if len(arrays) == 0 {
		return []Op{&DeleteOp{Key: MetadataKey(rapid.SampledFrom(allPaths).Draw(t, "path"))}}
	}
	path := rapid.SampledFrom(arrays).Draw(t, "array")
	shape, chunkShape, _ := m.Session.ArrayShape(path)
	return []Op{&DeleteOp{Key: ChunkKey(path, drawCoords(t, shape, chunkShape, oneIn(t, 10, "outside")))}}
}

func genGet(mc *machine, t *rapid.T) []Op {
	mc.needSession(t, ActGet)
	m := mc.env.model
	op := &GetOp{}
	if oneIn(t, 4, "at a ref") {
		op.Ref = "branch:" + drawName(t, m.Branches, branchPool)
	}
	keys := SortedNames(m.Session.KeySpace())
	if len(keys) > 0 && !oneIn(t, 3, "missing key") {
		op.Key = rapid.SampledFrom(keys).Draw(t, "key")
		return []Op{op}
	}
	path := rapid.SampledFrom(allPaths).Draw(t, "path")
	if rapid.Bool().Draw(t, "chunk") {
		op.Key = ChunkKey(path, []uint32{uint32(rapid.IntRange(0, 3).Draw(t, "coord"))})
	} else {
		op.Key = MetadataKey(path)
	}
	return []Op{op}
}

func genCommit(amend bool) generator {
	action := ActCommit
	if amend {
		action = ActAmend
	}
	return func(mc *machine, t *rapid.T) []Op {
		mc.needSession(t, action)
		var ops []Op
		if !oneIn(t, 7, "no advance") {
			ops = append(ops, &AdvanceOp{By: rapid.SampledFrom(advances[:4]).Draw(t, "advance")})
		}
		op := &CommitOp{Amend: amend, Message: fmt.Sprintf("c%d", mc.trace.NextLine())}
		if oneIn(t, 3, "metadata") {
			op.Metadata = map[string]string{"author": "rig", "line": fmt.Sprint(mc.trace.NextLine())}
		}
		return append(ops, op)
	}
}

func genDiscard(mc *machine, t *rapid.T) []Op {
	mc.needSession(t, ActDiscard)
	return []Op{&DiscardOp{}}
}

// drawName draws a ref name: an existing one (when there are) or one of
// the pool.
func drawName(t *rapid.T, existing map[string]string, pool []string) string {
	names := SortedNames(existing)
	if len(names) > 0 && rapid.IntRange(0, 4).Draw(t, "pool name") < 3 {
		return rapid.SampledFrom(names).Draw(t, "name")
	}
	return rapid.SampledFrom(pool).Draw(t, "name")
}

// drawLabel draws a snapshot label, leaning to recent ones; never one GC
// damaged (see Model.Damaged).
func (mc *machine) drawLabel(t *rapid.T) string {
	m := mc.env.model
	var labels []string
	for _, l := range m.order {
		if !m.Damaged(l) {
			labels = append(labels, l)
		}
	}
	if !rapid.Bool().Draw(t, "any age") {
		labels = labels[max(0, len(labels)-3):]
	}
	return rapid.SampledFrom(labels).Draw(t, "snapshot")
}

// refKinds are the kinds of ref checkout draws, branches most often.
var refKinds = []string{"branch", "branch", "branch", "tag", "snapshot"}

func genCheckout(mc *machine, t *rapid.T) []Op {
	mc.needRepo(t, ActCheckout)
	m := mc.env.model
	switch rapid.SampledFrom(refKinds).Draw(t, "ref kind") {
	case "branch":
		return []Op{&CheckoutOp{Ref: "branch:" + drawName(t, m.Branches, branchPool), ReadOnly: oneIn(t, 10, "read-only")}}
	case "tag":
		return []Op{&CheckoutOp{Ref: "tag:" + drawName(t, m.Tags, tagPool)}}
	default:
		return []Op{&CheckoutOp{Ref: "snapshot:" + mc.drawLabel(t)}}
	}
}

func genRef(verb string) generator {
	return func(mc *machine, t *rapid.T) []Op {
		mc.needRepo(t, verb)
		m := mc.env.model
		switch verb {
		case ActCreateBranch:
			return []Op{&RefOp{Verb: verb, Name: rapid.SampledFrom(branchPool).Draw(t, "name"), At: mc.drawLabel(t)}}
		case ActResetBranch:
			return []Op{&RefOp{Verb: verb, Name: drawName(t, m.Branches, branchPool), At: mc.drawLabel(t)}}
		case ActDeleteBranch:
			return []Op{&RefOp{Verb: verb, Name: drawName(t, m.Branches, branchPool)}}
		case ActCreateTag:
			return []Op{&RefOp{Verb: verb, Name: rapid.SampledFrom(tagPool).Draw(t, "name"), At: mc.drawLabel(t)}}
		default:
			return []Op{&RefOp{Verb: verb, Name: drawName(t, m.Tags, tagPool)}}
		}
	}
}

// drawCutoff draws an expiration or GC cutoff: now, or a snapshot's flush
// time, exactly or just off it.
func (mc *machine) drawCutoff(t *rapid.T) TimeExpr {
	x := TimeExpr{Base: "now"}
	if !oneIn(t, 5, "cutoff at now") {
		x.Base = mc.drawLabel(t)
	}
	x.Offset = rapid.SampledFrom(offsets).Draw(t, "offset")
	return x
}

func genExpire(mc *machine, t *rapid.T) []Op {
	mc.needRepo(t, ActExpire)
	return []Op{&ExpireOp{OlderThan: mc.drawCutoff(t), DeleteBranches: rapid.Bool().Draw(t, "delete branches"), DeleteTags: rapid.Bool().Draw(t, "delete tags")}}
}

func genGC(mc *machine, t *rapid.T) []Op {
	mc.needRepo(t, ActGC)
	return []Op{&GCOp{OlderThan: mc.drawCutoff(t), DryRun: oneIn(t, 4, "dry run")}}
}

func genUpgrade(mc *machine, t *rapid.T) []Op {
	mc.needRepo(t, ActUpgrade)
	return []Op{&UpgradeOp{DryRun: rapid.Bool().Draw(t, "dry run"), DeleteV1Files: rapid.Bool().Draw(t, "delete v1 files")}}
}

func genAdvance(_ *machine, t *rapid.T) []Op {
	return []Op{&AdvanceOp{By: rapid.SampledFrom(advances).Draw(t, "by")}}
}
