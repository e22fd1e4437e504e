#!/usr/bin/env bash
# Runs the Almanac / Radicale / Xandikos comparison and writes
# bench/RESULTS.md, bench/results.svg and bench/results.jsonl.
# Extra arguments go to `almanac-bench compare` (e.g. --almanac-sync-only= to
# skip the 100k sync run). Not run by CI: it takes up to ~30 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."

need=()
command -v radicale >/dev/null || need+=(radicale)
command -v xandikos >/dev/null || need+=(xandikos)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v git >/dev/null || need+=(git)
if ((${#need[@]})); then
	echo "installing ${need[*]} from Debian" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

GO=${GO:-go}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
$GO build -o "$bin/almanac" ./cmd/almanac
$GO build -o "$bin/almanac-bench" ./bench/cmd/almanac-bench

# Almanac runs as shipped: the default flags, its change feed (gRPC and the
# embedded NATS server) on, as the peers run with their defaults. Only the
# log level is Radicale's (warning): Almanac would otherwise log every request.
flags=()
help=$("$bin/almanac" serve -h 2>&1 || true)
grep -q -- '-log-level' <<<"$help" && flags+=(--log-level=warn)

"$bin/almanac-bench" compare \
	--almanac "$bin/almanac" \
	--almanac-flags "${flags[*]}" \
	--almanac-version "$(git describe --always --dirty) ($(git log -1 --format=%cs))" \
	--command "make bench-compare${*:+ BENCH_ARGS=\"$*\"}" \
	--jsonl bench/results.jsonl --results bench/RESULTS.md --chart bench/results.svg \
	"$@"
