//go:build race

package sdkhook_test

// raceEnabled skips timing assertions: the race detector slows every memory
// access, so ratios measured under it say nothing.
const raceEnabled = true
