package converter

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The Jaeger query service's JSON (the UI's "Download JSON" and /api/traces):
// microsecond times, hex IDs, typed tags, processes referenced by ID.

type jaegerDoc struct {
	Data   []jaegerTrace `json:"data"`
	Errors []jaegerErr   `json:"errors"`
}

type jaegerErr struct {
	Code    int    `json:"code"`
	Msg     string `json:"msg"`
	TraceID string `json:"traceID"`
}

type jaegerTrace struct {
	TraceID   string                   `json:"traceID"`
	Spans     []jaegerSpan             `json:"spans"`
	Processes map[string]jaegerProcess `json:"processes"`
}

type jaegerSpan struct {
	TraceID       string         `json:"traceID"`
	SpanID        string         `json:"spanID"`
	OperationName string         `json:"operationName"`
	References    []jaegerRef    `json:"references"`
	StartTime     int64          `json:"startTime"` // µs since epoch
	Duration      int64          `json:"duration"`  // µs
	Tags          []jaegerKV     `json:"tags"`
	Logs          []jaegerLog    `json:"logs"`
	ProcessID     string         `json:"processID"`
	Process       *jaegerProcess `json:"process"`
}

type jaegerRef struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

type jaegerKV struct {
	Key   string          `json:"key"`
	Type  string          `json:"type"`
	Value json.RawMessage `json:"value"`
}

type jaegerLog struct {
	Timestamp int64      `json:"timestamp"`
	Fields    []jaegerKV `json:"fields"`
}

type jaegerProcess struct {
	ServiceName string     `json:"serviceName"`
	Tags        []jaegerKV `json:"tags"`
}

func (d *decoder) decodeJaeger(doc []byte) error {
	var jd jaegerDoc
	if err := json.Unmarshal(doc, &jd); err != nil {
		return d.jsonError(formatJaegerJSON, doc, err)
	}
	if len(jd.Errors) > 0 && len(jd.Data) == 0 {
		msgs := make([]string, 0, len(jd.Errors))
		for _, e := range jd.Errors {
			m := e.Msg
			if e.Code != 0 {
				m = strconv.Itoa(e.Code) + " " + m
			}
			if e.TraceID != "" {
				m += " (trace " + e.TraceID + ")"
			}
			msgs = append(msgs, m)
		}
		return fmt.Errorf("%s: the Jaeger query service answered with an error: %s", formatJaegerJSON, printable(truncate(strings.Join(msgs, "; "), 400)))
	}
	for ti := range jd.Data {
		td, err := jaegerToTraces(&jd.Data[ti])
		if err != nil {
			return fmt.Errorf("%s: data[%d]: %w", formatJaegerJSON, ti, err)
		}
		d.add(td)
	}
	return nil
}

func jaegerV3Error(raw json.RawMessage) error {
	var e struct {
		GRPCCode   int    `json:"grpcCode"`
		HTTPCode   int    `json:"httpCode"`
		Message    string `json:"message"`
		HTTPStatus string `json:"httpStatus"`
	}
	if json.Unmarshal(raw, &e) != nil || e.Message == "" {
		return fmt.Errorf("%s: the Jaeger query service answered with an error: %s", formatJaegerV3JSON, printable(truncate(string(raw), 200)))
	}
	return fmt.Errorf("%s: the Jaeger query service answered with an error: %d %s", formatJaegerV3JSON, e.HTTPCode, printable(truncate(e.Message, 400)))
}

