package statemachine

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// TraceHeader is the first line of every trace file (format version 1).
const TraceHeader = "# icerig trace v1"

// headerLines is the number of header lines Format writes: the first op
// is on line headerLines+1.
const headerLines = 4

// maxTraceLine bounds one line of a trace file.
const maxTraceLine = 1 << 20

// Trace is a run of the machine as text: a header (format version, id
// seed, actors, spec version) and one op per line, each optionally
// followed by "# outcome". Snapshots are named by labels, so a trace
// replays with any actor that can run it.
//
//	# icerig trace v1
//	# seed: 7
//	# actors: v1
//	# spec: 1
//	init spec=1 inline=8 actor=v1  # ok
//	set-array path=/a shape=4 chunks=2 attrs=0  # ok
//	write a/c/0=20@1  # ok
//	advance by=1s  # now 2025-01-01T00:00:01Z
//	commit msg=c1  # -> s1
type Trace struct {
	// Seed seeds the id source shared by every actor.
	Seed uint64
	// Actors names the actors the run used.
	Actors []string
	// Spec is the spec version the repository was created with (0 when
	// it was never created).
	Spec int
	// Steps are the ops, in order.
	Steps []Step
}

// Step is one op of a trace.
type Step struct {
	// Line is the op's line in the trace file.
	Line int
	Op   Op
	// Outcome is the trailing comment (what happened), "" for none.
	Outcome string
}

// NextLine is the file line the next appended op will have.
func (t *Trace) NextLine() int { return headerLines + len(t.Steps) + 1 }

// Append adds an op with its outcome.
func (t *Trace) Append(op Op, outcome string) {
	t.Steps = append(t.Steps, Step{Line: t.NextLine(), Op: op, Outcome: outcome})
}

// Format renders the trace; ParseTrace reads it back.
func (t *Trace) Format() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n# seed: %d\n# actors: %s\n# spec: %d\n", TraceHeader, t.Seed, strings.Join(t.Actors, ","), t.Spec)
	for _, s := range t.Steps {
		b.WriteString(s.Op.String())
		if out := strings.TrimSpace(strings.ReplaceAll(s.Outcome, "\n", " ")); out != "" {
			b.WriteString("  # " + out)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Hash is the SHA-256 of the formatted trace, in hex.
func (t *Trace) Hash() string {
	sum := sha256.Sum256(t.Format())
	return hex.EncodeToString(sum[:])
}

// ParseTrace reads a trace file. The first non-blank line must be
// TraceHeader; "# seed: N", "# actors: a,b" and "# spec: N" lines may
// follow before the first op; other lines starting with '#' are comments.
// Errors name the line.
func ParseTrace(data []byte) (*Trace, error) {
	t := &Trace{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), maxTraceLine)
	line, sawHeader := 0, false
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		if !sawHeader {
			if text != TraceHeader {
				return nil, fmt.Errorf("trace line %d: want %q, got %q (not an icerig trace, or another format version)", line, TraceHeader, text)
			}
			sawHeader = true
			continue
		}
		if strings.HasPrefix(text, "#") {
			if len(t.Steps) == 0 {
				if err := t.headerField(strings.TrimSpace(strings.TrimPrefix(text, "#"))); err != nil {
					return nil, fmt.Errorf("trace line %d: %w", line, err)
				}
			}
			continue
		}
		op, err := ParseOp(text)
		if err != nil {
			return nil, fmt.Errorf("trace line %d: %w", line, err)
		}
		outcome := ""
		if i := commentStart(text); i >= 0 {
			outcome = strings.TrimSpace(text[i+1:])
		}
		t.Steps = append(t.Steps, Step{Line: line, Op: op, Outcome: outcome})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("trace line %d: %w", line+1, err)
	}
	if !sawHeader {
		return nil, fmt.Errorf("empty trace: want %q first", TraceHeader)
	}
	return t, nil
}

// headerField reads "seed: N", "actors: a,b" or "spec: N"; anything else
// is a free comment.
func (t *Trace) headerField(s string) error {
	key, value, ok := strings.Cut(s, ":")
	if !ok {
		return nil
	}
	value = strings.TrimSpace(value)
	switch key {
	case "seed":
		n, err := strconv.ParseUint(value, 10, 64)
		if err != nil {
			return fmt.Errorf("seed %q is not an unsigned integer", value)
		}
		t.Seed = n
	case "actors":
		t.Actors = nil
		for _, a := range strings.Split(value, ",") {
			if a = strings.TrimSpace(a); a != "" {
				t.Actors = append(t.Actors, a)
			}
		}
	case "spec":
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return fmt.Errorf("spec %q is not a spec version", value)
		}
		t.Spec = n
	}
	return nil
}

// commentStart finds the '#' that starts a trailing comment (outside
// quotes), or -1.
func commentStart(line string) int {
	in := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && in:
			i++
		case c == '"':
			in = !in
		case c == '#' && !in:
			return i
		}
	}
	return -1
}
