package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retryLogLine is a line otelcol-balancer v0.161.0 wrote while a backend was
// down, with its timestamp and interval replaced.
func retryLogLine(at, interval string) string {
	return at + "\tinfo\tinternal/retry_sender.go:136\tExporting failed. Will retry the request after interval.\t" +
		`{"resource": {"service.name": "otelcol-balancer", "service.version": "0.161.0"}, "otelcol.component.id": "load_balancing", ` +
		`"otelcol.component.kind": "exporter", "otelcol.signal": "traces", "endpoint": "127.0.0.1:45839", ` +
		`"error": "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp 127.0.0.1:45839: connect: connection refused\"", ` +
		`"interval": "` + interval + `"}`
}

func writeLog(t *testing.T, lines ...string) string {
	path := filepath.Join(t.TempDir(), "balancer.log")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	return path
}

func TestLastRetryDue(t *testing.T) {
	log := writeLog(t,
		"2026-11-30T23:31:45.381Z\tinfo\tservice@v0.161.0/service.go:233\tStarting otelcol-balancer...\t{}",
		retryLogLine("2026-11-30T23:31:49.415Z", "1.7s"),
		retryLogLine("2026-11-30T23:31:50.000Z", "365.614452ms"),
		"2026-11-30T23:31:57.396Z\tinfo\tservice@v0.161.0/service.go:294\tStarting shutdown...\t{}",
	)
	due, err := lastRetryDue(log)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 30, 23, 31, 51, 115e6, time.UTC), due.UTC(), "the later of 49.415+1.7s and 50.000+0.366s")

	due, err = lastRetryDue(writeLog(t, "2026-11-30T23:31:45.381Z\tinfo\tx.go:1\tEverything is ready.\t{}"))
	require.NoError(t, err)
	assert.True(t, due.IsZero(), "no retry scheduled")

	due, err = lastRetryDue(writeLog(t, retryLogLine("2026-12-01T00:31:49.415+0100", "1s")))
	require.NoError(t, err, "local time as zap writes it")
	assert.Equal(t, time.Date(2026, 11, 30, 23, 31, 50, 415e6, time.UTC), due.UTC())

	path := writeLog(t, retryLogLine("2026-11-30T23:31:49.415Z", "1s"))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(retryLogLine("2026-11-30T23:31:50.000Z", "5s")[:150]) // being written
	require.NoError(t, err)
	require.NoError(t, f.Close())
	due, err = lastRetryDue(path)
	require.NoError(t, err, "a line not yet whole is left for the next read")
	assert.Equal(t, time.Date(2026, 11, 30, 23, 31, 50, 415e6, time.UTC), due.UTC())

	_, err = lastRetryDue(writeLog(t, retryLogLine("2026-11-30T23:31:49.415Z", "soon")))
	assert.ErrorContains(t, err, "balancer.log:1")
	_, err = lastRetryDue(writeLog(t, "", "garbage\tExporting failed. Will retry the request after interval."))
	assert.ErrorContains(t, err, "balancer.log:2: retry line without a timestamp")
}

func TestAwaitRetries(t *testing.T) {
	// Due in the past: only the grace, from the start of the wait.
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	waited, err := awaitRetries(writeLog(t, retryLogLine(past, "2s")), 200*time.Millisecond, time.Minute)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, waited, 200*time.Millisecond)
	assert.Less(t, waited, time.Second)

	// Due 300 ms from now: waits until then and the grace after.
	now := time.Now().UTC().Format(time.RFC3339Nano)
	waited, err = awaitRetries(writeLog(t, retryLogLine(now, "300ms")), 200*time.Millisecond, time.Minute)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, waited, 400*time.Millisecond)

	// Due long after the timeout: an error naming the log.
	_, err = awaitRetries(writeLog(t, retryLogLine(now, "1h")), time.Second, 300*time.Millisecond)
	assert.ErrorContains(t, err, "balancer.log: export retries still scheduled after 300ms")
}
