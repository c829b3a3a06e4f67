#!/usr/bin/env bash
# Small-file throughput of h2push against nginx and h2o (and nghttpd), side by side on this
# machine, plus h2push's memory: idle RSS and RSS with 1,000 idle HTTP/2 connections.
#
#   bench/throughput.sh [-r ROUNDS] [-n REQUESTS] [-a 'H2LOAD ARGS'] [--peers 'nginx h2o']
#
# Every server serves examples/site over TLS on loopback with the same certificate; h2load
# fetches /style.css. Ratios are against h2push with one thread per core (the first row);
# h2push-1t is the same server on one thread, as the peers run; the -own rows serve HTTP/2
# with the engine of our own (H2PUSH_HTTP2_ENGINE=own) instead of the h2 crate. The peers come from
# bench/peers.sh and the comparison from bench/h2load-compare.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
rounds=3 n=100000 h2load_args='-c 50 -m 10' peers='nginx h2o'
while (($#)); do
  case $1 in
  -r) rounds=$2; shift 2 ;;
  -n) n=$2; shift 2 ;;
  -a) h2load_args=$2; shift 2 ;;
  --peers) peers=$2; shift 2 ;;
  *) sed -n '2,9p' "$0" >&2; exit 2 ;;
  esac
done
# shellcheck disable=SC2086
"$here/peers.sh" install h2load $peers
cargo build --release -q -p h2push-cli -p h2push-bench --manifest-path "$top/Cargo.toml"
bin=$top/target/release/h2push
run=$(mktemp -d /tmp/h2push-bench-XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do "$here/peers.sh" stop "$p"; wait "$p" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT

"$bin" cert --out "$run" >/dev/null
site=$top/examples/site
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# h2push four times: one serving thread per core (its default) and one thread, like the peers'
# single worker; each on the h2 crate's driver and on the engine of our own (-own).
start_h2push() { # LABEL THREADS [ENGINE]
  local port; port=$(free_port)
  H2PUSH_HTTP2_ENGINE=${3:-h2} "$bin" serve "$site" --addr "127.0.0.1:$port" --cert "$run/cert.pem" --key "$run/key.pem" \
    --config "$top/examples/h2push.toml" --no-access-log --threads "$2" >"$run/$1.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  targets+=("$1=https://127.0.0.1:$port/style.css")
}
targets=()
start_h2push h2push "$(nproc)"
h2push_pid=${pids[0]}
start_h2push h2push-1t 1
start_h2push h2push-own "$(nproc)" own
start_h2push h2push-own-1t 1 own
for peer in $peers; do
  p=$(free_port)
  pids+=("$("$here/peers.sh" start "$peer" "$p" "$site" "$run/cert.pem" "$run/key.pem")")
  targets+=("$peer=https://127.0.0.1:$p/style.css")
done

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
echo "# h2load -n $n $h2load_args, $rounds rounds, $(nproc) cores, $(date -u +%F)"
"$here/h2load-compare.sh" -r "$rounds" -n "$n" -a "$h2load_args" "${targets[@]}"

# Memory: h2push after the load, then with 1,000 idle HTTP/2 connections held open.
echo
echo "h2push RSS after load: $(rss "$h2push_pid") KiB"
fresh=$(free_port)
"$bin" serve "$site" --addr "127.0.0.1:$fresh" --cert "$run/cert.pem" --key "$run/key.pem" \
  --no-access-log >"$run/h2push-idle.log" 2>&1 &
idle_pid=$!
pids+=("$idle_pid")
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$fresh") 2>/dev/null && break; sleep 0.1; done
sleep 0.5
before=$(rss "$idle_pid")
"$top/target/release/idle-conns" --addr "127.0.0.1:$fresh" --path /style.css -n 1000 --hold 4 >/dev/null &
holder=$!
sleep 3
for _ in $(seq 60); do
  open=$(ss -Htn state established "( sport = :$fresh )" | wc -l)
  ((open >= 1000)) && break
  sleep 0.5
done
with=$(rss "$idle_pid")
wait "$holder" || true
echo "h2push idle RSS (fresh process): $before KiB"
echo "h2push RSS with $open idle h2 connections: $with KiB ($(((with - before) / (open > 0 ? open : 1))) KiB per connection)"
