package converter_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/otel2chrome/otel2chrome/converter"
)

// A Jaeger export converted to a Chrome trace, with a filter.
func Example() {
	export := `{"data":[{"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spans":[
	  {"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spanID":"00f067aa0ba902b7","operationName":"GET /cart",
	   "startTime":1795424400000000,"duration":2500,"processID":"p1",
	   "tags":[{"key":"span.kind","type":"string","value":"server"}]}],
	 "processes":{"p1":{"serviceName":"frontend","tags":[]}}}]}`

	c := converter.New(converter.WithServices("frontend"))
	if err := c.Decode("export.json", strings.NewReader(export)); err != nil {
		fmt.Println(err)
		return
	}
	st, err := c.Encode(io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d span(s), %d process(es), %d lane(s)\n", st.Spans, st.Processes, st.Threads)
	// Output: 1 span(s), 1 process(es), 1 lane(s)
}

// Bad input gives an error that names the input and where it went wrong.
func ExampleConverter_Decode_error() {
	c := converter.New()
	err := c.Decode("spans.json", strings.NewReader("{\"resourceSpans\": [\n  {,}]}"))
	fmt.Println(err)
	// Output: spans.json: OTLP JSON: at byte 23 (line 2, column 4): invalid character ',' looking for beginning of object key string
}
