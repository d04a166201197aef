package statemachine

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Op is one step of the machine. Every op has a one-line text form
// (String), which ParseOp reads back: a verb, then NAME=VALUE fields
// (values quoted Go-style when they hold spaces, quotes or '#'). Snapshots
// are named by labels ("s0" is the initial snapshot, then "s1", "s2", ...
// in commit order), never by id, so a trace replays with any actor.
type Op interface {
	// Action is the op's action name, the verb of its text form.
	Action() string
	// String is the op's one-line text form.
	String() string
	// run applies the op to the model and the active actor and compares
	// the outcomes. It returns a short description of the outcome for the
	// trace ("ok", "conflict", "-> s3") or a *Divergence.
	run(e *Env) (string, error)
}

// The action names, one per op type, in the order the coverage table
// lists them.
const (
	ActInit         = "init"
	ActSwitch       = "switch"
	ActReopen       = "reopen"
	ActSetGroup     = "set-group"
	ActSetArray     = "set-array"
	ActResize       = "resize"
	ActWrite        = "write"
	ActDelete       = "delete"
	ActGet          = "get"
	ActCommit       = "commit"
	ActAmend        = "amend"
	ActDiscard      = "discard"
	ActCheckout     = "checkout"
	ActCreateBranch = "create-branch"
	ActResetBranch  = "reset-branch"
	ActDeleteBranch = "delete-branch"
	ActCreateTag    = "create-tag"
	ActDeleteTag    = "delete-tag"
	ActExpire       = "expire"
	ActGC           = "gc"
	ActUpgrade      = "upgrade"
	ActAdvance      = "advance"
	ActStream       = "stream"
	ActRace         = "race"
	ActCrash        = "crash"
)

// Actions lists every action name.
var Actions = []string{
	ActInit, ActSwitch, ActReopen, ActSetGroup, ActSetArray, ActResize, ActWrite, ActDelete, ActGet,
	ActCommit, ActAmend, ActDiscard, ActCheckout, ActCreateBranch, ActResetBranch, ActDeleteBranch,
	ActCreateTag, ActDeleteTag, ActExpire, ActGC, ActUpgrade, ActAdvance, ActStream, ActRace, ActCrash,
}

// InitOp creates the repository with an actor and opens a writable session
// on main.
type InitOp struct {
	Spec   int
	Inline int // 0: the library default
	Actor  string
}

// SwitchOp makes another actor the active one: it opens the repository and
// reopens the session (at the same ref, without its changes).
type SwitchOp struct{ Actor string }

// ReopenOp opens the repository again with the active actor (a fresh
// handle, no caches) and reopens the session.
type ReopenOp struct{}

// SetGroupOp sets a group document.
type SetGroupOp struct {
	Path  string // node path, "" for the root
	Attrs int
}

// SetArrayOp sets an array document.
type SetArrayOp struct {
	Path   string
	Params ArrayParams
}

// ResizeOp sets the array at Path to a new shape, keeping its other
// parameters.
type ResizeOp struct {
	Path  string
	Shape []uint64
}

// ChunkWrite is one chunk of a WriteOp.
type ChunkWrite struct {
	Key   string
	Value Value
}

// WriteOp writes one or more chunks, in order.
type WriteOp struct{ Writes []ChunkWrite }

// DeleteOp deletes one key (a zarr.json deletes the node and its subtree).
type DeleteOp struct{ Key string }

// GetOp reads one key through the session, or at Ref ("branch:NAME",
// "tag:NAME", "snapshot:LABEL") when set. Its outcome shows the value
// read, so a hand-written trace can state what a key holds.
type GetOp struct {
	Key string
	Ref string
}

// CommitOp commits the session (Amend: amends the branch tip).
type CommitOp struct {
	Amend    bool
	Message  string
	Metadata map[string]string
}

// DiscardOp drops the session's changes.
type DiscardOp struct{}

// CheckoutOp replaces the session by one on Ref ("branch:NAME",
// "tag:NAME", "snapshot:LABEL"): writable on a branch unless ReadOnly.
type CheckoutOp struct {
	Ref      string
	ReadOnly bool
}

// RefOp creates, resets or deletes a branch or tag.
type RefOp struct {
	Verb string // one of the branch and tag actions
	Name string
	At   string // snapshot label (create, reset)
}

