package sdkhook

import "time"

// clockBase anchors record timestamps. time.Since on a time with a monotonic
// reading reads only the monotonic clock, about half the cost of time.Now,
// which also reads the wall clock.
var clockBase = time.Now()

// nanotime returns monotonic nanoseconds since clockBase.
func nanotime() int64 { return int64(time.Since(clockBase)) }
