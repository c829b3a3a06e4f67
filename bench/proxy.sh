#!/usr/bin/env bash
# Reverse-proxy throughput: h2push proxy against nginx proxy_pass, both in front of the same
# upstream, side by side on this machine.
#
#   bench/proxy.sh [-r ROUNDS] [-n REQUESTS] [-a 'H2LOAD ARGS']
#
# The upstream is a plain HTTP/1.1 nginx (one worker) answering /style.css with a 21-byte
# body from memory, so the fronts, not the app, are measured. Both fronts speak TLS + HTTP/2
# to h2load and keep-alive HTTP/1.1 to the upstream: nginx 1 worker with an upstream
# keepalive pool; h2push proxy with one thread (as nginx) and with one thread per core.
# Ratios are against nginx (the first row); see bench/h2load-compare.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
rounds=3 n=100000 h2load_args='-c 50 -m 10'
while (($#)); do
  case $1 in
  -r) rounds=$2; shift 2 ;;
  -n) n=$2; shift 2 ;;
  -a) h2load_args=$2; shift 2 ;;
  *) sed -n '2,11p' "$0" >&2; exit 2 ;;
  esac
done
"$here/peers.sh" install nginx h2load

cargo build --release -q -p h2push-cli --manifest-path "$top/Cargo.toml"
bin=$top/target/release/h2push
run=$(mktemp -d /tmp/h2push-proxy-bench-XXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
"$bin" cert --out "$run" >/dev/null

nginx_conf() { # NAME SERVER-BLOCK
  mkdir -p "$run/$1/tmp" "$run/$1/logs"
  cat >"$run/$1/nginx.conf" <<CONF
worker_processes 1;
pid $run/$1/nginx.pid;
error_log $run/$1/logs/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path $run/$1/tmp/body;
  proxy_temp_path $run/$1/tmp/proxy;
  fastcgi_temp_path $run/$1/tmp/fcgi;
  uwsgi_temp_path $run/$1/tmp/uwsgi;
  scgi_temp_path $run/$1/tmp/scgi;
  $2
}
CONF
  nginx -p "$run/$1" -c "$run/$1/nginx.conf" >"$run/$1/out.log" 2>&1 &
  pids+=($!)
}

up=$(free_port)
nginx_conf upstream "server { listen 127.0.0.1:$up; location / { default_type text/css; return 200 'body { color: teal }\n'; } }"

ng=$(free_port)
nginx_conf front "upstream app { server 127.0.0.1:$up; keepalive 128; }
  server {
    listen 127.0.0.1:$ng ssl http2;
    ssl_certificate $run/cert.pem;
    ssl_certificate_key $run/key.pem;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
      proxy_buffering off;
    }
  }"

h1=$(free_port) hn=$(free_port)
"$bin" proxy --upstream "http://127.0.0.1:$up" --addr "127.0.0.1:$h1" --threads 1 \
  --cert "$run/cert.pem" --key "$run/key.pem" --no-access-log >"$run/h2push-1t.log" 2>&1 &
pids+=($!)
"$bin" proxy --upstream "http://127.0.0.1:$up" --addr "127.0.0.1:$hn" \
  --cert "$run/cert.pem" --key "$run/key.pem" --no-access-log >"$run/h2push.log" 2>&1 &
pids+=($!)

for port in "$up" "$ng" "$h1" "$hn"; do
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
done
curl -sk "https://127.0.0.1:$h1/style.css" | grep -q teal || { echo "h2push proxy does not answer" >&2; exit 1; }
curl -sk "https://127.0.0.1:$ng/style.css" | grep -q teal || { echo "nginx proxy does not answer" >&2; exit 1; }

echo "h2load -n $n $h2load_args, $rounds rounds; upstream: nginx (1 worker) on 127.0.0.1:$up"
"$here/h2load-compare.sh" -r "$rounds" -n "$n" -a "$h2load_args" \
  "nginx=https://127.0.0.1:$ng/style.css" \
  "h2push-1t=https://127.0.0.1:$h1/style.css" \
  "h2push=https://127.0.0.1:$hn/style.css"