// ExpireOp expires snapshots.
type ExpireOp struct {
	OlderThan                  TimeExpr
	DeleteBranches, DeleteTags bool
}

// GCOp collects garbage.
type GCOp struct {
	OlderThan TimeExpr
	DryRun    bool
}

// UpgradeOp migrates the repository to spec 2 with the active actor.
type UpgradeOp struct{ DryRun, DeleteV1Files bool }

// AdvanceOp moves the virtual clock forward.
type AdvanceOp struct{ By time.Duration }

// TimeExpr is a time relative to the clock ("now", "now-1s") or to a
// snapshot's flush time ("s3", "s3+1us").
type TimeExpr struct {
	Base   string // "now" or a snapshot label
	Offset time.Duration
}

// String renders the expression as ParseTimeExpr reads it.
func (x TimeExpr) String() string {
	if x.Offset == 0 {
		return x.Base
	}
	d := strings.ReplaceAll(x.Offset.String(), "µs", "us")
	if x.Offset > 0 {
		return x.Base + "+" + d
	}
	return x.Base + d
}

// ParseTimeExpr reads "now", "LABEL", "now+DURATION", "LABEL-DURATION".
func ParseTimeExpr(s string) (TimeExpr, error) {
	i := strings.IndexAny(s, "+-")
	if i < 0 {
		if err := checkTimeBase(s); err != nil {
			return TimeExpr{}, err
		}
		return TimeExpr{Base: s}, nil
	}
	base := s[:i]
	if err := checkTimeBase(base); err != nil {
		return TimeExpr{}, err
	}
	d, err := time.ParseDuration(s[i+1:])
	if err != nil || d < 0 {
		return TimeExpr{}, fmt.Errorf("time %q: bad duration %q", s, s[i+1:])
	}
	if s[i] == '-' {
		d = -d
	}
	return TimeExpr{Base: base, Offset: d}, nil
}

func checkTimeBase(s string) error {
	if s == "now" || isLabel(s) {
		return nil
	}
	return fmt.Errorf("time %q: want now or a snapshot label (s0, s1, ...) with an optional +/- duration", s)
}

// isLabel reports whether s is a snapshot label ("s0", "s12").
func isLabel(s string) bool {
	if len(s) < 2 || s[0] != 's' {
		return false
	}
	n, err := strconv.Atoi(s[1:])
	return err == nil && n >= 0 && strconv.Itoa(n) == s[1:]
}

// ---------------------------------------------------------------------------
// Text forms.

// Action returns the op's action name.
func (o *InitOp) Action() string { return ActInit }

// String renders the op as ParseOp reads it.
func (o *InitOp) String() string {
	return fmt.Sprintf("init spec=%d inline=%d actor=%s", o.Spec, o.Inline, quote(o.Actor))
}

// Action returns the op's action name.
func (o *SwitchOp) Action() string { return ActSwitch }

// String renders the op as ParseOp reads it.
func (o *SwitchOp) String() string { return "switch actor=" + quote(o.Actor) }

// Action returns the op's action name.
func (o *ReopenOp) Action() string { return ActReopen }

// String renders the op as ParseOp reads it.
func (o *ReopenOp) String() string { return "reopen" }

// Action returns the op's action name.
func (o *DiscardOp) Action() string { return ActDiscard }

// String renders the op as ParseOp reads it.
func (o *DiscardOp) String() string { return "discard" }

// Action returns the op's action name.
func (o *SetGroupOp) Action() string { return ActSetGroup }

// String renders the op as ParseOp reads it.
func (o *SetGroupOp) String() string {
	return fmt.Sprintf("set-group path=%s attrs=%d", quote("/"+o.Path), o.Attrs)
}

// Action returns the op's action name.
func (o *SetArrayOp) Action() string { return ActSetArray }

// String renders the op as ParseOp reads it.
func (o *SetArrayOp) String() string {
	return fmt.Sprintf("set-array path=%s shape=%s chunks=%s attrs=%d", quote("/"+o.Path),
		intList(o.Params.Shape), intList(o.Params.ChunkShape), o.Params.Attrs)
}

// Action returns the op's action name.
func (o *ResizeOp) Action() string { return ActResize }

// String renders the op as ParseOp reads it.
func (o *ResizeOp) String() string {
	return fmt.Sprintf("resize path=%s shape=%s", quote("/"+o.Path), intList(o.Shape))
}

