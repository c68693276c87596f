//go:build !race

package sdkhook_test

const raceEnabled = false