// jaegerToTraces maps one Jaeger trace to pdata the way the collector's
// jaeger translator does: one ResourceSpans per process, scopes from the
// otel.scope.* tags, kind and status from their tags, CHILD_OF as parent and
// every other reference as a link.
func jaegerToTraces(jt *jaegerTrace) (ptrace.Traces, error) {
	td := ptrace.NewTraces()
	type scopeKey struct{ proc, name, version string }
	resources := map[string]ptrace.ResourceSpans{}
	scopes := map[scopeKey]ptrace.SpanSlice{}
	// Process IDs in sorted order so the output does not depend on map order.
	procIDs := make([]string, 0, len(jt.Processes))
	for id := range jt.Processes {
		procIDs = append(procIDs, id)
	}
	sort.Strings(procIDs)
	resource := func(id string, p *jaegerProcess) (ptrace.ResourceSpans, error) {
		if rs, ok := resources[id]; ok {
			return rs, nil
		}
		rs := td.ResourceSpans().AppendEmpty()
		attrs := rs.Resource().Attributes()
		if p != nil {
			attrs.PutStr("service.name", p.ServiceName)
			for _, kv := range p.Tags {
				if err := putJaegerKV(attrs, kv); err != nil {
					return rs, fmt.Errorf("process %q: %w", id, err)
				}
			}
		}
		resources[id] = rs
		return rs, nil
	}
	for _, id := range procIDs {
		p := jt.Processes[id]
		if _, err := resource(id, &p); err != nil {
			return td, err
		}
	}
	for si := range jt.Spans {
		js := &jt.Spans[si]
		procID := js.ProcessID
		var proc *jaegerProcess
		if p, ok := jt.Processes[procID]; ok {
			proc = &p
		} else if js.Process != nil {
			proc = js.Process
			if procID == "" {
				procID = "span:" + js.Process.ServiceName
			}
		}
		rs, err := resource(procID, proc)
		if err != nil {
			return td, err
		}
		var sk scopeKey
		sk.proc = procID
		for _, kv := range js.Tags {
			switch kv.Key {
			case "otel.scope.name", "otel.library.name":
				sk.name = jaegerString(kv)
			case "otel.scope.version", "otel.library.version":
				sk.version = jaegerString(kv)
			}
		}
		spans, ok := scopes[sk]
		if !ok {
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName(sk.name)
			ss.Scope().SetVersion(sk.version)
			spans = ss.Spans()
			scopes[sk] = spans
		}
		if err := jaegerSpanTo(js, spans.AppendEmpty()); err != nil {
			return td, fmt.Errorf("span %d (%q): %w", si, js.SpanID, err)
		}
	}
	return td, nil
}

func jaegerSpanTo(js *jaegerSpan, sp ptrace.Span) error {
	tid, err := parseTraceID(js.TraceID)
	if err != nil {
		return err
	}
	sid, err := parseSpanID(js.SpanID)
	if err != nil {
		return err
	}
	if js.StartTime < 0 || js.Duration < 0 {
		return fmt.Errorf("negative startTime or duration")
	}
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	sp.SetName(js.OperationName)
	sp.SetStartTimestamp(pcommon.Timestamp(js.StartTime * 1000))
	sp.SetEndTimestamp(pcommon.Timestamp((js.StartTime + js.Duration) * 1000))
	parentSet := false
	for ri, ref := range js.References {
		rt, err := parseTraceID(ref.TraceID)
		if err != nil {
			return fmt.Errorf("references[%d]: %w", ri, err)
		}
		rs, err := parseSpanID(ref.SpanID)
		if err != nil {
			return fmt.Errorf("references[%d]: %w", ri, err)
		}
		if !parentSet && ref.RefType == "CHILD_OF" && rt == tid {
			sp.SetParentSpanID(rs)
			parentSet = true
			continue
		}
		l := sp.Links().AppendEmpty()
		l.SetTraceID(rt)
		l.SetSpanID(rs)
	}
	attrs := sp.Attributes()
	errorTag := false
	for _, kv := range js.Tags {
		switch kv.Key {
		case "span.kind":
			sp.SetKind(jaegerKind(jaegerString(kv)))
		case "otel.status_code":
			switch strings.ToUpper(jaegerString(kv)) {
			case "OK":
				sp.Status().SetCode(ptrace.StatusCodeOk)
			case "ERROR":
				sp.Status().SetCode(ptrace.StatusCodeError)
			}
		case "otel.status_description":
			sp.Status().SetMessage(jaegerString(kv))
		case "error":
			errorTag = jaegerString(kv) == "true"
		case "otel.scope.name", "otel.scope.version", "otel.library.name", "otel.library.version", "internal.span.format":
		default:
			if err := putJaegerKV(attrs, kv); err != nil {
				return err
			}
		}
	}
	if errorTag && sp.Status().Code() == ptrace.StatusCodeUnset {
		sp.Status().SetCode(ptrace.StatusCodeError)
	}
	for li, lg := range js.Logs {
		ev := sp.Events().AppendEmpty()
		ev.SetTimestamp(pcommon.Timestamp(lg.Timestamp * 1000))
		ev.SetName("log")
		for _, kv := range lg.Fields {
			if kv.Key == "event" {
				ev.SetName(jaegerString(kv))
				continue
			}
			if err := putJaegerKV(ev.Attributes(), kv); err != nil {
				return fmt.Errorf("logs[%d]: %w", li, err)
			}
		}
	}
	return nil
}

