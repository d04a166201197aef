package gccompare

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"

	"github.com/icerig/icerig/actors"
	"github.com/icerig/icerig/objstore"
)

// maxListed bounds how many keys or ids a mismatch value lists.
const maxListed = 20

// diffReport lists every difference between the two sides of r, in a
// fixed order: error, expiration, GC, keys, content (computed by
// diffContent), state afterwards, cross read.
func diffReport(r *Report, content []Mismatch) []Mismatch {
	o, p := r.Original, r.Replica
	var out []Mismatch
	add := func(field, orig, rep string) {
		if orig != rep {
			out = append(out, Mismatch{Field: field, Original: orig, Replica: rep})
		}
	}
	add("error", o.Error.String(), p.Error.String())

	if o.Expire != nil && p.Expire != nil {
		out = append(out, diffExpire(*o.Expire, *p.Expire)...)
	}
	if o.GC != nil && p.GC != nil {
		out = append(out, diffGC(*o.GC, *p.GC)...)
	}
	out = append(out, diffKeys(o.Keys, p.Keys)...)
	out = append(out, content...)
	out = append(out, diffState("after", o.After, p.After)...)
	if r.Cross != nil {
		// The original repository as the replica actor reads it must be
		// what the replica actor made of its copy.
		out = append(out, diffState("cross", *r.Cross, p.After)...)
	}
	if out == nil {
		out = []Mismatch{}
	}
	return out
}

func diffExpire(o, p actors.ExpireResult) []Mismatch {
	var out []Mismatch
	for _, f := range []struct {
		field string
		o, p  []string
	}{
		{"expire.released_snapshots", o.ReleasedSnapshots, p.ReleasedSnapshots},
		{"expire.edited_snapshots", o.EditedSnapshots, p.EditedSnapshots},
		{"expire.deleted_branches", o.DeletedBranches, p.DeletedBranches},
		{"expire.deleted_tags", o.DeletedTags, p.DeletedTags},
	} {
		if !slices.Equal(f.o, f.p) {
			out = append(out, Mismatch{Field: f.field, Original: listText(f.o), Replica: listText(f.p)})
		}
	}
	return out
}

func diffGC(o, p actors.GCResult) []Mismatch {
	var out []Mismatch
	for _, f := range []struct {
		field string
		o, p  int64
	}{
		{"gc.snapshots_deleted", int64(o.SnapshotsDeleted), int64(p.SnapshotsDeleted)},
		{"gc.transaction_logs_deleted", int64(o.TransactionLogsDeleted), int64(p.TransactionLogsDeleted)},
		{"gc.manifests_deleted", int64(o.ManifestsDeleted), int64(p.ManifestsDeleted)},
		{"gc.chunks_deleted", int64(o.ChunksDeleted), int64(p.ChunksDeleted)},
		{"gc.bytes_deleted", o.BytesDeleted, p.BytesDeleted},
	} {
		if f.o != f.p {
			out = append(out, Mismatch{Field: f.field, Original: fmt.Sprint(f.o), Replica: fmt.Sprint(f.p)})
		}
	}
	return out
}

// diffKeys compares the key sets prefix by prefix ("keys[PREFIX]"); each
// side's value is its count and the keys only it holds.
func diffKeys(o, p map[string][]string) []Mismatch {
	prefixes := map[string]bool{}
	for k := range o {
		prefixes[k] = true
	}
	for k := range p {
		prefixes[k] = true
	}
	var out []Mismatch
	for _, prefix := range sortedKeys(prefixes) {
		onlyO, onlyP := setDiff(o[prefix], p[prefix])
		if len(onlyO) == 0 && len(onlyP) == 0 {
			continue
		}
		out = append(out, Mismatch{
			Field:    "keys[" + prefix + "]",
			Original: keysText(len(o[prefix]), onlyO),
			Replica:  keysText(len(p[prefix]), onlyP),
		})
	}
	return out
}

