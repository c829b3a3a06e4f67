#!/usr/bin/env bash
# The other HTTP/2 servers h2push's benchmarks measure it against, on loopback.
#
#   bench/peers.sh install [NAME ...]                 apt-get what the peers need (as root)
#   bench/peers.sh start NAME PORT SITE CERT KEY      start a peer in the background; prints
#                                                     its PID once it accepts connections
#   bench/peers.sh stop PID                           stop a peer that `start` printed
#
# NAME: nginx (1 worker), h2o (1 thread), nghttpd, go (bench/peer.go: push, 103, SSE hub).
# Each serves SITE over TLS (HTTP/2 by ALPN) on 127.0.0.1:PORT with CERT/KEY and, for "/",
# announces /style.css and /app.js (SITE must hold index.html, style.css, app.js): a
# `Link: rel=preload` that nginx and h2o turn into pushes, nghttpd's -p push, the Go peer's
# http.Pusher and 103. `install` with no NAME installs them all, plus h2load.
# Each peer's configuration and log are in a fresh /tmp/h2push-peer-NAME-* directory, removed
# by `stop`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2; }

install() {
  local want=("$@") need=()
  ((${#want[@]})) || want=(nginx h2o nghttpd go h2load)
  for w in "${want[@]}"; do
    case $w in
    nginx) command -v nginx >/dev/null || need+=(nginx) ;;
    h2o) command -v h2o >/dev/null || need+=(h2o) ;;
    nghttpd) command -v nghttpd >/dev/null || need+=(nghttp2-server) ;;
    go) command -v go >/dev/null || need+=(golang-go) ;;
    h2load) command -v h2load >/dev/null || need+=(nghttp2-client) ;;
    *) echo "peers.sh: nothing to install for '$w'" >&2; exit 2 ;;
    esac
  done
  ((${#need[@]})) || return 0
  ((EUID == 0)) || { echo "peers.sh: missing ${need[*]}; run as root or apt-get install them" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need[@]}" >/dev/null
}

start() {
  local name=$1 port=$2 site cert key dir
  site=$(realpath "$3") cert=$(realpath "$4") key=$(realpath "$5")
  [[ -f $site/index.html ]] || { echo "peers.sh: $site has no index.html" >&2; exit 2; }
  dir=$(mktemp -d "/tmp/h2push-peer-$name-XXXXXX")
  case $name in
  nginx)
    command -v nginx >/dev/null || install nginx
    mkdir -p "$dir/logs" "$dir/tmp"
    cat >"$dir/nginx.conf" <<EOF
# One worker, as the single-threaded peers; run as root so it reads any SITE.
user root;
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  keepalive_requests 10000000;
  open_file_cache max=1000 inactive=60s;
  client_body_temp_path $dir/tmp/client;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  server {
    listen 127.0.0.1:$port ssl http2;
    ssl_certificate $cert;
    ssl_certificate_key $key;
    root $site;
    http2_push_preload on;
    location = / {
      add_header Link "</style.css>; rel=preload; as=style";
      add_header Link "</app.js>; rel=preload; as=script";
      try_files /index.html =404;
    }
  }
}
EOF
    nginx -p "$dir" -c "$dir/nginx.conf" >"$dir/out.log" 2>&1 &
    ;;
  h2o)
    command -v h2o >/dev/null || install h2o
    # h2o 2.2 pushes a Link preload only from a handler's response (proxy, fastcgi, mruby):
    # an mruby handler adds the header to "/" and passes the request on (status 399).
    cat >"$dir/h2o.conf" <<EOF
num-threads: 1
error-log: $dir/error.log
http2-push-preload: ON
listen:
  host: 127.0.0.1
  port: $port
  ssl:
    certificate-file: $cert
    key-file: $key
    ocsp-update-interval: 0
hosts:
  default:
    paths:
      /:
        mruby.handler: |
          lambda do |env|
            next [399, {}, []] unless env["PATH_INFO"] == "/"
            [399, {"link" => "</style.css>; rel=preload; as=style\n</app.js>; rel=preload; as=script"}, []]
          end
        file.dir: $site
EOF
    h2o -c "$dir/h2o.conf" >"$dir/out.log" 2>&1 &
    ;;
  nghttpd)
    command -v nghttpd >/dev/null || install nghttpd
    nghttpd --address=127.0.0.1 --htdocs="$site" --push=/=/style.css,/app.js "$port" "$key" "$cert" >"$dir/out.log" 2>&1 &
    ;;
  go)
    command -v go >/dev/null || install go
    # Standard library only: no module download (GOPROXY=off), a build cache of its own.
    mkdir -p "$dir/gocache"
    GOCACHE=$dir/gocache GOPROXY=off GOFLAGS=-mod=mod GO111MODULE=off \
      go build -o "$dir/peer" "$here/peer.go" >&2
    PEER_ADDR=127.0.0.1:$port PEER_SITE=$site PEER_CERT=$cert PEER_KEY=$key "$dir/peer" >"$dir/out.log" 2>&1 &
    ;;
  *) echo "peers.sh: unknown peer '$name' (nginx h2o nghttpd go)" >&2; exit 2 ;;
  esac
  local pid=$!
  for _ in $(seq 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$pid" >"$dir/peer.pid"
      echo "$pid"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "peers.sh: $name did not start on 127.0.0.1:$port; from $dir:" >&2
  tail -n 20 "$dir"/*.log "$dir"/logs/*.log 2>/dev/null >&2 || true
  kill "$pid" 2>/dev/null || true
  exit 1
}

stop() {
  local pid=$1 _ f
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  for f in /tmp/h2push-peer-*/peer.pid; do # the peer's directory goes with it
    [[ -f $f && $(<"$f") == "$pid" ]] && rm -rf "${f%/peer.pid}"
  done
  return 0
}

cmd=${1:-}
shift || true
case $cmd in
install) install "$@" ;;
start) (($# == 5)) || { usage; exit 2; }; start "$@" ;;
stop) (($# == 1)) || { usage; exit 2; }; stop "$1" ;;
-h | --help) usage ;;
*) usage; exit 2 ;;
esac