// Action returns the op's action name.
func (o *WriteOp) Action() string { return ActWrite }

// String renders the op as ParseOp reads it.
func (o *WriteOp) String() string {
	var b strings.Builder
	b.WriteString("write")
	for _, w := range o.Writes {
		b.WriteString(" " + quote(w.Key) + "=" + w.Value.String())
	}
	return b.String()
}

// Action returns the op's action name.
func (o *DeleteOp) Action() string { return ActDelete }

// String renders the op as ParseOp reads it.
func (o *DeleteOp) String() string { return "delete key=" + quote(o.Key) }

// Action returns the op's action name.
func (o *GetOp) Action() string { return ActGet }

// String renders the op as ParseOp reads it.
func (o *GetOp) String() string {
	s := "get key=" + quote(o.Key)
	if o.Ref != "" {
		s += " ref=" + quote(o.Ref)
	}
	return s
}

// Action returns the op's action name.
func (o *CommitOp) Action() string {
	if o.Amend {
		return ActAmend
	}
	return ActCommit
}

// String renders the op as ParseOp reads it.
func (o *CommitOp) String() string {
	s := o.Action() + " msg=" + quote(o.Message)
	if len(o.Metadata) > 0 {
		keys := make([]string, 0, len(o.Metadata))
		for k := range o.Metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + o.Metadata[k]
		}
		s += " meta=" + quote(strings.Join(parts, ","))
	}
	return s
}

// Action returns the op's action name.
func (o *CheckoutOp) Action() string { return ActCheckout }

// String renders the op as ParseOp reads it.
func (o *CheckoutOp) String() string {
	s := "checkout ref=" + quote(o.Ref)
	if o.ReadOnly {
		s += " ro=true"
	}
	return s
}

// Action returns the op's action name.
func (o *RefOp) Action() string { return o.Verb }

// String renders the op as ParseOp reads it.
func (o *RefOp) String() string {
	switch o.Verb {
	case ActCreateBranch, ActCreateTag:
		return o.Verb + " name=" + quote(o.Name) + " at=" + o.At
	case ActResetBranch:
		return o.Verb + " name=" + quote(o.Name) + " to=" + o.At
	}
	return o.Verb + " name=" + quote(o.Name)
}

// Action returns the op's action name.
func (o *ExpireOp) Action() string { return ActExpire }

// String renders the op as ParseOp reads it.
func (o *ExpireOp) String() string {
	return fmt.Sprintf("expire older-than=%s delete-branches=%t delete-tags=%t", o.OlderThan, o.DeleteBranches, o.DeleteTags)
}

// Action returns the op's action name.
func (o *GCOp) Action() string { return ActGC }

// String renders the op as ParseOp reads it.
func (o *GCOp) String() string {
	return fmt.Sprintf("gc older-than=%s dry-run=%t", o.OlderThan, o.DryRun)
}

// Action returns the op's action name.
func (o *UpgradeOp) Action() string { return ActUpgrade }

// String renders the op as ParseOp reads it.
func (o *UpgradeOp) String() string {
	return fmt.Sprintf("upgrade dry-run=%t delete-v1-files=%t", o.DryRun, o.DeleteV1Files)
}

// Action returns the op's action name.
func (o *AdvanceOp) Action() string { return ActAdvance }

// String renders the op as ParseOp reads it.
func (o *AdvanceOp) String() string {
	return "advance by=" + strings.ReplaceAll(o.By.String(), "µs", "us")
}

func intList(v []uint64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatUint(x, 10)
	}
	return strings.Join(parts, ",")
}

// quote leaves a value bare when it can be read back bare, and quotes it
// Go-style otherwise.
func quote(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"#=\\") || !isPrintableASCII(s) {
		return strconv.Quote(s)
	}
	return s
}

func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Parsing.

// field is one NAME=VALUE of a line.
type field struct{ name, value string }

