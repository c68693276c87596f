package converter

// Chunked stores for the model. Growing one big slice copies everything on
// each doubling and can leave half its capacity unused; fixed-size blocks are
// never copied and waste at most one block.

const (
	spanBlockBits = 12 // 4096 records a block
	spanBlockSize = 1 << spanBlockBits
	arenaBlock    = 1 << 20
)

type spanStore struct {
	blocks [][]spanRec
	n      int
}

func (s *spanStore) len() int { return s.n }

// at returns the record of span i; the pointer stays valid as the store grows.
func (s *spanStore) at(i int32) *spanRec {
	return &s.blocks[i>>spanBlockBits][i&(spanBlockSize-1)]
}

func (s *spanStore) push(r spanRec) int32 {
	b := s.n >> spanBlockBits
	if b == len(s.blocks) {
		// The first block starts small and grows by append, so a converter
		// for one small trace (as the exporters make) stays small.
		c := spanBlockSize
		if b == 0 {
			c = 64
		}
		s.blocks = append(s.blocks, make([]spanRec, 0, c))
	}
	s.blocks[b] = append(s.blocks[b], r)
	s.n++
	return int32(s.n - 1)
}

// arena holds encoded JSON fragments. A fragment never straddles two blocks:
// one that does not fit starts a new block (a large one gets a block of its
// own size).
type arena struct {
	blocks [][]byte
}

// ref locates a fragment in the arena.
type ref struct {
	block, off, len int32
}

func (a *arena) add(b []byte) ref {
	if len(b) == 0 {
		return ref{}
	}
	n := len(a.blocks)
	if n == 0 || len(a.blocks[n-1])+len(b) > cap(a.blocks[n-1]) {
		// Blocks double from 4 KiB up to arenaBlock, so small inputs
		// allocate little and large ones few blocks.
		size := 4 << 10
		if n > 0 {
			size = min(2*cap(a.blocks[n-1]), arenaBlock)
		}
		a.blocks = append(a.blocks, make([]byte, 0, max(size, len(b))))
		n++
	}
	blk := a.blocks[n-1]
	r := ref{block: int32(n - 1), off: int32(len(blk)), len: int32(len(b))}
	a.blocks[n-1] = append(blk, b...)
	return r
}

func (a *arena) get(r ref) []byte {
	if r.len == 0 {
		return nil
	}
	return a.blocks[r.block][r.off : r.off+r.len]
}
