package faults_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/icerig/icerig/objstore"
	"github.com/icerig/icerig/objstore/faults"
	"github.com/icerig/icerig/objstore/memory"
)

func TestHide(t *testing.T) {
	ctx := context.Background()
	inner := memory.New(objstore.NewVirtualClock(objstore.RealClock{}.Now(), 0))
	for _, k := range []string{"refs/tag.a/ref.json", "refs/branch.main/ref.json"} {
		if _, err := inner.Put(ctx, k, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	hiding := true
	st := faults.Hide(inner, func(k string) bool { return hiding && strings.HasPrefix(k, "refs/tag.") })
	if _, _, err := st.Get(ctx, "refs/tag.a/ref.json"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("hidden get: %v, want ErrNotFound", err)
	}
	if _, _, err := st.Get(ctx, "refs/branch.main/ref.json"); err != nil {
		t.Errorf("visible get: %v", err)
	}
	objs, err := st.List(ctx, "refs/")
	if err != nil || len(objs) != 1 || objs[0].Key != "refs/branch.main/ref.json" {
		t.Errorf("list = %v, %v; want only the branch", objs, err)
	}
	hiding = false
	if objs, _ := st.List(ctx, "refs/"); len(objs) != 2 {
		t.Errorf("list after unhiding = %v, want both", objs)
	}
}
