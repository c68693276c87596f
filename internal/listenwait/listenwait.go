// Package listenwait waits for a child process's servers to accept
// connections, for the examples and integration tests that start them.
package listenwait

import (
	"fmt"
	"net"
	"time"
)

// Wait waits up to timeout until every address accepts TCP connections,
// trying every 20 ms. It fails early when exited yields: the process ended
// before it listened.
func Wait(exited <-chan error, timeout time.Duration, addrs ...string) error {
	deadline := time.Now().Add(timeout)
	for _, a := range addrs {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-exited:
				return fmt.Errorf("exited before listening on %s: %v", a, err)
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("not listening on %s after %v", a, timeout)
			}
		}
	}
	return nil
}
