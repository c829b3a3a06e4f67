#!/usr/bin/env bash
# Hostile clients against h2push and nginx in the same run, on loopback: silent clients,
# zero-window streams, connection exhaustion, slowloris (TLS, preface, HTTP/1.1 head), slow
# h2c preface, rapid reset, CONTINUATION flood, HPACK bomb, SETTINGS and PING floods.
#
#   bench/hostile.sh [--only 'silent zero-window ...'] [--servers 'h2push nginx'] [--quick]
#
# Both servers get the same short deadlines (idle 3 s, handshake/header 3 s, body/send 5 s)
# and ~1,000 connections at most. Per vector and server it prints the reaction the attacker
# saw, the server's CPU seconds and peak RSS growth during the attack, its RSS before → after
# (zero-window: before is read 60 s after a warm-up of 4 such connections with 4 streams each,
# after 60 s after the attack; the others: before on the fresh server, after 3 s after), and
# a bystander's success rate and p99 (a fresh HTTP/2 connection fetching a small file every
# 50 ms). h2push's zero-window row must show RSS growth ≤ 64 MiB and after ≤ 1.2 × before,
# or the script exits 1 (--quick: 30 s instead of 60). Installs nginx with apt if missing;
# everything runs from a temp dir and every PID it starts is stopped on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
only='silent zero-window exhaust slow-tls slow-preface slow-h1 slow-h2c rapid-reset continuation hpack-bomb settings-flood ping-flood'
servers='h2push nginx'
settle_zw=60
while (($#)); do
  case $1 in
  --only) only=$2; shift 2 ;;
  --servers) servers=$2; shift 2 ;;
  --quick) settle_zw=30; shift ;;
  *) sed -n '2,17p' "$0" >&2; exit 2 ;;
  esac
done

if [[ $servers == *nginx* ]] && ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
  echo "installing nginx (apt)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

cargo build --release -q -p h2push-cli -p h2push-bench --manifest-path "$top/Cargo.toml"
bin=$top/target/release/h2push
hostile=$top/target/release/hostile
ulimit -n 65536 2>/dev/null || ulimit -n 8192 || true

run=$(mktemp -d /tmp/h2push-hostile-XXXX)
chmod 755 "$run"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  rm -rf "$run"
}
trap cleanup EXIT

"$bin" cert --out "$run" >/dev/null
mkdir -p "$run/site"
head -c 1024 /dev/zero | tr '\0' 'a' >"$run/site/small.txt"
head -c 8388608 /dev/zero >"$run/site/big.bin"
chmod -R a+rX "$run"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

start_h2push() {
  tls=$(free_port) h2c=$(free_port)
  h1=$h2c
  "$bin" serve "$run/site" --addr "127.0.0.1:$tls" --h2c "127.0.0.1:$h2c" \
    --cert "$run/cert.pem" --key "$run/key.pem" --no-access-log --threads 2 \
    --max-connections 1000 --idle-timeout 3 --handshake-timeout 3 --preface-timeout 3 \
    --header-read-timeout 3 --body-idle-timeout 5 --send-timeout 5 --goaway-timeout 2 \
    >"$run/h2push.log" 2>&1 &
  pids+=("$!")
  server_pids=$!
  wait_port "$tls"
  wait_port "$h2c"
}

start_nginx() {
  tls=$(free_port) h2c=$(free_port) h1=$(free_port)
  mkdir -p "$run/nginx"
  cat >"$run/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $run/nginx/nginx.pid;
error_log $run/nginx/error.log error;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path $run/nginx/body;
  proxy_temp_path $run/nginx/proxy;
  fastcgi_temp_path $run/nginx/fastcgi;
  uwsgi_temp_path $run/nginx/uwsgi;
  scgi_temp_path $run/nginx/scgi;
  keepalive_timeout 3s;
  client_header_timeout 3s;
  client_body_timeout 5s;
  send_timeout 5s;
  root $run/site;
  server { listen 127.0.0.1:$tls ssl http2; ssl_certificate $run/cert.pem; ssl_certificate_key $run/key.pem; }
  server { listen 127.0.0.1:$h2c http2; }
  server { listen 127.0.0.1:$h1; }
}
EOF
  "$nginx_bin" -c "$run/nginx/nginx.conf" -g 'daemon off;' 2>"$run/nginx/stderr" &
  pids+=("$!")
  local master=$!
  wait_port "$tls"
  server_pids="$master $(pgrep -P "$master" | tr '\n' ' ')"
}

vector_args() { # VECTOR -> n and seconds
  case $1 in
  silent | exhaust-under) echo "-n 900 --secs 10" ;;
  zero-window) echo "-n 32 --streams 128 --secs 10 --warm 4 --settle $settle_zw" ;;
  exhaust) echo "-n 1500 --secs 10" ;;
  slow-tls | slow-preface | slow-h1 | slow-h2c) echo "-n 900 --secs 10" ;;
  *) echo "-n 4 --secs 6" ;;
  esac
}

echo "# bench/hostile.sh, $(nproc) cores, $(date -u +%F), nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///')"
echo
echo "| vector | server | reaction (attacker's view) | CPU s | RSS peak +MiB | RSS MiB before → after | bystander ok | p99 ms |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
failed=0
for v in $only; do
  for s in $servers; do
    "start_$s"
    pid_args=()
    for p in $server_pids; do pid_args+=(--pid "$p"); done
    check=()
    if [[ $v == zero-window && $s == h2push ]]; then check=(--check-rss); fi
    rc=0
    # shellcheck disable=SC2046
    timeout 200 "$hostile" --vector "$v" --label "$s" --tls "127.0.0.1:$tls" \
      --h2c "127.0.0.1:$h2c" --h1 "127.0.0.1:$h1" "${pid_args[@]}" $(vector_args "$v") \
      "${check[@]}" 2>>"$run/checks" || rc=$?
    case $rc in
    0) ;;
    3) failed=1 ;;
    *) echo "| $v | $s | (client failed) | | | | | |" ;;
    esac
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then echo "| $v | $s | SERVER DIED | | | | | |"; fi
    kill "${pids[-1]}" 2>/dev/null || true
    wait "${pids[-1]}" 2>/dev/null || true
    unset 'pids[-1]'
  done
done
if [[ -s $run/checks ]]; then
  echo
  sed 's/^/    /' "$run/checks"
fi
exit "$failed"
