package replay

import (
	"testing"

	"github.com/almanac/almanac/engine/internal/keys"
)

// TestForgetKept: deleting one collection's objects drops that bucket of a
// replay's kept records and nothing else, and the byte count follows.
func TestForgetKept(t *testing.T) {
	t.Parallel()
	o := &Loader{kept: map[string]map[string][]byte{}}
	for id := uint64(1); id <= 3; id++ {
		o.keep(string(keys.ObjKey(id, "a.ics")), entry{val: []byte("obj")})
		o.keep(string(keys.TombKey(id, "b.ics")), entry{val: []byte("tomb")})
		o.keep(string(keys.CollKey(id)), entry{val: []byte("coll")})
	}
	before := o.keptBytes
	p := keys.IDPrefix(keys.Obj, 2)
	o.forgetKept(p, keys.PrefixEnd(p))
	if _, ok := o.keptGet(keys.ObjKey(2, "a.ics")); ok {
		t.Error("collection 2's object survived the deletion of its range")
	}
	for _, k := range [][]byte{keys.ObjKey(1, "a.ics"), keys.ObjKey(3, "a.ics"), keys.TombKey(2, "b.ics"), keys.CollKey(2)} {
		if _, ok := o.keptGet(k); !ok {
			t.Errorf("%q is gone, outside the deleted range", k)
		}
	}
	if want := before - len(keys.ObjKey(2, "a.ics")) - len("obj"); o.keptBytes != want {
		t.Errorf("keptBytes = %d, want %d", o.keptBytes, want)
	}
	// A range within a bucket drops only its keys.
	o.forgetKept(keys.CollKey(1), keys.CollKey(2))
	if _, ok := o.keptGet(keys.CollKey(1)); ok {
		t.Error("collection record 1 survived")
	}
	if _, ok := o.keptGet(keys.CollKey(3)); !ok {
		t.Error("collection record 3 is gone")
	}
}
