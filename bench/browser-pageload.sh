#!/usr/bin/env bash
# Page load in a real browser: Debian's Chromium (driven by playwright-core over the DevTools
# protocol) loads each site from h2push and from nginx through a delay proxy of its own
# (RTT/2 each way), a new browser per load, servers interleaved, first and repeat visits, and
# prints a Markdown table of medians with ratios h2push / nginx (see docs/benchmarks.md).
#
#   bench/browser-pageload.sh [-r RUNS] [--warmup N] [--rtt-ms MS] [--sites 'vite dynamic content']
#                             [--servers 'h2push nginx'] [--think-ms MS] [--h2push BIN]
#                             [--serve-args 'ARGS'] [--proxy-args 'ARGS'] [--fail-on-twice] [--keep]
#
#   -r RUNS        measured loads per site, server and visit (default 7); medians
#   --warmup N     rounds loaded first and not counted, so that servers that learn from
#                  traffic have learned (default 2)
#   --rtt-ms MS    round-trip time the delay proxy adds (default 100)
#   --sites LIST   vite: a Vite 8 React build (pinned versions), served as static files;
#                  dynamic: the same index.html from a FastAPI app that thinks --think-ms
#                  (default 300) and sends no Link header, behind `h2push proxy` / nginx
#                  `proxy_pass` (the app serves the build's other files too, for both);
#                  dynamic-link: the same app sending a Link header for its stylesheet
#                  (rel=preload; as=style; crossorigin) and bundle (rel=modulepreload)
#                  (not in the default list);
#                  content: a text site with two @font-face web fonts and a CSS background hero
#   --servers LIST h2push (`h2push serve DIR`, no configuration; `h2push proxy` for dynamic)
#                  and/or nginx (1.22, `root DIR`, HTTP/2 + TLS, Debian's default gzip)
#   --h2push BIN   measure this h2push binary instead of building target/release/h2push
#   --serve-args A more arguments for `h2push serve` (word-split), e.g. to try a flag:
#                  --serve-args '--cache-control public,max-age=3600'
#   --proxy-args A more arguments for `h2push proxy` (the dynamic sites), e.g. '--learn all'
#   --fail-on-twice  exit 3 (after the report) if a measured load fetched a URL over the
#                  network more than once
#   --keep         keep the run directory (configs, logs, per-load JSON lines) and say where
#
# What went over the network (requests, 304s, bytes, URLs fetched twice in one load) is read
# from each server's access log for the time of each load: Chromium makes the preloads of a 103
# in its browser process, where the page's DevTools session does not see them (the DevTools
# count is reported beside it).
#
# Installs what it needs when missing (as root: apt-get chromium nginx; npm ci for
# playwright-core and the Vite build; a Python venv for FastAPI, uvicorn and fontTools) and
# caches the sites under target/browser-bench/. Loopback only; every process it starts is
# stopped by PID on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
usage() { sed -n '2,41p' "$0" | sed 's/^# \{0,1\}//'; }

runs=7 warmup=2 rtt=100 think=300 sites='vite dynamic content' servers='h2push nginx'
h2push_bin='' keep=0 serve_args='' proxy_args='' fail_on_twice=()
while (($#)); do
  case $1 in
  -r | --runs) runs=${2:?}; shift 2 ;;
  --warmup) warmup=${2:?}; shift 2 ;;
  --rtt-ms) rtt=${2:?}; shift 2 ;;
  --think-ms) think=${2:?}; shift 2 ;;
  --sites) sites=${2:?}; shift 2 ;;
  --servers) servers=${2:?}; shift 2 ;;
  --h2push) h2push_bin=$(realpath "${2:?}"); shift 2 ;;
  --serve-args) serve_args=${2?}; shift 2 ;;
  --proxy-args) proxy_args=${2?}; shift 2 ;;
  --fail-on-twice) fail_on_twice=(--fail-on-twice); shift ;;
  --keep) keep=1; shift ;;
  -h | --help) usage; exit 0 ;;
  *) echo "browser-pageload.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
