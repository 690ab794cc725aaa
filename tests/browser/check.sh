#!/usr/bin/env bash
# The HTML report in a real browser. Installs Chromium from Debian packages when it is missing,
# writes three reports with the release build (the demo, the second capture's stepped run, and
# fixtures/html-injection's hostile names) and opens each in headless Chromium (check.py: no
# console error, tables, charts and waterfalls rendered, sorting, a finding's waterfall on
# click, folding, nothing injected runs). Keeps the reports and screenshots in OUT.
#   tests/browser/check.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ] || ! command -v python3 >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium python3 >/dev/null
  chromium=$(command -v chromium)
fi
cargo build --release --locked --quiet
bin="${CARGO_TARGET_DIR:-target}/release/chokepoint"
export CHOKEPOINT_BROWSER_PROFILE="$out/profile"
check() {
  local name=$1 extra=$2
  shift 2
  "$bin" analyze "$@" --out "$out/$name" >/dev/null 2>"$out/$name.stderr" || {
    cat "$out/$name.stderr" >&2
    return 1
  }
  echo "== $name: report.html $(wc -c <"$out/$name/report.html") bytes"
  python3 tests/browser/check.py "$chromium" "$out/$name/report.html" "$out/$name" $extra
}
check demo "" fixtures/demo
steps=fixtures/pyshop/steps
check pyshop "" "$steps/traces.otlp.jsonl.gz" "$steps/postgresql.log.gz" "$steps/activity.csv.gz"
check injection --injection --show-literals --levels none fixtures/html-injection/traces.otlp.json
rm -rf "$out/profile"
echo "reports and screenshots in $out"
