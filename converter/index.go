package converter

import (
	"fmt"
	"hash/maphash"
	"math/bits"
)

// The span index finds a span's record by trace and span ID. At a million
// spans a map keyed by the 24 ID bytes held about 60 MB, far larger than the
// caches, and the lookup every added span makes waited on memory. spanIndex
// keeps 8 bytes a slot (the top half of the key's hash and the record's
// index) and compares the key with the record itself, which holds it
// (ownKeysIndexed): 16 MB at a million spans, and the lookup of a new span,
// which finds no record, reads no record. A key's slot is found from the top
// bits of its hash, which the slot keeps, so growing the table moves slots
// without reading a record. The hash is seeded per index, so no input can
// choose keys that crowd one run of slots.

// spanIndex maps span keys to model record indices, as a map would. Most
// keys name the record that holds those IDs and live in slots; the few that
// name another record (the IDs a merged server half was also known by) live
// in alias. A record whose IDs change (only model.replace changes them, and
// it sets the old key again) leaves its slot behind, which matches only a
// key its record holds.
type spanIndex struct {
	spans *spanStore
	seed  maphash.Seed
	slots []uint64 // 0: free; else hash>>32<<32 | record index+1
	shift uint     // a key's first slot is hash>>shift
	used  int      // slots taken
	alias map[spanKey]int32

	// shadow, when tests set shadowIndex, holds every key set in a plain
	// map, and each lookup is checked against it.
	shadow map[spanKey]int32
}

// shadowIndex makes new span indexes check every lookup against a plain
// map; the package's tests set it.
var shadowIndex bool

func newSpanIndex(spans *spanStore) spanIndex {
	x := spanIndex{spans: spans, seed: maphash.MakeSeed()}
	if shadowIndex {
		x.shadow = map[spanKey]int32{}
	}
	return x
}

// owns reports whether record i holds the IDs of key k.
func (x *spanIndex) owns(i int32, k *spanKey) bool {
	r := x.spans.at(i)
	return [16]byte(k[:16]) == r.trace && [8]byte(k[16:]) == r.id
}

func (x *spanIndex) get(k spanKey) (int32, bool) {
	i, ok := x.lookup(&k)
	if x.shadow != nil {
		if want, wantOK := x.shadow[k]; ok != wantOK || ok && i != want {
			panic(fmt.Sprintf("span index: key %x gives %d %v, a map %d %v", k, i, ok, want, wantOK))
		}
	}
	return i, ok
}

func (x *spanIndex) lookup(k *spanKey) (int32, bool) {
	if len(x.alias) > 0 {
		if i, ok := x.alias[*k]; ok {
			return i, true
		}
	}
	if x.used == 0 {
		return 0, false
	}
	if p, hit := x.find(k, maphash.Bytes(x.seed, k[:])); hit {
		return int32(uint32(x.slots[p]) - 1), true
	}
	return 0, false
}

// find returns the slot of the record that holds k, of hash h (hit), or
// else the free slot where k's run of slots ends.
func (x *spanIndex) find(k *spanKey, h uint64) (p uint64, hit bool) {
	tag, mask := h>>32, uint64(len(x.slots)-1)
	for p = h >> x.shift; ; p = (p + 1) & mask {
		s := x.slots[p]
		if s == 0 {
			return p, false
		}
		if s>>32 == tag && x.owns(int32(uint32(s)-1), k) {
			return p, true
		}
	}
}

// set makes k name record i.
func (x *spanIndex) set(k spanKey, i int32) {
	if x.shadow != nil {
		x.shadow[k] = i
	}
	if !x.owns(i, &k) {
		if x.alias == nil {
			x.alias = map[spanKey]int32{}
		}
		x.alias[k] = i
		return
	}
	if len(x.alias) > 0 {
		delete(x.alias, k)
	}
	if (x.used+1)*4 > len(x.slots)*3 {
		x.grow(max(16, 2*len(x.slots)))
	}
	h := maphash.Bytes(x.seed, k[:])
	p, hit := x.find(&k, h) // a free slot, or the one of a record that holds k too
	if !hit {
		x.used++
	}
	x.slots[p] = h>>32<<32 | uint64(uint32(i)+1)
}

// grow moves the slots to a table of size slots, a power of two. A slot's
// place in the new table comes from the hash bits it keeps, and slots are
// moved in order, so the new table is written mostly front to back (runs
// that wrapped around the old table's end first go to the new one's).
func (x *spanIndex) grow(size int) {
	old := x.slots
	x.slots = make([]uint64, size)
	x.shift = uint(64 - bits.TrailingZeros(uint(size)))
	mask := uint64(size - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		p := s >> x.shift // s keeps the hash's top 32 bits where the hash has them
		for x.slots[p] != 0 {
			p = (p + 1) & mask
		}
		x.slots[p] = s
	}
}
