//go:build race

package converter

// raceEnabled reports a -race build, under which timing and memory ratios
// mean nothing; the ratio tests skip and .ci/run runs them without -race.
const raceEnabled = true
