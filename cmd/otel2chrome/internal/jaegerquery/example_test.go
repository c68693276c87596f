package jaegerquery_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/otel2chrome/otel2chrome/cmd/otel2chrome/internal/jaegerquery"
)

func Example() {
	// A stand-in for Jaeger's query service that knows one trace.
	jaeger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v3/traces/4bf92f3577b34da6a3ce929d0e0e4736" {
			fmt.Fprint(w, `{"result":{"resourceSpans":[{"resource":{},"scopeSpans":[]}]}}`)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"error":{"httpCode":404,"message":"No traces found"}}`)
	}))
	defer jaeger.Close()

	c, err := jaegerquery.New(jaeger.URL)
	if err != nil {
		panic(err)
	}
	a, err := c.Trace(context.Background(), "4bf92f3577b34da6a3ce929d0e0e4736")
	if err != nil {
		panic(err)
	}
	body, err := io.ReadAll(a.Body) // the answer streams in as it is read
	a.Body.Close()
	if err != nil {
		panic(err)
	}
	fmt.Println(a.API, len(body), "bytes from", a.Source() == jaeger.URL+"/api/v3/traces/4bf92f3577b34da6a3ce929d0e0e4736?raw_traces=true")

	_, err = c.Trace(context.Background(), "1")
	fmt.Println(errors.Is(err, jaegerquery.ErrNotFound))
	// Output:
	// api_v3 62 bytes from true
	// true
}
