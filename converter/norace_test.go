//go:build !race

package converter

const raceEnabled = false
