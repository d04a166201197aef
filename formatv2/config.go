package formatv2

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ConfigKey is the object key of the optional repository configuration.
const ConfigKey = "config.yaml"

// DefaultInlineChunkThresholdBytes is the inline threshold upstream uses when
// config.yaml does not set one: chunks smaller than this many bytes are
// stored inside the manifest.
const DefaultInlineChunkThresholdBytes = 512

// Config is a repository's config.yaml. It keeps the whole YAML node tree,
// so fields this library does not know, YAML tags (!s3_compatible, !tigris,
// ...), key order and comments survive a read-modify-write. Only the fields
// with accessors are interpreted (and validated).
type Config struct {
	doc *yaml.Node // a DocumentNode whose only child is a MappingNode
}

// DefaultConfig returns an empty configuration: every field unset, meaning
// upstream's defaults.
func DefaultConfig() *Config {
	return &Config{doc: &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{
		{Kind: yaml.MappingNode, Tag: "!!map"},
	}}}
}

// ParseConfig parses config.yaml. name is the object key, used in errors. An
// empty document is an empty configuration; anything but a mapping at the
// top, or a malformed known field (inline_chunk_threshold_bytes,
// manifest.splitting), is an error wrapping ErrCorrupt.
func ParseConfig(name string, data []byte) (cfg *Config, err error) {
	defer func() {
		if p := recover(); p != nil {
			cfg, err = nil, corruptf(name, "YAML parser failed: %v", p)
		}
	}()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, corruptf(name, "invalid YAML: %v", err)
	}
	if doc.Kind == 0 { // empty input or only comments
		c := DefaultConfig()
		c.doc.HeadComment = doc.HeadComment
		return c, nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || resolveAlias(doc.Content[0]).Kind != yaml.MappingNode {
		return nil, corruptf(name, "top level is not a mapping")
	}
	doc.Content[0] = resolveAlias(doc.Content[0])
	c := &Config{doc: &doc}
	if err := c.validate(); err != nil {
		return nil, corruptf(name, "%v", err)
	}
	return c, nil
}

// Marshal returns the YAML text of the configuration. It fails if a known
// field holds a value upstream could not read (an inline threshold outside
// 0..65535).
func (c *Config) Marshal() ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("formatv2: %s: %w", ConfigKey, err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(c.doc); err != nil {
		return nil, fmt.Errorf("formatv2: %s: encode YAML: %w", ConfigKey, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("formatv2: %s: encode YAML: %w", ConfigKey, err)
	}
	return buf.Bytes(), nil
}

// root returns the top-level mapping.
func (c *Config) root() *yaml.Node { return c.doc.Content[0] }

// validate checks the fields this package interprets.
func (c *Config) validate() error {
	if _, err := c.inlineThreshold(); err != nil {
		return err
	}
	_, _, err := c.splitting()
	return err
}

// InlineChunkThresholdBytes returns inline_chunk_threshold_bytes, or
// DefaultInlineChunkThresholdBytes (512) when it is unset or null.
func (c *Config) InlineChunkThresholdBytes() int {
	n, err := c.inlineThreshold()
	if err != nil || n < 0 {
		// Unreachable for configs from ParseConfig; a bad value set through
		// SetInlineChunkThresholdBytes is reported by Marshal.
		return DefaultInlineChunkThresholdBytes
	}
	return n
}

// inlineThreshold returns the configured threshold, -1 when unset or null.
func (c *Config) inlineThreshold() (int, error) {
	v := mapGet(c.root(), "inline_chunk_threshold_bytes")
	if v == nil || isNull(v) {
		return -1, nil
	}
	n, err := yamlUint(v, 16)
	if err != nil {
		return 0, fmt.Errorf("inline_chunk_threshold_bytes: %w (want an integer 0..65535)", err)
	}
	return int(n), nil
}

// SetInlineChunkThresholdBytes sets inline_chunk_threshold_bytes, adding the
// key if needed. Upstream stores it as a 16-bit unsigned integer; a value
// outside 0..65535 makes Marshal fail.
func (c *Config) SetInlineChunkThresholdBytes(n int) {
	v := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(n)}
	mapSet(c.root(), "inline_chunk_threshold_bytes", v)
}

// SplitConditionKind names a manifest split condition variant, spelled as
// upstream spells its YAML tag.
type SplitConditionKind string

// Manifest split condition variants.
const (
	SplitOr          SplitConditionKind = "or"
	SplitAnd         SplitConditionKind = "and"
	SplitPathMatches SplitConditionKind = "path_matches"
	SplitNameMatches SplitConditionKind = "name_matches"
	SplitAnyArray    SplitConditionKind = "any_array"
)

// SplitCondition selects the arrays a splitting rule applies to.
type SplitCondition struct {
	Kind SplitConditionKind
	// Regex of SplitPathMatches (matched against the absolute node path) and
	// SplitNameMatches (matched against the node's last path component).
	Regex string
	// Conditions of SplitOr and SplitAnd.
	Conditions []SplitCondition
}

