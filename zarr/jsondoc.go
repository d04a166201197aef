package zarr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// rawField locates one member of the top-level JSON object of a document.
type rawField struct {
	key      string
	keyStart int // offset of the key's opening quote
	keyEnd   int // offset just after the key's closing quote
	valStart int // offset of the value's first byte
	valEnd   int // offset just after the value's last byte
}

// rawObject is a top-level JSON object with the byte span of every member,
// so members can be replaced, added or removed while every other byte of the
// document stays as it was.
type rawObject struct {
	doc    []byte
	open   int // offset of '{'
	close  int // offset of '}'
	fields []rawField
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(doc []byte, i int) int {
	for i < len(doc) && isSpace(doc[i]) {
		i++
	}
	return i
}

// skipString returns the offset just after the string starting at doc[i] == '"'.
func skipString(doc []byte, i int) (int, error) {
	for j := i + 1; j < len(doc); j++ {
		switch doc[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errors.New("unterminated string")
}

// skipValue returns the offset just after the JSON value starting at doc[i].
// The document has already been checked with json.Valid; the bounds checks
// only guard against misuse.
func skipValue(doc []byte, i int) (int, error) {
	if i >= len(doc) {
		return 0, errors.New("missing value")
	}
	switch doc[i] {
	case '"':
		return skipString(doc, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(doc); j++ {
			switch doc[j] {
			case '"':
				end, err := skipString(doc, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("unterminated object or array")
	}
	j := i
	for j < len(doc) && !isSpace(doc[j]) && doc[j] != ',' && doc[j] != '}' && doc[j] != ']' {
		j++
	}
	if j == i {
		return 0, errors.New("missing value")
	}
	return j, nil
}

// scanObject checks that doc is one JSON object and records its members.
// Duplicate member names are an error: their meaning is ambiguous.
func scanObject(doc []byte) (*rawObject, error) {
	if !json.Valid(doc) {
		var v any
		err := json.Unmarshal(doc, &v)
		if err == nil {
			err = errors.New("invalid JSON")
		}
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	i := skipSpace(doc, 0)
	if i >= len(doc) || doc[i] != '{' {
		return nil, errors.New("not a JSON object")
	}
	obj := &rawObject{doc: doc, open: i}
	seen := map[string]bool{}
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		obj.close = i
		return obj, nil
	}
	for {
		if i >= len(doc) || doc[i] != '"' {
			return nil, errors.New("malformed object")
		}
		keyEnd, err := skipString(doc, i)
		if err != nil {
			return nil, err
		}
		var key string
		if err := json.Unmarshal(doc[i:keyEnd], &key); err != nil {
			return nil, fmt.Errorf("bad member name: %v", err)
		}
		if seen[key] {
			return nil, fmt.Errorf("duplicate member %q", key)
		}
		seen[key] = true
		j := skipSpace(doc, keyEnd)
		if j >= len(doc) || doc[j] != ':' {
			return nil, errors.New("malformed object")
		}
		valStart := skipSpace(doc, j+1)
		valEnd, err := skipValue(doc, valStart)
		if err != nil {
			return nil, err
		}
		obj.fields = append(obj.fields, rawField{key: key, keyStart: i, keyEnd: keyEnd, valStart: valStart, valEnd: valEnd})
		i = skipSpace(doc, valEnd)
		if i >= len(doc) {
			return nil, errors.New("unterminated object")
		}
		if doc[i] == '}' {
			obj.close = i
			return obj, nil
		}
		if doc[i] != ',' {
			return nil, errors.New("malformed object")
		}
		i = skipSpace(doc, i+1)
	}
}

func (o *rawObject) index(key string) int {
	for i, f := range o.fields {
		if f.key == key {
			return i
		}
	}
	return -1
}

func (o *rawObject) value(key string) (json.RawMessage, bool) {
	i := o.index(key)
	if i < 0 {
		return nil, false
	}
	f := o.fields[i]
	return json.RawMessage(o.doc[f.valStart:f.valEnd]), true
}

// lineIndent returns the whitespace between the start of the line holding
// offset at and at itself, or "" when at is not the first non-blank byte of
// its line (a compact document).
func (o *rawObject) lineIndent(at int) string {
	j := at
	for j > 0 && (o.doc[j-1] == ' ' || o.doc[j-1] == '\t') {
		j--
	}
	if j == 0 || o.doc[j-1] != '\n' {
		return ""
	}
	return string(o.doc[j:at])
}

// formatValue lays out value like the member written at keyStart: indented
// with that member's indentation when the document is pretty-printed,
// compact otherwise.
func (o *rawObject) formatValue(value json.RawMessage, keyStart int) ([]byte, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, value); err != nil {
		return nil, fmt.Errorf("new value is not valid JSON: %v", err)
	}
	indent := o.lineIndent(keyStart)
	if indent == "" {
		return compact.Bytes(), nil
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), indent, indent); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func splice(doc []byte, start, end int, insert []byte) []byte {
	out := make([]byte, 0, len(doc)-(end-start)+len(insert))
	out = append(out, doc[:start]...)
	out = append(out, insert...)
	return append(out, doc[end:]...)
}

// set returns a new document with member key set to value: in place when the
// member exists, appended after the last member otherwise.
func (o *rawObject) set(key string, value json.RawMessage) ([]byte, error) {
	if i := o.index(key); i >= 0 {
		f := o.fields[i]
		v, err := o.formatValue(value, f.keyStart)
		if err != nil {
			return nil, err
		}
		return splice(o.doc, f.valStart, f.valEnd, v), nil
	}
	name, err := json.Marshal(key)
	if err != nil {
		return nil, err
	}
	if len(o.fields) == 0 {
		v, err := o.formatValue(value, o.open)
		if err != nil {
			return nil, err
		}
		member := append(append(name, ':'), v...)
		return splice(o.doc, o.open+1, o.open+1, member), nil
	}
	last := o.fields[len(o.fields)-1]
	// Copy the layout of the last member: the whitespace before its name and
	// the separator between its name and value.
	ws := last.keyStart
	for ws > 0 && isSpace(o.doc[ws-1]) {
		ws--
	}
	v, err := o.formatValue(value, last.keyStart)
	if err != nil {
		return nil, err
	}
	var member []byte
	member = append(member, ',')
	member = append(member, o.doc[ws:last.keyStart]...)
	member = append(member, name...)
	member = append(member, o.doc[last.keyEnd:last.valStart]...)
	member = append(member, v...)
	return splice(o.doc, last.valEnd, last.valEnd, member), nil
}

// remove returns a new document without member key (the same bytes when the
// member does not exist).
func (o *rawObject) remove(key string) []byte {
	i := o.index(key)
	switch {
	case i < 0:
		return append([]byte(nil), o.doc...)
	case len(o.fields) == 1:
		return splice(o.doc, o.open+1, o.close, nil)
	case i == 0:
		return splice(o.doc, o.fields[0].keyStart, o.fields[1].keyStart, nil)
	default:
		return splice(o.doc, o.fields[i-1].valEnd, o.fields[i].valEnd, nil)
	}
}
