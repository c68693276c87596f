package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"regexp"
	"time"
)

// retryLine is what the collector's exporterhelper logs each time an export
// fails and will be tried again: the line's timestamp comes first, the wait
// before the next attempt is its "interval" field.
var (
	retryLine     = []byte("Will retry the request after interval.")
	retryInterval = regexp.MustCompile(`"interval": "([^"]+)"`)
)

// lastRetryDue reads a collector's log and returns when the last retry it
// scheduled was due (the zero time when it scheduled none). A retry that
// succeeds logs nothing; one that fails logs the next, so once this time has
// passed without a new line every retry has been made. That holds only with
// the collector's log sampling off (balancer.yaml turns it off): sampled, it
// logs the first ten lines a second of each message and few after.
func lastRetryDue(log string) (time.Time, error) {
	data, err := os.ReadFile(log)
	if err != nil {
		return time.Time{}, err
	}
	var last time.Time
	// The line being written as the log is read is not whole yet.
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		data = data[:i+1]
	} else {
		data = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if !bytes.Contains(line, retryLine) {
			continue
		}
		stamp, _, _ := bytes.Cut(line, []byte("\t"))
		// UTC ends in Z; local time as zap writes it, in +0100.
		at, err := time.Parse(time.RFC3339Nano, string(stamp))
		if err != nil {
			at, err = time.Parse("2006-01-02T15:04:05.999999999Z0700", string(stamp))
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("%s:%d: retry line without a timestamp: %w", log, n, err)
		}
		m := retryInterval.FindSubmatch(line)
		if m == nil {
			return time.Time{}, fmt.Errorf("%s:%d: retry line without an interval", log, n)
		}
		wait, err := time.ParseDuration(string(m[1]))
		if err != nil {
			return time.Time{}, fmt.Errorf("%s:%d: %w", log, n, err)
		}
		if due := at.Add(wait); due.After(last) {
			last = due
		}
	}
	return last, sc.Err()
}

// awaitRetries waits until every export retry the balancer has scheduled has
// been made and none failed again: stopping the balancer earlier drops what
// it still holds for a backend that was away (the exporterhelper interrupts
// a retry's wait at shutdown and drops that request). grace covers an
// attempt's own time. It returns how long it waited.
func awaitRetries(log string, grace, timeout time.Duration) (time.Duration, error) {
	begin := time.Now()
	for {
		due, err := lastRetryDue(log)
		if err != nil {
			return time.Since(begin), err
		}
		// An attempt under way when the wait began may still fail and
		// log a retry: the grace runs from then at the earliest.
		if due.Before(begin) {
			due = begin
		}
		if time.Since(due) > grace {
			return time.Since(begin), nil
		}
		if time.Since(begin) > timeout {
			return time.Since(begin), fmt.Errorf("%s: export retries still scheduled after %v (last due %s)",
				log, timeout, due.Format(time.RFC3339Nano))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
