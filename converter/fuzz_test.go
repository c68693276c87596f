package converter

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

// fuzzDecode is the property every decoder must keep: whatever the bytes, no
// panic, a bounded run, and when decoding succeeds the timeline written from
// it passes every invariant.
func fuzzDecode(t *testing.T, data []byte) {
	// A hang is a bug too: fail with every goroutine's stack, so the fuzzer
	// keeps the input and the stack says where it hung.
	watchdog := time.AfterFunc(5*time.Second, func() {
		buf := make([]byte, 1<<20)
		panic(fmt.Sprintf("decode of %d bytes still running after 5s:\n%s", len(data), buf[:runtime.Stack(buf, true)]))
	})
	defer watchdog.Stop()
	c := New(WithMaxInputSize(1 << 20))
	if err := c.Decode("fuzz", bytes.NewReader(data)); err != nil {
		if err.Error() == "" {
			t.Fatal("empty error message")
		}
		return
	}
	var out bytes.Buffer
	if _, err := c.Encode(&out); err != nil {
		t.Fatal(err)
	}
	if _, err := check.Validate(out.Bytes()); err != nil {
		t.Fatalf("invariant violated: %v", err)
	}
}

func FuzzDecodeOTLPProto(f *testing.F) {
	td := sampleTraces()
	p := protoBytes(f, td)
	f.Add(p)
	f.Add(lengthPrefixed(p, p))
	f.Add(lengthPrefixed(zst(p)))
	f.Add(gz(p))
	f.Fuzz(fuzzDecode)
}

func FuzzDecodeOTLPJSON(f *testing.F) {
	td := sampleTraces()
	j := jsonBytes(f, td)
	f.Add(j)
	var lines [][]byte
	for _, p := range splitTraces(td) {
		lines = append(lines, jsonBytes(f, p))
	}
	f.Add(bytes.Join(lines, []byte("\n")))
	f.Add([]byte(`{"result":` + string(j) + `}`))
	f.Fuzz(fuzzDecode)
}

func FuzzDecodeJaegerJSON(f *testing.F) {
	f.Add([]byte(`{"data":[{"traceID":"1","spans":[{"traceID":"1","spanID":"2","operationName":"x","references":[{"refType":"CHILD_OF","traceID":"1","spanID":"3"}],"startTime":1,"duration":2,"tags":[{"key":"k","type":"int64","value":5}],"logs":[{"timestamp":2,"fields":[{"key":"event","type":"string","value":"e"}]}],"processID":"p1"}],"processes":{"p1":{"serviceName":"s","tags":[]}}}]}`))
	f.Add([]byte(`{"data":null,"errors":[{"code":404,"msg":"trace not found"}]}`))
	f.Add([]byte(`{"error":{"httpCode":500,"message":"search depth"}}`))
	f.Fuzz(fuzzDecode)
}
