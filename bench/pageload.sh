#!/usr/bin/env bash
# Page load under 100 ms RTT: h2push with no hints, push, 103 and push + cache digest on a
# repeat visit, against nginx's push, each behind the same user-space delay proxy (50 ms each
# way). Prints a Markdown table (see docs/benchmarks.md). The client is a model of a browser
# (bench/src/bin/pageload.rs), not a browser: bench/browser-pageload.sh measures Chromium.
#
#   bench/pageload.sh [-r RUNS] [--delay-ms MS] [--think-ms MS] [--debug]
#
# The static page is bench's site served by `h2push serve` with no configuration but one
# rule (the font its stylesheet loads, which no HTML scan can see), by `h2push serve` with no
# configuration at all, and by nginx from bench/peers.sh (which pushes /style.css and /app.js
# for "/"); the dynamic page is the same HTML answered after a think time by an in-process
# h2push.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
runs=9 delay=50 think=100 profile=release
while (($#)); do
  case $1 in
  -r) runs=$2; shift 2 ;;
  --delay-ms) delay=$2; shift 2 ;;
  --think-ms) think=$2; shift 2 ;;
  --debug) profile=debug; shift ;;
  *) sed -n '2,13p' "$0" >&2; exit 2 ;;
  esac
done
"$here/peers.sh" install nginx

flags=(-j1 -q --manifest-path "$top/Cargo.toml")
[[ $profile == release ]] && flags+=(--release)
cargo build "${flags[@]}" -p h2push-cli --bin h2push
cargo build "${flags[@]}" -p h2push-bench --bin pageload
bin=$top/target/$profile
run=$(mktemp -d /tmp/h2push-pageload-XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do "$here/peers.sh" stop "$p"; wait "$p" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; }

site=$run/site
"$bin/pageload" site "$site"
chmod -R a+rX "$run" # nginx's worker runs as another user
"$bin/h2push" cert --out "$run" >/dev/null
cat >"$run/h2push.toml" <<'EOF'
# The font style.css loads: the one critical resource the HTML scan cannot see.
[[push]]
path = "/"
resources = ["/font.woff2"]
EOF

h2p=$(free_port)
"$bin/h2push" serve "$site" --addr "127.0.0.1:$h2p" --cert "$run/cert.pem" --key "$run/key.pem" \
  --config "$run/h2push.toml" --no-access-log >"$run/h2push.log" 2>&1 &
pids+=($!)
h2z=$(free_port)
"$bin/h2push" serve "$site" --addr "127.0.0.1:$h2z" --cert "$run/cert.pem" --key "$run/key.pem" \
  --no-access-log >"$run/h2push-zero.log" 2>&1 &
pids+=($!)
ngx=$(free_port)
pids+=("$("$here/peers.sh" start nginx "$ngx" "$site" "$run/cert.pem" "$run/key.pem")")
wait_port "$h2p"
wait_port "$h2z"
wait_port "$ngx"

echo "# bench/pageload.sh -r $runs --delay-ms $delay --think-ms $think ($profile, $(nproc) cores, $(date -u +%F))"
"$bin/pageload" run --site "$site" --target "h2push=127.0.0.1:$h2p" \
  --target "h2push zero-config=127.0.0.1:$h2z" --target "nginx=127.0.0.1:$ngx" \
  --dynamic --think-ms "$think" --delay-ms "$delay" --runs "$runs"
