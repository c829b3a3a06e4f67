#!/usr/bin/env bash
# SSE fan-out: h2push's event hub against the Go SSE peer, on the same load, on this machine.
#
#   bench/sse-fanout.sh [--sizes '1000 10000 100000'] [--h1 N] [--per-conn N] [--burst SECS]
#                       [--peers 'go'] [--redis]
#
# For each size N: a fresh server, N subscribers to one topic over TLS (HTTP/2, --per-conn
# streams per connection, plus --h1 HTTP/1.1 connections), one publisher. sse-fanout
# (bench/src/bin/sse-fanout.rs) prints the server's RSS per idle subscriber, publish→receive
# latency (50 events at 10/s) and deliveries per second (publishing as fast as possible for
# --burst seconds). --redis runs h2push on a local redis-server as well (memory hub otherwise).
# Client and servers share this machine's cores: quote ratios, never lone numbers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
sizes='1000 10000 100000' h1=100 per_conn=100 burst=5 peers='go' redis=0
while (($#)); do
  case $1 in
  --sizes) sizes=$2; shift 2 ;;
  --h1) h1=$2; shift 2 ;;
  --per-conn) per_conn=$2; shift 2 ;;
  --burst) burst=$2; shift 2 ;;
  --peers) peers=$2; shift 2 ;;
  --redis) redis=1; shift ;;
  *) sed -n '2,12p' "$0" >&2; exit 2 ;;
  esac
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# shellcheck disable=SC2086
"$here/peers.sh" install $peers

cargo build --release -q -p h2push-cli -p h2push-bench --manifest-path "$top/Cargo.toml"
bin=$top/target/release
run=$(mktemp -d /tmp/h2push-sse-bench-XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do "$here/peers.sh" stop "$p"; wait "$p" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT
"$bin/h2push" cert --out "$run" >/dev/null
site=$top/examples/site
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
stop() { "$here/peers.sh" stop "$1"; wait "$1" 2>/dev/null || true; }

echo "# SSE fan-out, $(nproc) cores, $(date -u +%F), ulimit -n $(ulimit -n); h1 subscribers: $h1; $per_conn streams per h2 connection"
redis_url=
if ((redis)); then
  rport=$(free_port)
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$run/redis.log" 2>&1 &
  pids+=("$!")
  wait_port "$rport"
  redis_url="redis://127.0.0.1:$rport/"
fi
run_client() { # label port pid n [extra args...]
  local label=$1 port=$2 pid=$3 n=$4
  shift 4
  # Above 10k subscribers the steady rate is lowered so that it stays a latency test.
  local rate=10 events=50
  ((n > 10000)) && rate=2 events=20
  "$bin/sse-fanout" --addr "127.0.0.1:$port" -n "$n" --per-conn "$per_conn" --h1 "$h1" \
    --server-pid "$pid" --burst-secs "$burst" --rate "$rate" --latency-events "$events" \
    --label "$label" "$@" || echo "$label at $n: failed"
}
for n in $sizes; do
  variants=(memory)
  [[ -n $redis_url ]] && variants+=(redis)
  for v in "${variants[@]}"; do
    port=$(free_port)
    extra=() label=h2push
    [[ $v == redis ]] && extra=(--redis "$redis_url") label=h2push-redis
    "$bin/h2push" serve "$site" --addr "127.0.0.1:$port" --cert "$run/cert.pem" --key "$run/key.pem" \
      --no-access-log --max-connections 200000 --sse --publish-token bench "${extra[@]}" >"$run/h2push-$n.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    wait_port "$port"
    sleep 0.5
    run_client "$label" "$port" "$pid" "$n" --token bench
    stop "$pid"
  done
  for peer in $peers; do
    p=$(free_port)
    ppid=$("$here/peers.sh" start "$peer" "$p" "$site" "$run/cert.pem" "$run/key.pem")
    pids+=("$ppid")
    sleep 0.5
    # peers.sh starts the Go binary in the background; its PID is the server's.
    run_client "$peer" "$p" "$ppid" "$n"
    "$here/peers.sh" stop "$ppid" || true
  done
done
