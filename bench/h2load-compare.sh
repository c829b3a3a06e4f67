#!/usr/bin/env bash
# Requests per second of several servers measured by h2load in interleaved rounds (every
# server once per round, so that the machine's drift hits all alike); prints each one's median
# and its ratio to the first server named.
#
#   bench/h2load-compare.sh [-r ROUNDS] [-n REQUESTS] [-a 'H2LOAD ARGS'] LABEL=URL [LABEL=URL ...]
#
# Defaults: 3 rounds, 100000 requests, h2load -c 50 -m 10 (one h2load thread). A round in
# which not every request succeeded counts as 0 req/s and is reported, never hidden.
set -euo pipefail
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; }
rounds=3 n=100000 args=(-c 50 -m 10)
while (($#)); do
  case $1 in
  -r) rounds=${2:?}; shift 2 ;;
  -n) n=${2:?}; shift 2 ;;
  -a) read -r -a args <<<"${2:?}"; shift 2 ;;
  -h | --help) usage; exit 0 ;;
  -*) echo "h2load-compare.sh: unknown option '$1'" >&2; usage; exit 2 ;;
  *) break ;;
  esac
done
(($#)) || { usage; exit 2; }
command -v h2load >/dev/null || { echo "h2load-compare.sh: h2load missing (apt-get install nghttp2-client, or bench/peers.sh install h2load)" >&2; exit 2; }
for t in "$@"; do [[ $t == *=https://* || $t == *=http://* ]] || { echo "h2load-compare.sh: '$t' is not LABEL=URL" >&2; exit 2; }; done

declare -A got
for ((round = 1; round <= rounds; round++)); do
  for t in "$@"; do
    label=${t%%=*} url=${t#*=}
    out=$(timeout 300 h2load -n "$n" "${args[@]}" "$url" 2>&1) || true
    # "finished in 1.23s, 81234.56 req/s, ..." and "requests: N total, N started, N done, N succeeded, ..."
    rps=$(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
    ok=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
    if [[ -z $rps || ${ok:-} != "$n" ]]; then
      echo "$label, round $round: FAILED ($ok of $n succeeded)" >&2
      rps=0
    fi
    got[$label]+="$rps "
  done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf '%-14s %12s %8s   %s\n' server 'req/s' ratio 'each round'
base=''
for t in "$@"; do
  label=${t%%=*}
  m=$(median <<<"${got[$label]}")
  base=${base:-$m}
  printf '%-14s %12.0f %8s   %s\n' "$label" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')" "${got[$label]}"
done
