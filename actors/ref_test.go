package actors_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
)

func TestParseRef(t *testing.T) {
	good := []struct {
		in   string
		want actors.Ref
		out  string
	}{
		{"branch:main", actors.MainBranch, "branch:main"},
		{"branch:my-branch", actors.Branch("my-branch"), "branch:my-branch"},
		{"tag:it works!", actors.Tag("it works!"), "tag:it works!"},
		{"tag:a:b", actors.Tag("a:b"), "tag:a:b"},
		{"snapshot:P874YS3J196959RDHX7G", actors.Snapshot("P874YS3J196959RDHX7G"), "snapshot:P874YS3J196959RDHX7G"},
		{"snapshot:p874ys3j196959rdhx7g", actors.Snapshot("P874YS3J196959RDHX7G"), "snapshot:P874YS3J196959RDHX7G"},
	}
	for _, c := range good {
		got, err := actors.ParseRef(c.in)
		require.NoError(t, err, c.in)
		assert.Equal(t, c.want, got, c.in)
		assert.Equal(t, c.out, got.String(), c.in)
	}
	bad := []string{"", "main", "branch:", "tag:", "snapshot:", "commit:abc", "snapshot:SHORT",
		"snapshot:P874YS3J196959RDHX7GX", "snapshot:P874YS3J196959RDHX7U", ":x"}
	for _, in := range bad {
		_, err := actors.ParseRef(in)
		assert.ErrorIs(t, err, actors.ErrInvalidRefName, "%q", in)
		if err != nil {
			assert.Contains(t, err.Error(), fmt.Sprintf("%q", in), "the error names the input")
		}
	}
	assert.Equal(t, "branch", actors.RefBranch.String())
	assert.Equal(t, "RefKind(9)", actors.RefKind(9).String())
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"branch:main", "tag:it works!", "tag:it also works!", "tag:deleted",
		"snapshot:P874YS3J196959RDHX7G", "snapshot:1CECHNKREP0F1RSTCMT0", "branch:", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := actors.ParseRef(s)
		if err != nil {
			if !errors.Is(err, actors.ErrInvalidRefName) {
				t.Fatalf("ParseRef(%q): error without kind: %v", s, err)
			}
			return
		}
		// A parsed ref prints back to an equivalent input and parses to itself.
		again, err := actors.ParseRef(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseRef(%q) = %v, reparse gives %v, %v", s, r, again, err)
		}
		if r.Kind != actors.RefSnapshot && r.String() != s {
			t.Fatalf("ParseRef(%q).String() = %q", s, r.String())
		}
		if r.Kind == actors.RefSnapshot && !strings.EqualFold(r.String(), s) {
			t.Fatalf("snapshot ref %q printed as %q", s, r.String())
		}
	})
}

func TestErrorWrapping(t *testing.T) {
	lib := errors.New("library says no")
	e := &actors.Error{Kind: actors.ErrConflict, Actor: "v9", Op: "commit", Err: fmt.Errorf("branch moved: %w", lib)}
	assert.Equal(t, "v9: commit: branch moved: library says no", e.Error())
	assert.ErrorIs(t, e, actors.ErrConflict)
	assert.ErrorIs(t, e, lib)
	assert.NotErrorIs(t, e, actors.ErrTagExists)
	wrapped := fmt.Errorf("outer: %w", e)
	assert.Equal(t, actors.ErrConflict, actors.KindOf(wrapped))
	assert.Nil(t, actors.KindOf(lib))
	assert.Nil(t, actors.KindOf(nil))
	// A plain error wrapping a kind still has it.
	assert.Equal(t, actors.ErrCorrupt, actors.KindOf(fmt.Errorf("x: %w", actors.ErrCorrupt)))
	// An Error without kind unwraps to the library error only.
	plain := &actors.Error{Actor: "v9", Op: "list", Err: lib}
	assert.ErrorIs(t, plain, lib)
	assert.Nil(t, actors.KindOf(plain))
}
