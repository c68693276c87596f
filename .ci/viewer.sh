#!/usr/bin/env bash
# Installs what the viewer integration test needs: Debian's Chromium and, from
# npm, speedscope (a viewer that imports Chrome Trace Event files) and
# playwright-core to drive the browser. Idempotent; prints the install dir.
set -euo pipefail
dir="${OTEL2CHROME_TOOLS_DIR:-$HOME/.cache/otel2chrome/tools}/viewer"
if ! command -v chromium > /dev/null; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q chromium > /dev/null 2>&1 || { apt-get update -q > /dev/null && apt-get install -y -q chromium > /dev/null; }
fi
if [ ! -f "$dir/node_modules/speedscope/dist/release/index.html" ] || [ ! -d "$dir/node_modules/playwright-core" ]; then
	mkdir -p "$dir"
	(cd "$dir" && npm install --no-audit --no-fund --silent speedscope@1.25.0 playwright-core@1.64.1 > /dev/null)
fi
echo "$dir"
