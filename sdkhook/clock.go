package sdkhook

import (
	"bytes"
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// clockBase anchors monotonic timestamps. time.Since on a time with a
// monotonic reading reads only the monotonic clock, about half the cost of
// time.Now, which also reads the wall clock.
var clockBase = time.Now()

// nanotime returns monotonic nanoseconds since clockBase.
func nanotime() int64 { return int64(time.Since(clockBase)) }

// tscOn makes requests opened from now on read the CPU's time-stamp counter,
// a third of the cost of the monotonic clock, while the kernel itself keeps
// time with it (Linux clocksource "tsc": constant rate, synchronised across
// CPUs). Each request takes the setting once, when it opens, and maps its
// ticks onto the monotonic clock with two (ticks, nanotime) pairs read when
// it opens and closes, so no global calibration has to be right.
//
// The kernel can later find the TSC unstable and switch clocksource; then
// its CPUs' counters may disagree. recheckClock notices within a second and
// turns the TSC off for good; calls whose exit reads earlier than their
// entry meanwhile are counted as clock faults (AttrClockFaults).
var tscOn atomic.Bool

func init() {
	tscOn.Store(haveTSC && runtime.GOOS == "linux" && readClocksource() == "tsc")
}

// readClocksource returns the kernel's current clocksource; tests replace it.
var readClocksource = func() string {
	b, err := os.ReadFile("/sys/devices/system/clocksource/clocksource0/current_clocksource")
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(b))
}

// lastClockCheck is the nanotime of the last clocksource check.
var lastClockCheck atomic.Int64

// recheckClock re-reads the clocksource at most once a second while the TSC
// is in use. It runs when a request opens, off the hooks' path.
func recheckClock() {
	if !tscOn.Load() {
		return
	}
	now, last := nanotime(), lastClockCheck.Load()
	if now-last < int64(time.Second) && last != 0 || !lastClockCheck.CompareAndSwap(last, now) {
		return
	}
	if readClocksource() != "tsc" {
		tscOn.Store(false)
	}
}

// readTicks reads the hook clock: the TSC when tsc, else nanotime.
func readTicks(tsc bool) int64 {
	if tsc {
		return int64(rdtsc())
	}
	return nanotime()
}

// clockPair is one reading of both clocks.
type clockPair struct{ ticks, mono int64 }

// readPair reads the tick clock between two monotonic reads, so the pair's
// offset error is half the time between them: half a nanotime call, unless
// the thread was preempted or descheduled in between (tens of microseconds
// on a busy machine); then it reads again, at most three more times, and
// keeps the tightest pair.
func readPair(tsc bool) clockPair {
	return tightestPair(func() (int64, int64, int64) {
		m0 := nanotime()
		t := readTicks(tsc)
		return m0, t, nanotime()
	})
}

// tightestPair reads a pair with read (a monotonic reading, a tick reading,
// a monotonic reading) until the two monotonic readings are at most
// maxPairWindow apart, four times at most, and returns the tightest.
func tightestPair(read func() (m0, ticks, m1 int64)) clockPair {
	var best clockPair
	window := int64(math.MaxInt64)
	for try := 0; try < 4 && window > maxPairWindow; try++ {
		m0, t, m1 := read()
		if m1-m0 < window {
			best, window = clockPair{ticks: t, mono: m0 + (m1-m0)/2}, m1-m0
		}
	}
	return best
}

// maxPairWindow is the widest time between a pair's two monotonic reads
// that readPair takes without reading again: far above a nanotime call,
// far below a preemption.
const maxPairWindow = 250

// tickRate holds math.Float64bits of ticks per nanosecond, for turning
// WithMinDuration into ticks while a request records; 1 without the TSC.
var (
	tickRate     atomic.Uint64
	tickRateOnce sync.Once
)

// ticksPerNs measures the tick rate once, over 200µs, on first use by a
// processor; not in init, so programs that never record pay nothing.
func ticksPerNs() float64 {
	tickRateOnce.Do(func() {
		rate := 1.0
		if tscOn.Load() {
			a := readPair(true)
			for nanotime()-a.mono < 200_000 {
			}
			b := readPair(true)
			if dm := b.mono - a.mono; dm > 0 && b.ticks > a.ticks {
				rate = float64(b.ticks-a.ticks) / float64(dm)
			}
		}
		tickRate.Store(math.Float64bits(rate))
	})
	return math.Float64frombits(tickRate.Load())
}

// tickMap maps one request's ticks onto the monotonic clock.
type tickMap struct {
	from  clockPair
	scale float64 // nanoseconds per tick
}

func newTickMap(tsc bool, open, close clockPair) tickMap {
	m := tickMap{scale: 1} // ticks are nanotime: the identity
	if tsc {
		m.from = open
		m.scale = 1 / ticksPerNs()
		// Per-request rate, when the request is long enough to measure it
		// better than the start-up calibration (pair error ~15 ns).
		if dt, dm := close.ticks-open.ticks, close.mono-open.mono; dm > 100_000 && dt > 0 {
			m.scale = float64(dm) / float64(dt)
		}
	}
	return m
}

func (m tickMap) mono(t int64) int64 {
	return m.from.mono + int64(math.Round(float64(t-m.from.ticks)*m.scale))
}