// splitLine splits a trace line into its verb and fields, dropping a
// trailing "# comment".
func splitLine(line string) (string, []field, error) {
	var toks []string
	rest := strings.TrimSpace(line)
	for rest != "" {
		if rest[0] == '#' {
			break
		}
		var tok strings.Builder
		for rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			if rest[0] == '"' {
				q, err := strconv.QuotedPrefix(rest)
				if err != nil {
					return "", nil, fmt.Errorf("bad quoted string at %q", rest)
				}
				s, _ := strconv.Unquote(q)
				if strings.ContainsRune(s, 0) {
					return "", nil, fmt.Errorf("NUL in quoted string %s", q)
				}
				tok.WriteString("\x00" + s + "\x00")
				rest = rest[len(q):]
				continue
			}
			if rest[0] == '#' {
				return "", nil, fmt.Errorf("'#' inside a field (quote it) at %q", rest)
			}
			tok.WriteByte(rest[0])
			rest = rest[1:]
		}
		toks = append(toks, tok.String())
		rest = strings.TrimLeft(rest, " \t")
	}
	if len(toks) == 0 {
		return "", nil, nil
	}
	verb := toks[0]
	if strings.Contains(verb, "\x00") || strings.Contains(verb, "=") {
		return "", nil, fmt.Errorf("line must start with an action name, not %q", strings.ReplaceAll(verb, "\x00", `"`))
	}
	var fields []field
	for _, t := range toks[1:] {
		// The name is the part before the first '=' outside quotes.
		name, value, ok := cutOutsideQuotes(t)
		if !ok {
			return "", nil, fmt.Errorf("%s: field %q is not NAME=VALUE", verb, strings.ReplaceAll(t, "\x00", `"`))
		}
		fields = append(fields, field{strings.ReplaceAll(name, "\x00", ""), strings.ReplaceAll(value, "\x00", "")})
	}
	return verb, fields, nil
}

// cutOutsideQuotes cuts a token (quoted parts delimited by NUL) at its
// first '=' outside quotes.
func cutOutsideQuotes(t string) (string, string, bool) {
	in := false
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case 0:
			in = !in
		case '=':
			if !in {
				return t[:i], t[i+1:], true
			}
		}
	}
	return "", "", false
}

// fieldSet reads named fields once each.
type fieldSet struct {
	verb   string
	fields map[string]string
	used   map[string]bool
	err    error
}

func newFieldSet(verb string, fields []field) *fieldSet {
	fs := &fieldSet{verb: verb, fields: map[string]string{}, used: map[string]bool{}}
	for _, f := range fields {
		if _, dup := fs.fields[f.name]; dup && fs.err == nil {
			fs.err = fmt.Errorf("%s: field %s given twice", verb, f.name)
		}
		fs.fields[f.name] = f.value
	}
	return fs
}

func (fs *fieldSet) fail(format string, args ...any) {
	if fs.err == nil {
		fs.err = fmt.Errorf(fs.verb+": "+format, args...)
	}
}

func (fs *fieldSet) str(name string, required bool) string {
	v, ok := fs.fields[name]
	fs.used[name] = true
	if !ok && required {
		fs.fail("missing field %s", name)
	}
	return v
}

func (fs *fieldSet) int(name string, required bool) int {
	v := fs.str(name, required)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		fs.fail("field %s=%q is not a non-negative integer", name, v)
	}
	return n
}

func (fs *fieldSet) bool(name string) bool {
	v := fs.str(name, false)
	switch v {
	case "", "false":
		return false
	case "true":
		return true
	}
	fs.fail("field %s=%q is not true or false", name, v)
	return false
}

func (fs *fieldSet) ints(name string) []uint64 {
	v := fs.str(name, true)
	if v == "" {
		return nil
	}
	var out []uint64
	for _, p := range strings.Split(v, ",") {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			fs.fail("field %s=%q is not a list of integers", name, v)
			return nil
		}
		out = append(out, n)
	}
	return out
}

func (fs *fieldSet) path(name string) string {
	v := fs.str(name, true)
	if !strings.HasPrefix(v, "/") {
		fs.fail("field %s=%q is not an absolute node path", name, v)
		return ""
	}
	p := strings.TrimPrefix(v, "/")
	if !validNodePath(p) {
		fs.fail("field %s=%q is not a node path", name, v)
	}
	return p
}

func (fs *fieldSet) label(name string) string {
	v := fs.str(name, true)
	if !isLabel(v) {
		fs.fail("field %s=%q is not a snapshot label (s0, s1, ...)", name, v)
	}
	return v
}

