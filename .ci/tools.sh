#!/usr/bin/env bash
# Builds the external programs the integration tests run — Jaeger all-in-one,
# telemetrygen and otelcol-balancer (the load-balancing tier of
# examples/scaleout) — into a cache directory, and prints that directory.
#
# Idempotent: a tool whose binary already reports the pinned version is not
# rebuilt, so a second run takes well under a second. The first run needs the
# Go module proxy and takes a few minutes (Jaeger: ~3 min on 2 cores, 120 MB).
#
#   OTEL2CHROME_TOOLS_DIR   where the binaries go
#                           (default $HOME/.cache/otel2chrome/tools)
set -euo pipefail

JAEGER_VERSION=v1.76.0
TELEMETRYGEN_VERSION=v0.161.0
# otelcol-balancer is built from examples/scaleout/balancer, its own module;
# the stamp hashes its go.mod, go.sum, manifest and sources, named relative to
# that directory: a change of the pins or the code rebuilds it, another
# checkout of the same files (sharing the tools directory) does not.
BALANCER_DIR="$(cd "$(dirname "$0")/../examples/scaleout/balancer" && pwd)"
BALANCER_VERSION="v0.161.0-$(cd "$BALANCER_DIR" && sha256sum go.mod go.sum builder-config.yaml *.go | sha256sum | cut -c1-12)"

dir="${OTEL2CHROME_TOOLS_DIR:-$HOME/.cache/otel2chrome/tools}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

log() { printf 'tools.sh: %s\n' "$*" >&2; }

# stamp FILE holds the version a binary was built from; checking it is cheaper
# and more reliable than asking each binary for its version.
have() { # have NAME VERSION
	[ -x "$dir/$1" ] && [ -f "$dir/.$1.version" ] && [ "$(cat "$dir/.$1.version")" = "$2" ]
}

# A scratch directory for builds, removed on every exit path.
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"' EXIT

if have jaeger "$JAEGER_VERSION"; then
	log "jaeger $JAEGER_VERSION already built"
else
	log "building jaeger $JAEGER_VERSION (takes a few minutes)"
	# go install refuses modules with replace directives, so build from the
	# downloaded module source. The module cache is read-only and the build
	# may need to update go.sum, so build a writable copy.
	src="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/jaegertracing/jaeger@$JAEGER_VERSION" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
	if [ -z "$src" ] || [ ! -d "$src" ]; then
		log "go mod download did not report a source directory for jaeger $JAEGER_VERSION"
		exit 1
	fi
	cp -R "$src" "$work/jaeger"
	chmod -R u+w "$work/jaeger"
	(cd "$work/jaeger" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$work/jaeger.bin" ./cmd/jaeger)
	mv -f "$work/jaeger.bin" "$dir/jaeger"
	echo "$JAEGER_VERSION" >"$dir/.jaeger.version"
	log "built $dir/jaeger"
fi

if have telemetrygen "$TELEMETRYGEN_VERSION"; then
	log "telemetrygen $TELEMETRYGEN_VERSION already built"
else
	log "building telemetrygen $TELEMETRYGEN_VERSION"
	(cd "$work" && GOBIN="$dir" GOFLAGS=-mod=mod CGO_ENABLED=0 go install -trimpath \
		"github.com/open-telemetry/opentelemetry-collector-contrib/cmd/telemetrygen@$TELEMETRYGEN_VERSION")
	echo "$TELEMETRYGEN_VERSION" >"$dir/.telemetrygen.version"
	log "built $dir/telemetrygen"
fi

if have otelcol-balancer "$BALANCER_VERSION"; then
	log "otelcol-balancer $BALANCER_VERSION already built"
else
	log "building otelcol-balancer $BALANCER_VERSION from examples/scaleout/balancer (takes a few minutes)"
	# Its go.mod and go.sum are committed: -mod=readonly builds exactly them.
	(cd "$BALANCER_DIR" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -o "$work/otelcol-balancer" .)
	mv -f "$work/otelcol-balancer" "$dir/otelcol-balancer"
	echo "$BALANCER_VERSION" >"$dir/.otelcol-balancer.version"
	log "built $dir/otelcol-balancer"
fi

echo "$dir"
