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

// useTSC makes hooks read the CPU's time-stamp counter, a third of the cost
// of the monotonic clock, where the kernel itself keeps time with it (Linux
// clocksource "tsc": constant rate, synchronised across CPUs). Each request
// maps its ticks onto the monotonic clock with two (ticks, nanotime) pairs
// read when it opens and closes, so no global calibration has to be right.
var useTSC = haveTSC && runtime.GOOS == "linux" && kernelUsesTSC()

func kernelUsesTSC() bool {
	b, err := os.ReadFile("/sys/devices/system/clocksource/clocksource0/current_clocksource")
	return err == nil && bytes.Equal(bytes.TrimSpace(b), []byte("tsc"))
}

// ticks reads the hook clock: the TSC where useTSC, else nanotime.
func ticks() int64 {
	if useTSC {
		return int64(rdtsc())
	}
	return nanotime()
}

// clockPair is one reading of both clocks.
type clockPair struct{ ticks, mono int64 }

// readPair reads the tick clock between two monotonic reads, so the pair's
// offset error is half a nanotime call at most.
func readPair() clockPair {
	m0 := nanotime()
	t := ticks()
	m1 := nanotime()
	return clockPair{ticks: t, mono: m0 + (m1-m0)/2}
}

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
		if useTSC {
			a := readPair()
			for nanotime()-a.mono < 200_000 {
			}
			b := readPair()
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

func newTickMap(open, close clockPair) tickMap {
	m := tickMap{scale: 1} // ticks are nanotime: the identity
	if useTSC {
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
