package listenwait

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := Wait(nil, time.Second, ln.Addr().String()); err != nil {
		t.Fatalf("listening address: %v", err)
	}
	free := ln.Addr().String()
	ln.Close()
	exited := make(chan error, 1)
	exited <- errors.New("exit status 1")
	if err := Wait(exited, time.Minute, free); err == nil || !strings.Contains(err.Error(), "exited before listening") {
		t.Fatalf("exited process: err = %v", err)
	}
	if err := Wait(nil, 100*time.Millisecond, free); err == nil || !strings.Contains(err.Error(), "not listening") {
		t.Fatalf("nothing listening: err = %v", err)
	}
}
