package converter

import (
	"fmt"
	"hash/maphash"
	"math/bits"
)

// The span index finds a span's record by trace and span ID. At a million
// spans a map keyed by the 24 ID bytes holds about 60 MB, larger than the
// caches, and the lookup every added span makes waits on memory; it was the
// one cost that grew faster than the spans. spanIndex keeps 8 bytes a slot
// (part of the key's hash and the record's index) and compares the key with
// the record itself, which every span owns (ownKeysIndexed): a quarter of the
// memory, and a new span's lookup, which finds no record, reads no record.

// spanIndex maps span keys to model record indices, as a map would. Most
// keys name the record that holds those IDs and live in slots; the few that
// name another record (the IDs a merged server half was also known by) live
// in alias. A record whose IDs change leaves its slot behind, which no
// longer matches any key and is dropped when the table grows.
type spanIndex struct {
	spans *spanStore
	seed  maphash.Seed
	slots []uint64 // 0: free; else hash>>32<<32 | record index+1
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

// empty reports whether no key was set.
func (x *spanIndex) empty() bool { return x.used == 0 && len(x.alias) == 0 }

// reserve sizes the table for n keys, so that adding them moves none.
func (x *spanIndex) reserve(n int) {
	if size := tableSize(n); size > len(x.slots) {
		x.rehash(size)
	}
}

// tableSize is the power of two that holds n keys at most 3/4 full.
func tableSize(n int) int { return max(16, 1<<bits.Len(uint(n+n/3))) }

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
	h := maphash.Bytes(x.seed, k[:])
	tag, mask := h>>32, uint64(len(x.slots)-1)
	for p := h & mask; ; p = (p + 1) & mask {
		s := x.slots[p]
		if s == 0 {
			return 0, false
		}
		if s>>32 == tag && x.owns(int32(uint32(s)-1), k) {
			return int32(uint32(s) - 1), true
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
		x.rehash(2 * max(len(x.slots), 8))
	}
	x.put(maphash.Bytes(x.seed, k[:]), &k, i)
}

// put stores record i, which owns k of hash h, in the slot of a record that
// owns k too or in the first free one.
func (x *spanIndex) put(h uint64, k *spanKey, i int32) {
	tag, mask := h>>32, uint64(len(x.slots)-1)
	for p := h & mask; ; p = (p + 1) & mask {
		s := x.slots[p]
		if s == 0 {
			x.slots[p] = tag<<32 | uint64(uint32(i)+1)
			x.used++
			return
		}
		if s>>32 == tag && x.owns(int32(uint32(s)-1), k) {
			x.slots[p] = tag<<32 | uint64(uint32(i)+1)
			return
		}
	}
}

// rehash moves the slots into a table of size slots, leaving out those whose
// record no longer holds the IDs they were stored under: no key finds them.
func (x *spanIndex) rehash(size int) {
	old := x.slots
	x.slots, x.used = make([]uint64, size), 0
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := int32(uint32(s) - 1)
		r := x.spans.at(i)
		k := keyOf(r.trace, r.id)
		if h := maphash.Bytes(x.seed, k[:]); h>>32 == s>>32 {
			x.put(h, &k, i)
		}
	}
}