die() { echo "browser-pageload.sh: $*" >&2; exit 1; }
for n in "$runs" "$warmup" "$rtt" "$think"; do [[ $n =~ ^[0-9]+$ ]] || die "not a number: '$n'"; done
((runs >= 1)) || die "-r must be at least 1"
for s in $sites; do [[ $s =~ ^(vite|dynamic|dynamic-link|content)$ ]] || die "unknown site '$s' (vite dynamic dynamic-link content)"; done
for s in $servers; do [[ $s =~ ^(h2push|nginx)$ ]] || die "unknown server '$s' (h2push nginx)"; done
[[ -n $sites && -n $servers ]] || die "--sites and --servers must not be empty"

cache=$top/target/browser-bench
mkdir -p "$cache"

# --- tools -------------------------------------------------------------------------------
apt_need=()
[[ -x /usr/bin/chromium ]] || apt_need+=(chromium)
[[ " $servers " == *" nginx "* ]] && ! command -v nginx >/dev/null && apt_need+=(nginx)
command -v node >/dev/null || apt_need+=(nodejs npm)
command -v python3 >/dev/null || apt_need+=(python3)
command -v python3 >/dev/null && ! python3 -c 'import ensurepip, venv' 2>/dev/null && apt_need+=(python3-venv)
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf ]] || apt_need+=(fonts-dejavu-core)
if ((${#apt_need[@]})); then
  ((EUID == 0)) || die "missing ${apt_need[*]}: run as root or apt-get install them"
  echo "installing ${apt_need[*]} (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${apt_need[@]}" >/dev/null
fi
command -v python3 >/dev/null || die "python3 is needed (for the FastAPI app and the site generator)"
# Vite 8 and playwright-core 1.65 want Node 20.19 or later (Debian 12's own nodejs is 18).
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
  die "Node $(node --version) is too old: Vite 8 needs 20.19 or later (e.g. from NodeSource or nvm)"

# playwright-core only (no browser download: it drives /usr/bin/chromium)
if ! cmp -s "$here/browser/package-lock.json" "$here/browser/node_modules/.package-lock.json.ours" 2>/dev/null; then
  (cd "$here/browser" && npm ci --no-audit --no-fund --loglevel=error >&2)
  cp "$here/browser/package-lock.json" "$here/browser/node_modules/.package-lock.json.ours"
fi

venv=$cache/venv
pips='fastapi==0.163.2 uvicorn==0.54.0 fonttools==4.68.0 brotli==1.2.1'
if [[ $(cat "$venv/.ours" 2>/dev/null) != "$pips" ]]; then
  echo "making the Python venv $venv ($pips)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  # shellcheck disable=SC2086
  "$venv/bin/pip" install -q $pips >&2
  echo "$pips" >"$venv/.ours"
fi
py=$venv/bin/python

if [[ -z $h2push_bin ]]; then
  cargo build -j1 -q --release --manifest-path "$top/Cargo.toml" -p h2push-cli --bin h2push
  h2push_bin=$top/target/release/h2push
fi
[[ -x $h2push_bin ]] || die "no h2push binary at $h2push_bin"

# --- sites (cached; rebuilt when their sources change) -----------------------------------
stamp() { # the sources a site is made from: make_sites.py and the files under "$@"
  (cd "$here/browser" && find make_sites.py "$@" -type f ! -path '*/node_modules/*' ! -path '*/dist/*' |
    LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)
}
sites_dir=$cache/sites
if [[ " $sites " == *" vite "* || " $sites " == *" dynamic"* ]]; then
  # The same builder the browser tests use (cached under $cache/vite).
  vite_dist=$("$here/browser/build-vite-site.sh" "$cache/vite")
  rm -rf "$sites_dir/vite"
  mkdir -p "$sites_dir"
  cp -r "$vite_dist" "$sites_dir/vite"
fi
if [[ " $sites " == *" content "* ]]; then
  want=$(stamp)
  if [[ $(cat "$sites_dir/content/.stamp" 2>/dev/null) != "$want" ]]; then
    echo "making the content site" >&2
    rm -rf "$sites_dir/content"
    "$py" "$here/browser/make_sites.py" content "$sites_dir/content" 2>/dev/null
    echo "$want" >"$sites_dir/content/.stamp"
  fi
fi

# --- servers ------------------------------------------------------------------------------
run=$(mktemp -d /tmp/h2push-browser-XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if ((keep)); then echo "run directory kept: $run" >&2; else rm -rf "$run"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { # PORT PID NAME LOG
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  tail -20 "$4" >&2 || true
  die "$3 did not start on 127.0.0.1:$1 (log above)"
}

# The sites as a site deployed a week ago: the file times are what nginx's Last-Modified
# (and so the browser's heuristic freshness: 10% of the age) comes from.
mkdir -p "$run/sites"
for s in vite content; do
  [[ -d $sites_dir/$s ]] || continue
  cp -r "$sites_dir/$s" "$run/sites/$s"
  rm -f "$run/sites/$s/.stamp"
  find "$run/sites/$s" -exec touch -d '7 days ago' {} +
done
chmod -R a+rX "$run"

"$h2push_bin" cert --out "$run" >"$run/cert.out"
pin=$(awk '/SPKI/ {print $NF}' "$run/cert.out")
[[ -n $pin ]] || die "h2push cert printed no SPKI pin"

declare -A origin # SITE/SERVER -> the server's own port
declare -A app_port # dynamic site -> its FastAPI app's port (one uvicorn process each)
for site in $sites; do
  [[ $site == dynamic* ]] || continue
  app_port[$site]=$(free_port)
  link=0
  [[ $site == dynamic-link ]] && link=1
  (cd "$here/browser" && SITE=$run/sites/vite THINK_MS=$think LINK_HEADER=$link exec "$venv/bin/uvicorn" \
    app:app --host 127.0.0.1 --port "${app_port[$site]}" --no-access-log --log-level warning) >"$run/app-$site.log" 2>&1 &
  pids+=($!)
  wait_port "${app_port[$site]}" $! "the FastAPI app" "$run/app-$site.log"
done

nginx_servers=''
for site in $sites; do
  for server in $servers; do
    port=$(free_port)
    origin[$site/$server]=$port
    case $server/$site in
    h2push/dynamic*)
      # shellcheck disable=SC2086
      "$h2push_bin" proxy --upstream "http://127.0.0.1:${app_port[$site]}" $proxy_args --addr "127.0.0.1:$port" \
        --cert "$run/cert.pem" --key "$run/key.pem" >"$run/h2push-$site.log" 2>&1 &
      pids+=($!)
      wait_port "$port" $! "h2push proxy" "$run/h2push-$site.log"
      ;;
    h2push/*)
      # shellcheck disable=SC2086
      "$h2push_bin" serve "$run/sites/$site" $serve_args --addr "127.0.0.1:$port" \
        --cert "$run/cert.pem" --key "$run/key.pem" >"$run/h2push-$site.log" 2>&1 &
      pids+=($!)
      wait_port "$port" $! "h2push serve" "$run/h2push-$site.log"
      ;;
    nginx/dynamic*)
      nginx_servers+="
  server {
    listen 127.0.0.1:$port ssl http2;
    access_log $run/nginx/logs/$site.log bench;
    location / {
      proxy_pass http://app_${site//-/_};
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto https;
    }
  }"
      ;;
    nginx/*)
      nginx_servers+="
  server {
    listen 127.0.0.1:$port ssl http2;
    access_log $run/nginx/logs/$site.log bench;
    root $run/sites/$site;
  }"
      ;;
    esac
  done
done

if [[ -n $nginx_servers ]]; then
  nginx_upstream=''
  for site in "${!app_port[@]}"; do
    nginx_upstream+="  upstream app_${site//-/_} { server 127.0.0.1:${app_port[$site]}; keepalive 16; }
"
  done
  mkdir -p "$run/nginx/logs" "$run/nginx/tmp"
  # Debian's stock nginx.conf, less what does not apply (one worker, as on a small host).
  cat >"$run/nginx/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $run/nginx/nginx.pid;
error_log $run/nginx/logs/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  types_hash_max_size 2048;
  log_format bench '\$msec \$request_method \$request_uri \$status \$body_bytes_sent';
  gzip on;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_prefer_server_ciphers on;
  ssl_certificate $run/cert.pem;
  ssl_certificate_key $run/key.pem;
  client_body_temp_path $run/nginx/tmp/body;
  proxy_temp_path $run/nginx/tmp/proxy;
  fastcgi_temp_path $run/nginx/tmp/fastcgi;
  uwsgi_temp_path $run/nginx/tmp/uwsgi;
  scgi_temp_path $run/nginx/tmp/scgi;
$nginx_upstream
$nginx_servers
}
EOF
  nginx -p "$run/nginx" -c "$run/nginx/nginx.conf" >"$run/nginx/out.log" 2>&1 &
  nginx_pid=$!
  pids+=("$nginx_pid")
  for site in $sites; do
    [[ -z ${origin[$site/nginx]:-} ]] || wait_port "${origin[$site/nginx]}" $nginx_pid nginx "$run/nginx/logs/error.log"
  done
fi

# One delay proxy process, one port per server: Chromium connects to https://localhost:PROXY/.
pairs=() targets=()
for site in $sites; do
  for server in $servers; do
    p=$(free_port)
    pairs+=("$p:${origin[$site/$server]}")
    targets+=(--target "$site/$server=https://localhost:$p/")
    if [[ $server == h2push ]]; then targets+=(--server-log "$site/$server=$run/h2push-$site.log")
    else targets+=(--server-log "$site/$server=$run/nginx/logs/$site.log"); fi
  done
done
node "$here/browser/delay-proxy.mjs" --rtt-ms "$rtt" "${pairs[@]}" >"$run/delay-proxy.log" 2>&1 &
pids+=($!)
for pr in "${pairs[@]}"; do wait_port "${pr%%:*}" $! "the delay proxy" "$run/delay-proxy.log"; done

# --- the loads ----------------------------------------------------------------------------
n_servers=$(wc -w <<<"$servers") n_sites=$(wc -w <<<"$sites")
limit=$(((warmup + runs) * n_servers * n_sites * 2 * 45 + 60)) # 45 s a load at most
echo "# bench/browser-pageload.sh -r $runs --warmup $warmup --rtt-ms $rtt --sites '$sites' --servers '$servers' --think-ms $think${serve_args:+ --serve-args '$serve_args'}${proxy_args:+ --proxy-args '$proxy_args'}"
echo "# $(date -u '+%F %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(/usr/bin/chromium --version 2>/dev/null | head -1), $(nginx -v 2>&1 | sed 's/.*: //'), $("$h2push_bin" --version)"
echo
mkdir -p "$run/tmp" # the browsers' profiles, Chromium's and Playwright's temporary files
# In the background, so that a TERM to this script stops it at once (the driver kills its
# browser when it gets a TERM itself).
TMPDIR=$run/tmp timeout "$limit" node "$here/browser/run.mjs" --chromium /usr/bin/chromium --pin "$pin" \
  --runs "$runs" --warmup "$warmup" --rtt-ms "$rtt" --out "$run/loads.jsonl" "${fail_on_twice[@]}" "${targets[@]}" \
  >"$run/report.md" &
driver=$!
pids+=("$driver")
set +e
wait "$driver"
status=$?
set -e
cp "$run/loads.jsonl" "$cache/last-loads.jsonl" 2>/dev/null || true
if ((status == 3)) && ((${#fail_on_twice[@]})); then
  cat "$run/report.md"
  echo "browser-pageload.sh: URLs were fetched more than once in one load (listed above)" >&2
  exit 3
fi
((status == 0)) || die "the browser driver failed (exit $status)"
cat "$run/report.md"
echo
echo "(each load's figures: $cache/last-loads.jsonl)"
