package formatv2

import (
	"fmt"
	"log/slog"
	"math"
	"strings"

	"gopkg.in/yaml.v3"
)

// Configuration and metadata values at spec 2.
//
// Upstream keeps a spec-2 repository's configuration inside the `repo`
// object as a FlexBuffer (its serde form: structs as maps, enums
// externally tagged, so "!Axis 0" in config.yaml is {"Axis": 0} there),
// and encodes snapshot metadata values as FlexBuffers where spec 1 used
// msgpack. This file converts between those forms and this package's
// Config (a YAML tree) and Go values.

// configFromRepoInfo returns the configuration kept in a spec-2 `repo`
// object: DefaultConfig when there is none; also, with a warning, when it
// cannot be read (a configuration never makes a repository unreadable).
func configFromRepoInfo(log *slog.Logger, info *RepoInfo) *Config {
	if len(info.Config) == 0 {
		return DefaultConfig()
	}
	cfg, err := parseRepoConfig(info.Config)
	if err != nil {
		log.Warn("spec-2 repository configuration unreadable, using defaults", "err", err)
		return DefaultConfig()
	}
	return cfg
}

// parseRepoConfig turns the FlexBuffer configuration of a `repo` object
// into a Config.
func parseRepoConfig(data []byte) (*Config, error) {
	v, err := decodeFlexValue(data)
	if err != nil {
		return nil, err
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("%w: %s configuration is a %T, not a map", ErrCorrupt, repoInfoKey, v)
	}
	text, err := yaml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s configuration: %w", repoInfoKey, err)
	}
	return ParseConfig(repoInfoKey+" configuration", text)
}

// configForRepoInfo returns the bytes to keep in a `repo` object for cfg
// (nil for no configuration) and the parsed copy this handle uses from
// then on.
func configForRepoInfo(cfg *Config) ([]byte, *Config, error) {
	if cfg == nil {
		return nil, DefaultConfig(), nil
	}
	text, err := cfg.Marshal()
	if err != nil {
		return nil, nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, nil, fmt.Errorf("configuration: %w", err)
	}
	var v any = map[string]any{}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		if v, err = yamlToValue(doc.Content[0], 0); err != nil {
			return nil, nil, fmt.Errorf("configuration: %w", err)
		}
	}
	data, err := encodeFlexValue(v)
	if err != nil {
		return nil, nil, fmt.Errorf("configuration: %w", err)
	}
	parsed, err := parseRepoConfig(data)
	if err != nil {
		return nil, nil, fmt.Errorf("configuration does not survive its spec-2 encoding: %w", err)
	}
	return data, parsed, nil
}

// yamlToValue converts a YAML node to the Go value upstream's serde form
// has: a custom tag ("!s3_compatible {...}", "!Axis 0") becomes a one-key
// map from the tag to the untagged value.
func yamlToValue(n *yaml.Node, depth int) (any, error) {
	if depth > maxFlexDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxFlexDepth)
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return yamlToValue(n.Alias, depth+1)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		plain := *n
		plain.Tag = ""
		plain.Style &^= yaml.TaggedStyle
		inner, err := yamlToValue(&plain, depth+1)
		if err != nil {
			return nil, err
		}
		return map[string]any{n.Tag[1:]: inner}, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := yamlToValue(n.Content[i+1], depth+1)
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := yamlToValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		if f, ok := v.(float64); ok && f == math.Trunc(f) && !strings.ContainsAny(n.Value, ".eE") && math.Abs(f) < 1<<53 {
			return int64(f), nil
		}
		return v, nil
	}
	return nil, fmt.Errorf("unsupported YAML node kind %d", n.Kind)
}

// encodeCommitMetadataValue encodes one commit metadata value for a
// snapshot of the given spec: msgpack at spec 1 (EncodeMetadataValue), a
// FlexBuffer at spec 2, as upstream writes them.
func encodeCommitMetadataValue(spec int, v any) ([]byte, error) {
	if spec == SpecVersion1 {
		return EncodeMetadataValue(v)
	}
	return encodeFlexValue(v)
}

// DecodeCommitMetadataValue decodes a snapshot metadata value (a
// MetadataItem's Value) of a snapshot file of the given spec version:
// msgpack at spec 1 (see DecodeMetadataValue), a FlexBuffer at spec 2 (and
// in spec-2 `repo` objects). The result is nil, bool, int64, uint64,
// float64, string, []byte, []any or map[string]any.
func DecodeCommitMetadataValue(spec uint8, b []byte) (any, error) {
	if spec == SpecVersion1 {
		return DecodeMetadataValue(b)
	}
	return decodeFlexValue(b)
}

// migrateMetadata converts the msgpack metadata values of a spec-1
// snapshot to the FlexBuffers a spec-2 `repo` object holds. A value that
// does not decode is kept as it is.
func migrateMetadata(log *slog.Logger, snap ObjectID, items []MetadataItem) []MetadataItem {
	if len(items) == 0 {
		return nil
	}
	out := make([]MetadataItem, len(items))
	for i, it := range items {
		out[i] = it
		v, err := DecodeMetadataValue(it.Value)
		if err == nil {
			var enc []byte
			if enc, err = encodeFlexValue(v); err == nil {
				out[i].Value = enc
				continue
			}
		}
		log.Warn("migration: metadata value kept as is", "snapshot", snap.String(), "name", it.Name, "err", err)
	}
	return out
}

// initialMetadataV2 is the metadata of the initial snapshot of a spec-2
// repository, as upstream 2.x writes it: {"__icechunk": {"is_root": true}},
// the value a flexbuffer map.
func initialMetadataV2() []MetadataItem {
	return []MetadataItem{{Name: "__icechunk", Value: []byte{
		'i', 's', '_', 'r', 'o', 'o', 't', 0x00, // key "is_root"
		0x01, 0x09, // keys vector: length 1, the key 9 bytes back
		0x01, 0x01, 0x01, // map: keys vector 1 back, key width 1, length 1
		0x01, 0x68, // the value true, its type (bool)
		0x02, 0x24, 0x01, // root: the map 2 back, type map, width 1
	}}}
}