// Matches reports whether the array at path (absolute, e.g.
// "/group1/split") satisfies the condition, with upstream's semantics: an
// invalid regex matches nothing, the root has no name, an empty "and" is
// true and an empty "or" false. Regexes use Go's RE2 syntax, which agrees
// with Rust's regex crate on common patterns.
func (s SplitCondition) Matches(path string) bool {
	switch s.Kind {
	case SplitAnyArray:
		return true
	case SplitOr:
		for _, c := range s.Conditions {
			if c.Matches(path) {
				return true
			}
		}
		return false
	case SplitAnd:
		for _, c := range s.Conditions {
			if !c.Matches(path) {
				return false
			}
		}
		return true
	case SplitPathMatches, SplitNameMatches:
		re, err := regexp.Compile(s.Regex)
		if err != nil {
			return false
		}
		if s.Kind == SplitPathMatches {
			return re.MatchString(path)
		}
		name := path[strings.LastIndexByte(path, '/')+1:]
		return name != "" && re.MatchString(name)
	}
	return false
}

// SplitDimKind names how a SplitDim picks its dimension (upstream's variant
// names, used verbatim as YAML tags).
type SplitDimKind string

// Dimension selectors of a splitting rule.
const (
	SplitDimAxis          SplitDimKind = "Axis"
	SplitDimDimensionName SplitDimKind = "DimensionName"
	SplitDimAny           SplitDimKind = "Any"
)

// SplitDim gives the manifest split size (in chunks) along the dimensions
// it selects: one axis by index, one by dimension name, or any dimension.
type SplitDim struct {
	Kind          SplitDimKind
	Axis          int    // SplitDimAxis
	DimensionName string // SplitDimDimensionName
	NumChunks     uint32
}

// ManifestSplitRule is one entry of manifest.splitting.split_sizes: the
// split sizes for arrays matching Condition. Rules apply in order.
type ManifestSplitRule struct {
	Condition SplitCondition
	Dims      []SplitDim
}

// ManifestSplitting returns manifest.splitting.split_sizes. ok is false when
// manifest.splitting is unset or null (upstream then writes one manifest per
// array); rules is nil when the splitting section has no split_sizes.
func (c *Config) ManifestSplitting() (rules []ManifestSplitRule, ok bool) {
	rules, ok, err := c.splitting()
	if err != nil {
		return nil, false
	}
	return rules, ok
}

// maxConditionDepth bounds the nesting of or/and split conditions.
const maxConditionDepth = 32

func (c *Config) splitting() ([]ManifestSplitRule, bool, error) {
	manifest := mapGet(c.root(), "manifest")
	if manifest == nil || isNull(manifest) {
		return nil, false, nil
	}
	if manifest.Kind != yaml.MappingNode {
		return nil, false, fmt.Errorf("manifest: not a mapping")
	}
	splitting := mapGet(manifest, "splitting")
	if splitting == nil || isNull(splitting) {
		return nil, false, nil
	}
	if splitting.Kind != yaml.MappingNode {
		return nil, false, fmt.Errorf("manifest.splitting: not a mapping")
	}
	sizes := mapGet(splitting, "split_sizes")
	if sizes == nil || isNull(sizes) {
		return nil, true, nil
	}
	if sizes.Kind != yaml.SequenceNode {
		return nil, false, fmt.Errorf("manifest.splitting.split_sizes: not a sequence")
	}
	rules := make([]ManifestSplitRule, 0, len(sizes.Content))
	for i, item := range sizes.Content {
		where := fmt.Sprintf("manifest.splitting.split_sizes[%d]", i)
		item = resolveAlias(item)
		if item.Kind != yaml.SequenceNode || len(item.Content) != 2 {
			return nil, false, fmt.Errorf("%s: want a [condition, dimensions] pair", where)
		}
		cond, err := parseSplitCondition(item.Content[0], where, 0)
		if err != nil {
			return nil, false, err
		}
		dimsNode := resolveAlias(item.Content[1])
		if dimsNode.Kind != yaml.SequenceNode {
			return nil, false, fmt.Errorf("%s: dimensions are not a sequence", where)
		}
		rule := ManifestSplitRule{Condition: cond}
		for j, d := range dimsNode.Content {
			dim, err := parseSplitDim(d, fmt.Sprintf("%s[%d]", where, j))
			if err != nil {
				return nil, false, err
			}
			rule.Dims = append(rule.Dims, dim)
		}
		rules = append(rules, rule)
	}
	return rules, true, nil
}

// variant splits an externally tagged enum value as serde_yaml writes it:
// "!tag value", a plain scalar for a unit variant, or a one-key mapping.
func variant(n *yaml.Node) (tag string, value *yaml.Node) {
	n = resolveAlias(n)
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return n.Tag[1:], n
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		return n.Value, nil
	}
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		return n.Content[0].Value, resolveAlias(n.Content[1])
	}
	return "", n
}

