// Command gen writes the same traces with the collector's file exporter in
// each format and compression it offers, for otel2chrome's decoder tests.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"path/filepath"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/featuregate"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// batches returns the test traces as the exporter would receive them: one
// batch per service, three traces of three spans each.
func batches() []ptrace.Traces {
	base := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var out []ptrace.Traces
	for s, svc := range []string{"front", "back"} {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", svc)
		rs.Resource().Attributes().PutStr("host.name", "host-"+svc)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("example/" + svc)
		ss.Scope().SetVersion("1.0.0")
		for tr := 1; tr <= 3; tr++ {
			start := base.Add(time.Duration(tr) * 200 * time.Millisecond)
			var tid pcommon.TraceID
			tid[0], tid[15] = 0xab, byte(tr)
			span := func(id, parent byte, name string, kind ptrace.SpanKind, from, to time.Duration) ptrace.Span {
				sp := ss.Spans().AppendEmpty()
				sp.SetTraceID(tid)
				sp.SetSpanID(pcommon.SpanID{7: id, 6: byte(tr)})
				if parent != 0 {
					sp.SetParentSpanID(pcommon.SpanID{7: parent, 6: byte(tr)})
				}
				sp.SetName(name)
				sp.SetKind(kind)
				sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(from)))
				sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(to)))
				return sp
			}
			if s == 0 {
				root := span(1, 0, "GET", ptrace.SpanKindServer, 0, 100*time.Millisecond)
				root.Attributes().PutStr("http.route", "/cart/{id}")
				span(2, 1, "call back", ptrace.SpanKindClient, 10*time.Millisecond+321, 90*time.Millisecond)
			} else {
				sp := span(3, 2, "serve", ptrace.SpanKindServer, 20*time.Millisecond+123, 80*time.Millisecond)
				ev := sp.Events().AppendEmpty()
				ev.SetName("cache miss")
				ev.SetTimestamp(sp.StartTimestamp() + 5000)
			}
		}
		out = append(out, td)
	}
	return out
}

func write(ctx context.Context, path, format, compression string, native bool) error {
	if err := featuregate.GlobalRegistry().Set("exporter.file.nativeCompression", native); err != nil {
		return err
	}
	f := fileexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*fileexporter.Config)
	cfg.Path = path
	cfg.FormatType = format
	cfg.Compression = compression
	exp, err := f.CreateTraces(ctx, exportertest.NewNopSettings(f.Type()), cfg)
	if err != nil {
		return err
	}
	if err := exp.Start(ctx, componenttest.NewNopHost()); err != nil {
		return err
	}
	for _, td := range batches() {
		if err := exp.ConsumeTraces(ctx, td); err != nil {
			return err
		}
	}
	return exp.Shutdown(ctx)
}

func main() {
	out := flag.String("out", ".", "directory to write the files to")
	flag.Parse()
	ctx := context.Background()
	for _, v := range []struct {
		name, format, compression string
		native                    bool
	}{
		{"traces.proto.pb", "proto", "", false},
		{"traces.proto.zstd.pb", "proto", "zstd", false},
		{"traces.json.jsonl", "json", "", false},
		{"traces.json.zstd", "json", "zstd", false},
		{"traces.native.proto.zst", "proto", "zstd", true},
		{"traces.native.json.zst", "json", "zstd", true},
	} {
		if err := write(ctx, filepath.Join(*out, v.name), v.format, v.compression, v.native); err != nil {
			log.Fatalf("%s: %v", v.name, err)
		}
		fmt.Println("wrote", v.name)
	}
}
