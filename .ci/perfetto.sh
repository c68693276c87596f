#!/usr/bin/env bash
# Builds tpq, a command-line front end to Perfetto's trace processor (the
# importer behind ui.perfetto.dev), into a cache directory and prints that
# directory. The converter's tests load their output into it as an oracle
# (converter/check/perfetto).
#
# Trace processor comes from Debian's chromium-shell package, which ships it
# as libtest_trace_processor.so; tpq is .ci/perfetto/tpq.cc, built with clang
# and libc++ (installed with apt when missing) against that library.
#
# Idempotent: when the stamp says the library and tpq.cc are the ones built,
# nothing is fetched or compiled and a second run takes well under a second.
# The first run downloads chromium-shell (~65 MB) and keeps only the library.
#
#   OTEL2CHROME_TOOLS_DIR   cache root; tpq goes in its perfetto/ directory
#                           (default $HOME/.cache/otel2chrome/tools)
set -euo pipefail

src="$(cd "$(dirname "$0")" && pwd)/perfetto/tpq.cc"
dir="${OTEL2CHROME_TOOLS_DIR:-$HOME/.cache/otel2chrome/tools}/perfetto"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
lib=libtest_trace_processor.so

log() { printf 'perfetto.sh: %s\n' "$*" >&2; }

# The stamp names the chromium-shell version the library came from and the
# hash of the tpq.cc it was built from: a changed tpq.cc is rebuilt, a newer
# chromium-shell in the archive is not fetched until the cache is cleared.
want_src="$(sha256sum "$src" | cut -d' ' -f1)"
if [ -x "$dir/tpq" ] && [ -f "$dir/$lib" ] && [ -f "$dir/.tpq.version" ] &&
	[ "$(sed -n 's/^tpq.cc=//p' "$dir/.tpq.version")" = "$want_src" ]; then
	log "tpq already built ($(paste -sd ' ' "$dir/.tpq.version"))"
	echo "$dir"
	exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

apt_install() { # apt_install PACKAGE...
	log "installing $* with apt"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q "$@" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get install -y -q "$@" >/dev/null; }
}

# clang with libc++ headers, both needed to build against the library's ABI.
if ! command -v clang++ >/dev/null ||
	! printf '#include <string>\n' | clang++ -std=c++17 -stdlib=libc++ -x c++ -fsyntax-only - 2>/dev/null; then
	apt_install clang libc++-dev libc++abi-dev
fi

if [ -f "$dir/$lib" ] && [ -f "$dir/.lib.version" ]; then
	version="$(cat "$dir/.lib.version")"
	log "chromium-shell $version library already extracted"
else
	log "downloading chromium-shell"
	(cd "$work" && { apt-get download chromium-shell >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null && apt-get download chromium-shell >/dev/null; }; })
	deb="$(ls "$work"/chromium-shell_*.deb)"
	version="$(dpkg-deb -f "$deb" Version)"
	# Only the library: the package's 200 MB browser binary is not needed.
	if ! dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" "./usr/lib/chromium/$lib" 2>/dev/null ||
		[ ! -f "$work/usr/lib/chromium/$lib" ]; then
		log "chromium-shell $version has no usr/lib/chromium/$lib"
		exit 1
	fi
	mv -f "$work/usr/lib/chromium/$lib" "$dir/$lib"
	echo "$version" >"$dir/.lib.version"
	log "extracted $lib from chromium-shell $version"
fi

log "building tpq"
# $ORIGIN: tpq finds the library beside itself, wherever the cache lives.
clang++ -std=c++17 -stdlib=libc++ -O1 -Wall -Wextra -o "$work/tpq" "$src" \
	-L"$dir" -ltest_trace_processor -Wl,-rpath,'$ORIGIN'
cp "$work/tpq" "$dir/tpq.new"

# Smoke test: one slice in, one slice out, as JSON. A library whose ABI no
# longer matches tpq.cc fails here rather than in the tests.
printf '{"traceEvents":[{"ph":"X","pid":1,"tid":1,"ts":0,"dur":1,"name":"a"}]}' >"$work/smoke.json"
got="$("$dir/tpq.new" "$work/smoke.json" 'select count(*) as n from slice')"
if [ "$got" != '{"columns":["n"],"rows":[["1"]]}' ]; then
	log "smoke test failed: got $got"
	rm -f "$dir/tpq.new"
	exit 1
fi
mv -f "$dir/tpq.new" "$dir/tpq"
printf 'chromium-shell=%s\ntpq.cc=%s\n' "$version" "$want_src" >"$dir/.tpq.version"
log "built $dir/tpq"
echo "$dir"