func parseSplitCondition(n *yaml.Node, where string, depth int) (SplitCondition, error) {
	if depth > maxConditionDepth {
		return SplitCondition{}, fmt.Errorf("%s: conditions nested deeper than %d", where, maxConditionDepth)
	}
	tag, v := variant(n)
	switch k := SplitConditionKind(tag); k {
	case SplitAnyArray:
		return SplitCondition{Kind: k}, nil
	case SplitPathMatches, SplitNameMatches:
		re := mapGet(v, "regex")
		if re == nil || re.Kind != yaml.ScalarNode || isNull(re) {
			return SplitCondition{}, fmt.Errorf("%s: %s needs a regex string", where, k)
		}
		return SplitCondition{Kind: k, Regex: re.Value}, nil
	case SplitOr, SplitAnd:
		if v == nil || v.Kind != yaml.SequenceNode {
			return SplitCondition{}, fmt.Errorf("%s: %s needs a sequence of conditions", where, k)
		}
		out := SplitCondition{Kind: k}
		for i, sub := range v.Content {
			sc, err := parseSplitCondition(sub, fmt.Sprintf("%s.%s[%d]", where, k, i), depth+1)
			if err != nil {
				return SplitCondition{}, err
			}
			out.Conditions = append(out.Conditions, sc)
		}
		return out, nil
	}
	return SplitCondition{}, fmt.Errorf("%s: unknown split condition %q", where, tag)
}

func parseSplitDim(n *yaml.Node, where string) (SplitDim, error) {
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		return SplitDim{}, fmt.Errorf("%s: not a mapping", where)
	}
	numNode := mapGet(n, "num_chunks")
	if numNode == nil {
		return SplitDim{}, fmt.Errorf("%s: num_chunks missing", where)
	}
	num, err := yamlUint(numNode, 32)
	if err != nil {
		return SplitDim{}, fmt.Errorf("%s.num_chunks: %w", where, err)
	}
	condNode := mapGet(n, "condition")
	if condNode == nil {
		return SplitDim{}, fmt.Errorf("%s: condition missing", where)
	}
	d := SplitDim{NumChunks: uint32(num)}
	tag, v := variant(condNode)
	switch k := SplitDimKind(tag); k {
	case SplitDimAny:
		d.Kind = k
	case SplitDimAxis:
		if v == nil {
			return SplitDim{}, fmt.Errorf("%s: Axis needs an index", where)
		}
		axis, err := strconv.ParseUint(v.Value, 10, 31)
		if err != nil || v.Kind != yaml.ScalarNode {
			return SplitDim{}, fmt.Errorf("%s: Axis %q is not an index", where, v.Value)
		}
		d.Kind, d.Axis = k, int(axis)
	case SplitDimDimensionName:
		if v == nil || v.Kind != yaml.ScalarNode {
			return SplitDim{}, fmt.Errorf("%s: DimensionName needs a name", where)
		}
		d.Kind, d.DimensionName = k, v.Value
	default:
		return SplitDim{}, fmt.Errorf("%s: unknown dimension condition %q", where, tag)
	}
	return d, nil
}

// VirtualChunkContainer is the part of a virtual_chunk_containers entry this
// package reads.
type VirtualChunkContainer struct {
	URLPrefix string
	// StoreKind is the store's YAML tag without "!", e.g. "s3_compatible".
	StoreKind string
}

// VirtualChunkContainers returns virtual_chunk_containers keyed as in the
// file; nil when the section is unset or null.
func (c *Config) VirtualChunkContainers() map[string]VirtualChunkContainer {
	vcc := mapGet(c.root(), "virtual_chunk_containers")
	if vcc == nil || vcc.Kind != yaml.MappingNode {
		return nil
	}
	out := make(map[string]VirtualChunkContainer, len(vcc.Content)/2)
	for i := 0; i+1 < len(vcc.Content); i += 2 {
		entry := resolveAlias(vcc.Content[i+1])
		var v VirtualChunkContainer
		if p := mapGet(entry, "url_prefix"); p != nil && p.Kind == yaml.ScalarNode {
			v.URLPrefix = p.Value
		}
		if s := mapGet(entry, "store"); s != nil {
			v.StoreKind, _ = variant(s)
		}
		out[vcc.Content[i].Value] = v
	}
	return out
}

// resolveAlias follows an alias node to its anchor.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

// mapGet returns the value of key in mapping m, or nil.
func mapGet(m *yaml.Node, key string) *yaml.Node {
	m = resolveAlias(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return resolveAlias(m.Content[i+1])
		}
	}
	return nil
}

// mapSet replaces the value of key in mapping m, or appends the pair.
func mapSet(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	if len(m.Content) == 0 {
		m.Style &^= yaml.FlowStyle
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

// isNull reports whether n is a YAML null.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// yamlUint reads an unsigned integer scalar of at most bits bits.
func yamlUint(n *yaml.Node, bits int) (uint64, error) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return 0, fmt.Errorf("%q is not an integer", n.Value)
	}
	var v uint64
	if err := n.Decode(&v); err != nil {
		return 0, fmt.Errorf("%q is not a non-negative integer", n.Value)
	}
	if bits < 64 && v >= 1<<uint(bits) {
		return 0, fmt.Errorf("%d does not fit in %d bits", v, bits)
	}
	return v, nil
}