// setDiff returns the elements only a holds and those only b holds, both
// sorted (a and b are sorted).
func setDiff(a, b []string) (onlyA, onlyB []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || (i < len(a) && a[i] < b[j]):
			onlyA = append(onlyA, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			onlyB = append(onlyB, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyA, onlyB
}

func keysText(total int, only []string) string {
	s := fmt.Sprintf("%d key(s)", total)
	if len(only) > 0 {
		s += "; only here: " + abbreviate(only, maxListed)
	}
	return s
}

// diffState compares two States; fields are "WHERE.error",
// "WHERE.spec_version", "WHERE.branches", "WHERE.tags",
// "WHERE.deleted_tags", "WHERE.ancestry[REF]" and "WHERE.fsck".
func diffState(where string, o, p State) []Mismatch {
	var out []Mismatch
	add := func(field, orig, rep string) {
		if orig != rep {
			out = append(out, Mismatch{Field: where + "." + field, Original: orig, Replica: rep})
		}
	}
	add("error", o.Error.String(), p.Error.String())
	add("spec_version", fmt.Sprint(o.SpecVersion), fmt.Sprint(p.SpecVersion))
	add("branches", mapText(o.Branches), mapText(p.Branches))
	add("tags", mapText(o.Tags), mapText(p.Tags))
	add("deleted_tags", listText(o.DeletedTags), listText(p.DeletedTags))
	refs := map[string]bool{}
	for k := range o.Ancestry {
		refs[k] = true
	}
	for k := range p.Ancestry {
		refs[k] = true
	}
	for _, ref := range sortedKeys(refs) {
		oa, pa := o.Ancestry[ref], p.Ancestry[ref]
		if !slices.Equal(oa, pa) {
			add("ancestry["+ref+"]", ancestryText(oa, ref, o.Ancestry), ancestryText(pa, ref, p.Ancestry))
		}
	}
	if o.Fsck != nil && p.Fsck != nil {
		add("fsck", listText(o.Fsck), listText(p.Fsck))
	}
	return out
}

func ancestryText(ids []string, ref string, all map[string][]string) string {
	if _, ok := all[ref]; !ok {
		return "(no such ref)"
	}
	return listText(ids)
}

// listText renders a list as "[a, b, c]", abbreviated after maxListed.
func listText(items []string) string {
	return "[" + abbreviate(items, maxListed) + "]"
}

// mapText renders a map as "{k: v, ...}" sorted by key.
func mapText(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+": "+m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// abbreviate joins the first max items with ", " and says how many more
// there are.
func abbreviate(items []string, max int) string {
	if len(items) <= max {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:max], ", ") + fmt.Sprintf(", ... (%d more)", len(items)-max)
}

// The fixed start of every Icechunk metadata file (spec 1 and 2): 12
// bytes of magic, then the writing library's name in a 24-byte field.
// The name differs between writers by design, so content comparison
// ignores that field.
const (
	headerMagic         = "ICE\U0001F9CACHUNK"
	implementationField = 24
)

// skipContentPrefixes are the prefixes whose objects are never rewritten
// by expiration or GC, only deleted: content comparison skips them (they
// are the bulk of a repository).
var skipContentPrefixes = map[string]bool{"chunks/": true}

// diffContent compares the bytes of every key both stores hold outside
// skipContentPrefixes ("content[PREFIX]"), ignoring the implementation
// name of metadata file headers. Each side's value lists the differing
// keys with their size and a digest.
func diffContent(ctx context.Context, original, replica objstore.Store, o, p map[string][]string) ([]Mismatch, error) {
	var out []Mismatch
	for _, prefix := range sortedKeys(o) {
		if skipContentPrefixes[prefix] {
			continue
		}
		var origText, repText []string
		for _, key := range intersect(o[prefix], p[prefix]) {
			a, _, err := original.Get(ctx, key)
			if err != nil {
				return nil, fmt.Errorf("gccompare: compare contents: read %q of %s: %w", key, original, err)
			}
			b, _, err := replica.Get(ctx, key)
			if err != nil {
				return nil, fmt.Errorf("gccompare: compare contents: read %q of %s: %w", key, replica, err)
			}
			if !bytes.Equal(maskImplementation(a), maskImplementation(b)) {
				origText = append(origText, objectText(key, a))
				repText = append(repText, objectText(key, b))
			}
		}
		if len(origText) > 0 {
			out = append(out, Mismatch{
				Field:    "content[" + prefix + "]",
				Original: abbreviate(origText, maxListed),
				Replica:  abbreviate(repText, maxListed),
			})
		}
	}
	return out, nil
}

// maskImplementation returns data with the implementation name of a
// metadata file header blanked (data itself when it has no header).
func maskImplementation(data []byte) []byte {
	n := len(headerMagic) + implementationField
	if len(data) < n || string(data[:len(headerMagic)]) != headerMagic {
		return data
	}
	out := append([]byte(nil), data...)
	for i := len(headerMagic); i < n; i++ {
		out[i] = ' '
	}
	return out
}

// objectText renders "KEY (N bytes, sha256 PREFIX)".
func objectText(key string, data []byte) string {
	sum := sha256.Sum256(data)
	return fmt.Sprintf("%s (%d bytes, sha256 %x)", key, len(data), sum[:6])
}

// intersect returns the elements both sorted lists hold.
func intersect(a, b []string) []string {
	var out []string
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case b[j] < a[i]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}
