#!/usr/bin/env bash
# Makes the real-shaped benchmark corpus in this directory: telemetrygen
# traffic (several services; links, errors; OTLP over gRPC and HTTP) and the
# SDK-instrumented sample service, sent to a collector whose contrib file
# exporter writes every format it has (proto and JSON lines, each plain and
# zstd). The benchmarks amplify these files with fresh IDs (realshape_test.go).
#
#   bash converter/testdata/realshape/make.sh
#
# Needs telemetrygen (bash .ci/tools.sh) and the Go module proxy; builds the
# corpus collector (collector/, its own module) into the tools directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
tools="${OTEL2CHROME_TOOLS_DIR:-$HOME/.cache/otel2chrome/tools}"
mkdir -p "$tools"
log() { printf 'realshape: %s\n' "$*" >&2; }

version=v0.162.0
if [ ! -x "$tools/corpus-collector" ] || [ "$(cat "$tools/.corpus-collector.version" 2>/dev/null)" != "$version" ]; then
	log "building the corpus collector (otlpreceiver + fileexporter $version)"
	(cd "$here/collector" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$tools/corpus-collector" .)
	echo "$version" >"$tools/.corpus-collector.version"
fi
[ -x "$tools/telemetrygen" ] || bash "$repo/.ci/tools.sh" >/dev/null

work="$(mktemp -d)"
collector=
cleanup() {
	[ -n "$collector" ] && kill "$collector" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export CORPUS_GRPC_PORT="$(free_port)" CORPUS_HTTP_PORT="$(free_port)" CORPUS_OUT="$work"
"$tools/corpus-collector" --config "$here/collector/config.yaml" >"$work/collector.log" 2>&1 &
collector=$!
up=
for _ in $(seq 100); do
	if (echo >"/dev/tcp/127.0.0.1/$CORPUS_HTTP_PORT") 2>/dev/null; then up=1; break; fi
	kill -0 "$collector" 2>/dev/null || break
	sleep 0.1
done
[ -n "$up" ] || { log "the corpus collector did not start:"; cat "$work/collector.log" >&2; exit 1; }

# gen SERVICE TRANSPORT TRACES CHILDREN LINKS STATUS: one telemetrygen run,
# throttled (unthrottled, telemetrygen drops spans itself).
gen() {
	local endpoint="127.0.0.1:$CORPUS_GRPC_PORT" http=()
	if [ "$2" = http ]; then endpoint="127.0.0.1:$CORPUS_HTTP_PORT" http=(--otlp-http); fi
	"$tools/telemetrygen" traces --otlp-endpoint "$endpoint" --otlp-insecure "${http[@]}" \
		--service "$1" --traces "$3" --child-spans "$4" --span-links "$5" --status-code "$6" \
		--workers 1 --rate 600 --batch-size 50 --timeout 5s \
		--telemetry-attributes "http.route=\"/api/$1/{id}\"" >>"$work/telemetrygen.log" 2>&1
}
log "sending telemetrygen traffic"
# (wait names its jobs: a bare wait would wait for the collector too.)
gen frontend grpc 200 4 0 Unset & a=$!
gen checkout http 100 8 2 Error & b=$!
wait "$a" "$b"
gen payment grpc 150 2 1 Ok & a=$!
gen inventory http 80 6 0 Unset & b=$!
wait "$a" "$b"
log "sending the sample service's requests (otelhttp + sdkhook)"
mkdir -p "$work/sample"
for items in widget,gadget,gizmo widget gizmo,gizmo gadget,widget widget,gizmo,gadget,widget; do
	(cd "$repo" && go run ./examples/sampleapp -out "$work/sample" -items "$items" -jaeger-otlp "127.0.0.1:$CORPUS_HTTP_PORT" >/dev/null)
done

kill -TERM "$collector"
wait "$collector" || true
collector=
for f in traces.proto.pb traces.proto.zstd.pb traces.json.jsonl traces.json.zstd; do
	[ -s "$work/$f" ] || { log "the collector wrote no $f"; cat "$work/collector.log" >&2; exit 1; }
	cp "$work/$f" "$here/$f"
done
log "wrote $(ls "$here"/traces.* | wc -l) files: $(du -ch "$here"/traces.* | tail -1 | cut -f1)"
