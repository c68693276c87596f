// Package gotrace reads a Go execution trace (runtime/trace, or a flight
// recorder snapshot) into goroutine states and runtime activity, on the wall clock.
package gotrace
