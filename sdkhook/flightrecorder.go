package sdkhook

import (
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// Attributes of a request span whose capture asked for an execution-trace
// snapshot (WithFlightRecorder).
const (
	// AttrGoTrace is the path of the request's execution-trace snapshot.
	// The file appears once written, within milliseconds of the request's
	// end; a write that fails is counted in FlightRecorderStats.Failed.
	AttrGoTrace = attribute.Key("sdkhook.gotrace")
	// AttrGoTraceSkipped says why a captured request got no snapshot:
	// "rate limit", "max snapshots", "disk limit", "busy" or "stopped".
	AttrGoTraceSkipped = attribute.Key("sdkhook.gotrace.skipped")
)

// Defaults of FlightRecorderConfig.
const (
	DefaultFlightWindow       = 2 * time.Second
	DefaultFlightMaxBytes     = 32 << 20
	DefaultSnapshotInterval   = time.Second
	DefaultMaxSnapshots       = 32
	DefaultMaxSnapshotBytes   = 64 << 20
	DefaultMaxSnapshotDiskUse = 512 << 20
)

// FlightRecorderConfig configures NewFlightRecorder. Zero fields take the
// defaults.
type FlightRecorderConfig struct {
	// Dir receives the snapshots, <trace id>-<span id>.gotrace; it is
	// created if missing. Required.
	Dir string
	// Window is how much execution trace the recorder keeps: a request
	// longer than this is covered only in its last part (default
	// DefaultFlightWindow; runtime/trace.FlightRecorderConfig.MinAge).
	Window time.Duration
	// MaxBytes bounds the recorder's memory, and so the window in a busy
	// process (default DefaultFlightMaxBytes; a hint to the runtime).
	MaxBytes uint64
	// MinInterval is the least time between two snapshots (default
	// DefaultSnapshotInterval): captured requests in between get none.
	MinInterval time.Duration
	// MaxSnapshots bounds the snapshot files in Dir, those found there at
	// start included (default DefaultMaxSnapshots).
	MaxSnapshots int
	// MaxSnapshotBytes bounds one snapshot; a larger one is not kept
	// (default DefaultMaxSnapshotBytes).
	MaxSnapshotBytes int64
	// MaxDiskBytes bounds the bytes of snapshot files in Dir, those found
	// at start included (default DefaultMaxSnapshotDiskUse): a snapshot
	// that would go over it is not kept (FlightRecorderStats.Failed).
	MaxDiskBytes int64
}

func (c FlightRecorderConfig) withDefaults() FlightRecorderConfig {
	if c.Window <= 0 {
		c.Window = DefaultFlightWindow
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultFlightMaxBytes
	}
	if c.MinInterval <= 0 {
		c.MinInterval = DefaultSnapshotInterval
	}
	if c.MaxSnapshots <= 0 {
		c.MaxSnapshots = DefaultMaxSnapshots
	}
	if c.MaxSnapshotBytes <= 0 {
		c.MaxSnapshotBytes = DefaultMaxSnapshotBytes
	}
	if c.MaxDiskBytes <= 0 {
		c.MaxDiskBytes = DefaultMaxSnapshotDiskUse
	}
	return c
}

// ErrFlightRecorderRunning is returned by NewFlightRecorder when a flight
// recorder already runs in the process: the runtime allows one at a time.
var ErrFlightRecorderRunning = errors.New("a flight recorder is already running in this process (the Go runtime allows one)")

// FlightRecorderStats counts what a FlightRecorder did.
type FlightRecorderStats struct {
	Snapshots int           // snapshots written
	Skipped   int           // captured requests that got none (see AttrGoTraceSkipped)
	Failed    int           // snapshots that could not be written, or were too large
	Bytes     int64         // bytes written
	LastBytes int64         // size of the last snapshot written
	LastCost  time.Duration // time the last snapshot took to write, fsync and rename
	Cost      time.Duration // time all snapshots written took
}

// WithFlightRecorder makes the processor save an execution-trace snapshot of
// each request its capture policy keeps (WithCapture), from fr, and note
// where in the request span's AttrGoTrace (or, when bounds or the rate
// limit left it out, why in AttrGoTraceSkipped). Snapshots are written by
// fr's own goroutine, never on the request's. A nil fr does nothing.
func WithFlightRecorder(fr *FlightRecorder) Option {
	return optionFunc(func(c config) config {
		c.flight = fr
		return c
	})
}
