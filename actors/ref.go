package actors

import (
	"fmt"
	"strings"
)

// RefKind says what a Ref names.
type RefKind uint8

// The kinds of ref.
const (
	// RefBranch names the current tip of a branch.
	RefBranch RefKind = iota + 1
	// RefTag names the snapshot of a tag.
	RefTag
	// RefSnapshot names a snapshot by id.
	RefSnapshot
)

// String is the ref kind's prefix word: "branch", "tag" or "snapshot".
func (k RefKind) String() string {
	switch k {
	case RefBranch:
		return "branch"
	case RefTag:
		return "tag"
	case RefSnapshot:
		return "snapshot"
	}
	return fmt.Sprintf("RefKind(%d)", uint8(k))
}

// Ref names one version of a repository: a branch tip, a tag or a snapshot.
// Build one with [Branch], [Tag], [Snapshot] or [ParseRef]; the zero Ref is
// invalid (ErrInvalidRefName).
type Ref struct {
	// Kind is RefBranch, RefTag or RefSnapshot.
	Kind RefKind
	// Name is the branch or tag name, or the snapshot id.
	Name string
}

// MainBranch is the ref every command reads by default: "branch:main".
var MainBranch = Branch("main")

// Branch names the tip of a branch.
func Branch(name string) Ref { return Ref{Kind: RefBranch, Name: name} }

// Tag names the snapshot of a tag.
func Tag(name string) Ref { return Ref{Kind: RefTag, Name: name} }

// Snapshot names a snapshot by its id.
func Snapshot(id string) Ref { return Ref{Kind: RefSnapshot, Name: id} }

// String renders the ref as ParseRef reads it: "branch:NAME", "tag:NAME"
// or "snapshot:ID".
func (r Ref) String() string { return r.Kind.String() + ":" + r.Name }

// snapshotIDLength is the length of a snapshot id's text form.
const snapshotIDLength = 20

// crockford is the alphabet of id text forms.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ParseRef reads "branch:NAME", "tag:NAME" or "snapshot:ID". Names may hold
// any character but must not be empty (the library checks the rest when the
// ref is used); a snapshot id must be 20 characters of Crockford base32
// (ASCII lower case is upper-cased). Errors wrap ErrInvalidRefName.
func ParseRef(s string) (Ref, error) {
	kind, name, ok := strings.Cut(s, ":")
	if !ok {
		return Ref{}, fmt.Errorf("ref %q: %w: want branch:NAME, tag:NAME or snapshot:ID", s, ErrInvalidRefName)
	}
	if name == "" {
		return Ref{}, fmt.Errorf("ref %q: %w: empty %s name", s, ErrInvalidRefName, kind)
	}
	switch kind {
	case "branch":
		return Branch(name), nil
	case "tag":
		return Tag(name), nil
	case "snapshot":
		id := strings.Map(asciiUpper, name)
		if err := checkSnapshotID(id); err != nil {
			return Ref{}, fmt.Errorf("ref %q: %w: %v", s, ErrInvalidRefName, err)
		}
		return Snapshot(id), nil
	}
	return Ref{}, fmt.Errorf("ref %q: %w: unknown kind %q (want branch, tag or snapshot)", s, ErrInvalidRefName, kind)
}

// asciiUpper upper-cases ASCII letters only (strings.ToUpper would also
// turn some non-ASCII letters into ASCII ones).
func asciiUpper(c rune) rune {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// checkSnapshotID checks the length and alphabet of a snapshot id.
func checkSnapshotID(id string) error {
	if len(id) != snapshotIDLength {
		return fmt.Errorf("snapshot id %q has %d characters, want %d", id, len(id), snapshotIDLength)
	}
	if i := strings.IndexFunc(id, func(c rune) bool { return !strings.ContainsRune(crockford, c) }); i >= 0 {
		return fmt.Errorf("snapshot id %q: character %q is not Crockford base32", id, id[i])
	}
	return nil
}

// validate reports an error wrapping ErrInvalidRefName for a Ref that names
// nothing.
func (r Ref) validate() error {
	switch {
	case r.Kind < RefBranch || r.Kind > RefSnapshot:
		return fmt.Errorf("ref %s: %w: unknown kind", r, ErrInvalidRefName)
	case r.Name == "":
		return fmt.Errorf("ref %s: %w: empty name", r, ErrInvalidRefName)
	}
	return nil
}
