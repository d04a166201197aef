package actors

import (
	"fmt"
	"sort"
	"strings"
)

// registry holds the actors built into this binary, by name. Adding a
// library version is one line here.
var registry = map[string]Actor{
	v1Name: V1{},
	v2Name: V2{},
}

// Registry returns the actors built into this binary, by name (a copy:
// changing it changes nothing here). The icerig CLI and the rig take their
// actors from it.
func Registry() map[string]Actor {
	out := make(map[string]Actor, len(registry))
	for name, a := range registry {
		out[name] = a
	}
	return out
}

// Names lists the names of the built-in actors, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for name := range registry {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Registered returns the built-in actors sorted by name.
func Registered() []Actor {
	out := make([]Actor, 0, len(registry))
	for _, name := range Names() {
		out = append(out, registry[name])
	}
	return out
}

// Lookup returns the built-in actor of a name; an unknown name is an error
// listing the built-in ones.
func Lookup(name string) (Actor, error) {
	if a, ok := registry[name]; ok {
		return a, nil
	}
	return nil, fmt.Errorf("actor %q is not built in (built in: %s)", name, strings.Join(Names(), ", "))
}

// LookupList resolves a comma-separated list of actor names ("v1,v2"), in
// order, without duplicates.
func LookupList(list string) ([]Actor, error) {
	var out []Actor
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, fmt.Errorf("actor list %q: empty name", list)
		}
		if seen[name] {
			return nil, fmt.Errorf("actor list %q: %s named twice", list, name)
		}
		seen[name] = true
		a, err := Lookup(name)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}
