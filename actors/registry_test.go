package actors_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/icerig/icerig/actors"
)

func TestRegistry(t *testing.T) {
	reg := actors.Registry()
	require.Contains(t, reg, "v1")
	for name, a := range reg {
		assert.Equal(t, name, a.Name())
		caps := a.Capabilities()
		assert.NotEmpty(t, caps.Specs, name)
		assert.True(t, caps.Reads(caps.DefaultSpec), "%s writes its default spec", name)
	}
	delete(reg, "v1")
	assert.Contains(t, actors.Registry(), "v1", "Registry returns a copy")
	assert.Equal(t, actors.Names(), func() []string {
		var out []string
		for _, a := range actors.Registered() {
			out = append(out, a.Name())
		}
		return out
	}())

	a, err := actors.Lookup("v1")
	require.NoError(t, err)
	assert.Equal(t, "v1", a.Name())
	_, err = actors.Lookup("v0")
	assert.ErrorContains(t, err, `actor "v0" is not built in (built in: v1`)
	list, err := actors.LookupList("v1")
	require.NoError(t, err)
	assert.Len(t, list, 1)
	for _, bad := range []string{"", "v1,", "v1,v1", "v1,v0"} {
		_, err := actors.LookupList(bad)
		assert.Error(t, err, "%q", bad)
	}
	caps := actors.V1{}.Capabilities()
	assert.Equal(t, []int{1}, caps.Specs)
	assert.False(t, caps.Reads(2))
	assert.False(t, caps.Upgrade)
	assert.False(t, caps.Amend)

	require.Contains(t, reg, "v2")
	assert.Equal(t, []string{"v1", "v2"}, actors.Names())
	caps = actors.V2{}.Capabilities()
	assert.Equal(t, actors.Capabilities{Specs: []int{1, 2}, DefaultSpec: 2, Upgrade: true, Amend: true}, caps)
	list, err = actors.LookupList("v2,v1")
	require.NoError(t, err)
	assert.Equal(t, []string{"v2", "v1"}, []string{list[0].Name(), list[1].Name()})
}

func TestKindNames(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range actors.Kinds() {
		name := actors.KindName(k)
		assert.False(t, seen[name], "kind names are unique: %s", name)
		seen[name] = true
		back, ok := actors.ParseKindName(name)
		require.True(t, ok, name)
		assert.Equal(t, k, back)
	}
	k, ok := actors.ParseKindName("ok")
	assert.True(t, ok)
	assert.Nil(t, k)
	_, ok = actors.ParseKindName("nonsense")
	assert.False(t, ok)
}