// checkRef checks a ref field: branch:NAME, tag:NAME or snapshot:LABEL.
func (fs *fieldSet) checkRef(ref string) {
	kind, name, ok := strings.Cut(ref, ":")
	switch {
	case !ok:
		fs.fail("ref %q: want branch:NAME, tag:NAME or snapshot:LABEL", ref)
	case kind == "snapshot" && !isLabel(name):
		fs.fail("ref %q: a snapshot is named by its label (s0, s1, ...)", ref)
	case kind != "branch" && kind != "tag" && kind != "snapshot":
		fs.fail("ref %q: unknown kind %q", ref, kind)
	}
}

func (fs *fieldSet) done() error {
	if fs.err != nil {
		return fs.err
	}
	var extra []string
	for name := range fs.fields {
		if !fs.used[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("%s: unknown field(s) %s", fs.verb, strings.Join(extra, ", "))
	}
	return nil
}

// maxDims bounds the dimensions of an array in a trace.
const maxDims = 8

// ParseOp reads one op from its text form (a trailing "# comment" is
// ignored). A blank or comment-only line is (nil, nil).
func ParseOp(line string) (Op, error) {
	verb, fields, err := splitLine(line)
	if err != nil || verb == "" {
		return nil, err
	}
	fs := newFieldSet(verb, fields)
	var op Op
	switch verb {
	case ActInit:
		o := &InitOp{Spec: fs.int("spec", true), Inline: fs.int("inline", false), Actor: fs.str("actor", true)}
		if fs.err == nil && o.Spec == 0 {
			fs.fail("spec must be 1 or more")
		}
		op = o
	case ActSwitch:
		op = &SwitchOp{Actor: fs.str("actor", true)}
	case ActReopen:
		op = &ReopenOp{}
	case ActDiscard:
		op = &DiscardOp{}
	case ActSetGroup:
		op = &SetGroupOp{Path: fs.path("path"), Attrs: fs.int("attrs", false)}
	case ActSetArray:
		o := &SetArrayOp{Path: fs.path("path"), Params: ArrayParams{Shape: fs.ints("shape"), ChunkShape: fs.ints("chunks"), Attrs: fs.int("attrs", false)}}
		if fs.err == nil && (len(o.Params.Shape) != len(o.Params.ChunkShape) || len(o.Params.Shape) == 0 || len(o.Params.Shape) > maxDims) {
			fs.fail("shape and chunks need the same number (1 to %d) of dimensions", maxDims)
		}
		for _, c := range o.Params.ChunkShape {
			if c == 0 {
				fs.fail("chunk sizes must be positive")
			}
		}
		op = o
	case ActResize:
		o := &ResizeOp{Path: fs.path("path"), Shape: fs.ints("shape")}
		if fs.err == nil && (len(o.Shape) == 0 || len(o.Shape) > maxDims) {
			fs.fail("shape needs 1 to %d dimensions", maxDims)
		}
		op = o
	case ActWrite:
		o := &WriteOp{}
		for _, f := range fields {
			v, err := ParseValue(f.value)
			if err != nil {
				return nil, fmt.Errorf("write: key %q: %w", f.name, err)
			}
			if _, _, ok := ParseChunkKey(f.name); !ok {
				return nil, fmt.Errorf("write: %q is not a chunk key (PATH/c/I/J)", f.name)
			}
			o.Writes = append(o.Writes, ChunkWrite{Key: f.name, Value: v})
		}
		if len(o.Writes) == 0 {
			return nil, fmt.Errorf("write: no KEY=VALUE")
		}
		return o, nil
	case ActDelete:
		o := &DeleteOp{Key: fs.str("key", true)}
		if fs.err == nil {
			if _, ok := ParseMetadataKey(o.Key); !ok {
				if _, _, ok := ParseChunkKey(o.Key); !ok {
					fs.fail("key %q is neither PATH/zarr.json nor a chunk key", o.Key)
				}
			}
		}
		op = o
	case ActGet:
		o := &GetOp{Key: fs.str("key", true), Ref: fs.str("ref", false)}
		if fs.err == nil {
			if _, ok := ParseMetadataKey(o.Key); !ok {
				if _, _, ok := ParseChunkKey(o.Key); !ok {
					fs.fail("key %q is neither PATH/zarr.json nor a chunk key", o.Key)
				}
			}
			if o.Ref != "" {
				fs.checkRef(o.Ref)
			}
		}
		op = o
	case ActCommit, ActAmend:
		o := &CommitOp{Amend: verb == ActAmend, Message: fs.str("msg", true)}
		if meta := fs.str("meta", false); meta != "" {
			o.Metadata = map[string]string{}
			for _, kv := range strings.Split(meta, ",") {
				k, v, ok := strings.Cut(kv, ":")
				if !ok || k == "" {
					fs.fail("meta %q: want KEY:VALUE,...", meta)
					break
				}
				o.Metadata[k] = v
			}
		}
		op = o
	case ActCheckout:
		o := &CheckoutOp{Ref: fs.str("ref", true), ReadOnly: fs.bool("ro")}
		if fs.err == nil {
			fs.checkRef(o.Ref)
		}
		op = o
	case ActCreateBranch, ActCreateTag:
		op = &RefOp{Verb: verb, Name: fs.str("name", true), At: fs.label("at")}
	case ActResetBranch:
		op = &RefOp{Verb: verb, Name: fs.str("name", true), At: fs.label("to")}
	case ActDeleteBranch, ActDeleteTag:
		op = &RefOp{Verb: verb, Name: fs.str("name", true)}
	case ActExpire, ActGC:
		x, err := ParseTimeExpr(fs.str("older-than", true))
		if err != nil && fs.err == nil {
			fs.fail("%v", err)
		}
		if verb == ActExpire {
			op = &ExpireOp{OlderThan: x, DeleteBranches: fs.bool("delete-branches"), DeleteTags: fs.bool("delete-tags")}
		} else {
			op = &GCOp{OlderThan: x, DryRun: fs.bool("dry-run")}
		}
	case ActUpgrade:
		op = &UpgradeOp{DryRun: fs.bool("dry-run"), DeleteV1Files: fs.bool("delete-v1-files")}
	case ActAdvance:
		d, err := time.ParseDuration(fs.str("by", true))
		if (err != nil || d <= 0) && fs.err == nil {
			fs.fail("by=%q is not a positive duration", fs.fields["by"])
		}
		op = &AdvanceOp{By: d}
	case ActStream:
		d, err := time.ParseDuration(fs.str("by", true))
		if (err != nil || d <= 0 || d > 4*time.Hour) && fs.err == nil {
			fs.fail("by=%q is not a duration in (0, 4h]", fs.fields["by"])
		}
		op = &StreamOp{By: d}
	case ActRace:
		op = parseRace(fs)
	case ActCrash:
		op = parseCrash(fs)
	default:
		return nil, fmt.Errorf("unknown action %q (want one of %s)", verb, strings.Join(Actions, ", "))
	}
	if err := fs.done(); err != nil {
		return nil, err
	}
	return op, nil
}

// ParseChunkKey splits a chunk key ("a/c/0/1", "c/3") into its node path
// ("a", "" for the root) and coordinates.
func ParseChunkKey(key string) (string, []uint32, bool) {
	segs := strings.Split(key, "/")
	for i := len(segs) - 1; i >= 0; i-- {
		if segs[i] != "c" {
			continue
		}
		coords := segs[i+1:]
		if len(coords) == 0 || len(coords) > maxDims {
			return "", nil, false
		}
		out := make([]uint32, len(coords))
		for j, s := range coords {
			n, err := strconv.ParseUint(s, 10, 32)
			if err != nil || strconv.FormatUint(n, 10) != s {
				return "", nil, false
			}
			out[j] = uint32(n)
		}
		path := strings.Join(segs[:i], "/")
		if !validNodePath(path) {
			return "", nil, false
		}
		return path, out, true
	}
	return "", nil, false
}

// ParseMetadataKey returns the node path of a zarr.json key.
func ParseMetadataKey(key string) (string, bool) {
	if key == "zarr.json" {
		return "", true
	}
	p, ok := strings.CutSuffix(key, "/zarr.json")
	if !ok || !validNodePath(p) {
		return "", false
	}
	return p, true
}

func validNodePath(p string) bool {
	if p == "" {
		return true
	}
	for _, s := range strings.Split(p, "/") {
		if s == "" || s == "." || s == ".." || s == "c" || s == "zarr.json" {
			return false
		}
	}
	return isPrintableASCII(p) && !strings.ContainsAny(p, "\\\"#=")
}