func jaegerKind(s string) ptrace.SpanKind {
	switch strings.ToLower(s) {
	case "server":
		return ptrace.SpanKindServer
	case "client":
		return ptrace.SpanKindClient
	case "producer":
		return ptrace.SpanKindProducer
	case "consumer":
		return ptrace.SpanKindConsumer
	case "internal":
		return ptrace.SpanKindInternal
	}
	return ptrace.SpanKindUnspecified
}

// jaegerString returns a tag's value as text whatever its type.
func jaegerString(kv jaegerKV) string {
	var s string
	if json.Unmarshal(kv.Value, &s) == nil {
		return s
	}
	return string(kv.Value)
}

func putJaegerKV(m pcommon.Map, kv jaegerKV) error {
	bad := func(err error) error {
		return fmt.Errorf("tag %q: %s value %s: %w", kv.Key, kv.Type, truncate(string(kv.Value), 64), err)
	}
	switch strings.ToLower(kv.Type) {
	case "bool":
		var b bool
		if err := json.Unmarshal(kv.Value, &b); err != nil {
			// Some exporters write booleans as strings.
			b = jaegerString(kv) == "true"
		}
		m.PutBool(kv.Key, b)
	case "int64":
		var n json.Number
		if err := json.Unmarshal(kv.Value, &n); err != nil {
			s := jaegerString(kv)
			n = json.Number(s)
		}
		i, err := n.Int64()
		if err != nil {
			return bad(err)
		}
		m.PutInt(kv.Key, i)
	case "float64":
		var f float64
		if err := json.Unmarshal(kv.Value, &f); err != nil {
			return bad(err)
		}
		m.PutDouble(kv.Key, f)
	case "binary":
		s := jaegerString(kv)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return bad(err)
		}
		m.PutEmptyBytes(kv.Key).FromRaw(b)
	default:
		m.PutStr(kv.Key, jaegerString(kv))
	}
	return nil
}

// parseTraceID reads a hex trace ID of up to 32 digits; Jaeger drops leading
// zeros and writes 64-bit IDs with 16.
func parseTraceID(s string) (pcommon.TraceID, error) {
	var id pcommon.TraceID
	if err := parseHexID(id[:], s); err != nil {
		return id, fmt.Errorf("trace ID %q: %w", truncate(s, 40), err)
	}
	return id, nil
}

func parseSpanID(s string) (pcommon.SpanID, error) {
	var id pcommon.SpanID
	if err := parseHexID(id[:], s); err != nil {
		return id, fmt.Errorf("span ID %q: %w", truncate(s, 40), err)
	}
	return id, nil
}

func parseHexID(dst []byte, s string) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	if len(s) > 2*len(dst) {
		return fmt.Errorf("longer than %d hex digits", 2*len(dst))
	}
	if len(s)%2 == 1 {
		s = "0" + s
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("not hex")
	}
	copy(dst[len(dst)-len(b):], b)
	return nil
}
