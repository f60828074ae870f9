#!/usr/bin/env bash
# The benchmark of issue 11, part 3: a second CI machine with a shared GOCACHEPROG build
# cache, the same change, another checkout path.
#
#   bench/gocacheprog.sh [PATH/TO/escape-gate]     (default: target/release/escape-gate)
#
# Environment:
#   RUNS=3              runs of each two-machine case (median and min-max are reported)
#   CASES="1 2"         which changes the two-machine part runs (bench/run.sh's cases 1, 2)
#   SCHEMES=1           also compare the cache-key schemes with plain go commands (0: off)
#   COMPRESS_VERSION=v1.18.0
#   OUT=FILE            also write the Markdown report to FILE
#
# The server is gocached and the client go-cacher (github.com/bradfitz/go-tool-cache,
# installed by .ci/install-go-tool-cache). A "machine" is its own HOME, TMPDIR, GOCACHE,
# go-cacher directory, escape-gate findings cache (ESCAPE_GATE_CACHE_DIR) and a clone of
# the repository at a path of its own; machines share only the server.
#
# 1. Two machines (escape-gate): github.com/klauspost/compress with bench/run.sh's case 1
#    change (one new escape in the leaf package snappy/xerial) and case 2 (a new
#    function with one escape in internal/le, which 16 of the 31 packages import, so
#    every one of them is compiled again on both sides). Each run starts from a copy of a server
#    store that holds the standard library as escape-gate builds it (the steady state of
#    a shared cache: filled by `go build -trimpath std` through go-cacher), then runs
#    `escape-gate diff --format json base head` on machine one, then on machine two.
#    Both must exit 1 with exactly one new escape. Reported: wall times, the ratio
#    two/one, and the server's new entries (uploads less duplicates) and hits per
#    machine; machine two must add none.
# 2. Cache-key schemes (plain `go list -export -gcflags=-m ./...` of the head tree, as
#    escape-gate compiles; machine one then machine two, fresh server each): what
#    machine two adds to the server and how long it takes, for
#      dir    no -trimpath, checkouts at different paths (escape-gate before this change)
#      fixed  no -trimpath, the same absolute path on both machines (a machine-independent
#             work directory), on compress and on a module that imports compress from
#             the module cache (each machine's own GOMODCACHE, under its HOME)
#      trim   -trimpath, different paths (escape-gate with a GOCACHEPROG)
#    and, without any GOCACHEPROG, escape-gate's first run on a local GOCACHE that ordinary
#    builds warmed (`go build std`) with its default keys and with -trimpath (GOFLAGS),
#    which is what the standard library costs the -trimpath scheme on such a cache.
#
# Needs: bash, git, go (1.25+ to build go-cacher), jq, curl, GNU /usr/bin/time, the Go
# module proxy (or a module cache holding compress and go-tool-cache). Everything is
# done in one temporary directory, removed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EG_ARG=${1:-$ROOT/target/release/escape-gate}
EG=$(realpath "$EG_ARG" 2>/dev/null || true)
RUNS=${RUNS:-3}
SCHEMES=${SCHEMES:-1}
OUT=${OUT:-}
VERSION=${COMPRESS_VERSION:-v1.18.0}
CASES=${CASES:-"1 2"}

[[ -x $EG ]] || { echo "no escape-gate binary at $EG_ARG (build it: cargo build --release)" >&2; exit 2; }
for tool in git go jq curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool on PATH" >&2; exit 2; }
done
[[ -x /usr/bin/time ]] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }

TOOLS=$(bash "$ROOT/.ci/install-go-tool-cache")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/eg-gocacheprog.XXXXXX")
SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    chmod -R u+w "$WORK" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

export GOTOOLCHAIN=local
export GOFLAGS=
unset GOCACHEPROG
# GODEBUG=goindex=0 everywhere: go otherwise stores an index of each package directory,
# keyed by its path, in the build cache: no compilation, but a new entry from every
# machine (tests/gocacheprog.rs says more).
export GODEBUG=goindex=0
REAL_GOMODCACHE=$(go env GOMODCACHE)
GIT=(git -c user.name=bench -c user.email=bench@example.invalid -c commit.gpgsign=false
     -c init.defaultBranch=main)
say() { printf '== %s\n' "$*" >&2; }
FAILS=0
fail() { FAILS=$((FAILS + 1)); printf '\n!!!!!!!! FAIL: %s\n\n' "$*" >&2; echo "- **FAIL**: $*" >>"$WORK/fails.md"; }
: >"$WORK/fails.md"

{
    echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
    echo "- memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available at start"}')"
    echo "- $(go version | sed 's/^go version //;s/^/go /'); $(git --version); kernel $(uname -sr)"
    echo "- escape-gate: $EG (sha256 $(sha256sum "$EG" | cut -c1-12)); repository HEAD $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "- gocached and go-cacher: $(basename "$(dirname "$TOOLS")")"
    echo "- runs: $RUNS; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$WORK/machine.md"
say "machine"; cat "$WORK/machine.md" >&2

# --- The server --------------------------------------------------------------------
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT= DEBUG_PORT=
start_server() {   # start_server STORE
    PORT=$(free_port); DEBUG_PORT=$(free_port)
    "$TOOLS/gocached" --cache-dir="$1" --listen="127.0.0.1:$PORT" --debug-listen="127.0.0.1:$DEBUG_PORT" \
        >/dev/null 2>>"$WORK/gocached.log" &
    SERVER_PID=$!
    for _ in $(seq 200); do
        curl -sf "http://127.0.0.1:$DEBUG_PORT/metrics" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "gocached did not start:" >&2; tail "$WORK/gocached.log" >&2; exit 2
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }
# "new hits gets": new entries (uploads less duplicates), hits, gets so far.
counts() {
    curl -sf "http://127.0.0.1:$DEBUG_PORT/metrics" |
        awk '/^gocached_puts /{p = $2} /^gocached_puts_dup /{d = $2} /^gocached_get_hits /{h = $2} /^gocached_gets /{g = $2}
             END {printf "%d %d %d\n", p - d, h, g}'
}
delta() { paste -d' ' <(echo "$2") <(echo "$1") | awk '{printf "%d %d %d\n", $1 - $4, $2 - $5, $3 - $6}'; }

# machine_env NAME: the environment of one machine (its directories created).
machine_env() {
    local m=$WORK/machines/$1
    mkdir -p "$m"/{home,tmp,gocache,go-cacher,findings}
    echo "HOME=$m/home TMPDIR=$m/tmp GOCACHE=$m/gocache GOPATH=$m/home/go ESCAPE_GATE_CACHE_DIR=$m/findings"
}
cacheprog() { echo "$TOOLS/go-cacher --cache-dir=$WORK/machines/$1/go-cacher --cache-server=http://127.0.0.1:$PORT"; }

# --- The repository ----------------------------------------------------------------
say "downloading github.com/klauspost/compress@$VERSION"
mkdir -p "$WORK/scratch"
(cd "$WORK/scratch" && go mod init scratch >/dev/null 2>&1)
COMPRESS_DIR=$(cd "$WORK/scratch" && go mod download -json "github.com/klauspost/compress@$VERSION" | jq -r .Dir)
# new_origin CASE: a git repository of compress with tags base and head.
new_origin() {
    local o=$WORK/origin-$1
    cp -a "$COMPRESS_DIR" "$o"; chmod -R u+w "$o"
    "${GIT[@]}" -C "$o" init -q; "${GIT[@]}" -C "$o" add -A; "${GIT[@]}" -C "$o" commit -qm base; "${GIT[@]}" -C "$o" tag base
    if [[ $1 == 1 ]]; then
        "${GIT[@]}" -C "$o" apply "$ROOT/bench/patches/xerial-escape.patch"
        "${GIT[@]}" -C "$o" commit -qam "head: snappy/xerial.Encode keeps a pointer to a local"
    else
        "${GIT[@]}" -C "$o" apply "$ROOT/bench/patches/le-remember.patch"
        "${GIT[@]}" -C "$o" commit -qam "head: internal/le.Remember keeps a pointer to its argument"
    fi
    "${GIT[@]}" -C "$o" tag head
}
for c in $CASES; do new_origin "$c"; done
[[ -d $WORK/origin-1 ]] || new_origin 1   # the schemes part uses case 1
ORIGIN=$WORK/origin-1

# --- 1. Two machines -----------------------------------------------------------------
say "warming a server store with the standard library (go build -trimpath std through go-cacher)"
mkdir -p "$WORK/store-std"
start_server "$WORK/store-std"
warm_start=$(date +%s.%N)
env $(machine_env warm) GOCACHEPROG="$(cacheprog warm)" go build -trimpath std
echo "- \`go build -trimpath std\` into the empty server (once): $(awk -v s="$warm_start" -v e="$(date +%s.%N)" 'BEGIN {printf "%.1f", e - s}') s, $(counts | cut -d' ' -f1) entries" >>"$WORK/machine.md"
stop_server

# run_eg NAME MACHINE CHECKOUT: escape-gate as MACHINE; appends "wall new hits gets" to NAME.runs.
run_eg() {
    local name=$1 machine=$2 checkout=$3 before after rc=0
    before=$(counts)
    (cd "$checkout" && env $(machine_env "$machine") GOCACHEPROG="$(cacheprog "$machine")" \
        /usr/bin/time -f '%e' -o "$WORK/time.out" "$EG" diff --format json base head \
        >"$WORK/$name.stdout" 2>"$WORK/$name.stderr") || rc=$?
    after=$(counts)
    local new
    new=$(jq -r '.summary.new' "$WORK/$name.stdout" 2>/dev/null || echo "?")
    if [[ $rc != 1 || $new != 1 ]]; then
        fail "$name: escape-gate exit $rc, summary.new = $new (want exit 1, new = 1): $(head -c 1000 "$WORK/$name.stderr" | tr '\n' ' ')"
    fi
    echo "$(tail -1 "$WORK/time.out") $(delta "$before" "$after")" >>"$WORK/$name.runs"
}

median() { sort -g | awk '{v[NR] = $1} END { if (NR == 0) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v c="$2" '{print $c}' "$WORK/$1.runs"; }
{
    echo "| case | machine | wall median | wall min-max | new server entries | server hits / gets | two / one |"
    echo "|---|---|---|---|---|---|---|"
} >"$WORK/table.md"
for c in $CASES; do
    : >"$WORK/c$c-m1.runs"; : >"$WORK/c$c-m2.runs"
    for i in $(seq "$RUNS"); do
        say "case $c: two machines, run $i/$RUNS (load $(cut -d' ' -f1 /proc/loadavg))"
        rm -rf "$WORK/store-run" "$WORK/machines/one" "$WORK/machines/two"
        cp -a "$WORK/store-std" "$WORK/store-run"
        start_server "$WORK/store-run"
        machine_env one >/dev/null; machine_env two >/dev/null
        git clone -q "$WORK/origin-$c" "$WORK/machines/one/src/compress"
        git clone -q "$WORK/origin-$c" "$WORK/machines/two/builds/elsewhere/klauspost-compress"
        run_eg "c$c-m1" one "$WORK/machines/one/src/compress"
        run_eg "c$c-m2" two "$WORK/machines/two/builds/elsewhere/klauspost-compress"
        stop_server
        m2new=$(tail -1 "$WORK/c$c-m2.runs" | cut -d' ' -f2)
        [[ $m2new == 0 ]] || fail "case $c run $i: machine two added $m2new entries to the server (want 0: it compiled something machine one had)"
    done
    ratio=$(awk -v a="$(col "c$c-m2" 1 | median)" -v b="$(col "c$c-m1" 1 | median)" 'BEGIN {printf "%.2f", a / b}')
    for m in m1 m2; do
        label=$([[ $m == m1 ]] && echo "one (…/one/src/compress)" || echo "two (…/two/builds/elsewhere/klauspost-compress)")
        printf '| %s | %s | %.2f s | %.2f-%.2f | %s | %s / %s | %s |\n' "$c" "$label" "$(col "c$c-$m" 1 | median)" \
            "$(col "c$c-$m" 1 | sort -g | head -1)" "$(col "c$c-$m" 1 | sort -g | tail -1)" \
            "$(col "c$c-$m" 2 | median)" "$(col "c$c-$m" 3 | median)" "$(col "c$c-$m" 4 | median)" \
            "$([[ $m == m2 ]] && echo "**$ratio**" || echo "")" >>"$WORK/table.md"
    done
done

# --- 2. Schemes ----------------------------------------------------------------------
if [[ $SCHEMES == 1 ]]; then
    # A module that imports compress from the module cache.
    DEP=$WORK/dep-origin
    mkdir -p "$DEP"
    cat >"$DEP/go.mod" <<EOF
module example.com/usescompress

go 1.22

require github.com/klauspost/compress $VERSION
EOF
    cp "$WORK/scratch/go.sum" "$DEP/go.sum" 2>/dev/null || true
    cat >"$DEP/use.go" <<'EOF'
package usescompress

import "github.com/klauspost/compress/zstd"

// Encoder is a zstd encoder with the defaults.
func Encoder() (*zstd.Encoder, error) { return zstd.NewWriter(nil) }
EOF
    (cd "$DEP" && GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1)

    # scheme NAME TREE1 TREE2 FLAGS: plain go list -export on machine one then two, fresh
    # server holding only the standard library as these flags build it.
    scheme() {
        local name=$1 t1=$2 t2=$3 flags=$4 before mid after s e1 e2
        rm -rf "$WORK/store-scheme" "$WORK/machines/s1" "$WORK/machines/s2" "$WORK/machines/sw"
        mkdir -p "$WORK/store-scheme"
        start_server "$WORK/store-scheme"
        env $(machine_env sw) GOCACHEPROG="$(cacheprog sw)" GOFLAGS="$flags" go build std
        local m
        for m in s1 s2; do
            machine_env $m >/dev/null
            # Each machine's module cache is its own (GOMODCACHE under its HOME), filled
            # from this machine's without the network.
            mkdir -p "$WORK/machines/$m/home/go/pkg/mod"
        done
        before=$(counts)
        s=$(date +%s.%N)
        (cd "$t1" && env $(machine_env s1) GOCACHEPROG="$(cacheprog s1)" GOFLAGS="-buildvcs=false $flags" GODEBUG=goindex=0 \
            GOPROXY="file://$REAL_GOMODCACHE/cache/download" GOSUMDB=off \
            go list -export -gcflags=-m ./... >/dev/null 2>"$WORK/scheme.err") || { tail "$WORK/scheme.err" >&2; exit 2; }
        e1=$(awk -v s="$s" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e - s}')
        mid=$(counts)
        s=$(date +%s.%N)
        (cd "$t2" && env $(machine_env s2) GOCACHEPROG="$(cacheprog s2)" GOFLAGS="-buildvcs=false $flags" GODEBUG=goindex=0 \
            GOPROXY="file://$REAL_GOMODCACHE/cache/download" GOSUMDB=off \
            go list -export -gcflags=-m ./... >/dev/null 2>"$WORK/scheme.err") || { tail "$WORK/scheme.err" >&2; exit 2; }
        e2=$(awk -v s="$s" -v e="$(date +%s.%N)" 'BEGIN {printf "%.2f", e - s}')
        after=$(counts)
        stop_server
        local d1 d2
        d1=$(delta "$before" "$mid"); d2=$(delta "$mid" "$after")
        printf '| %s | %s s | %s | %s s | %s | %s / %s |\n' "$name" "$e1" "$(cut -d' ' -f1 <<<"$d1")" \
            "$e2" "$(cut -d' ' -f1 <<<"$d2")" "$(cut -d' ' -f2 <<<"$d2")" "$(cut -d' ' -f3 <<<"$d2")" >>"$WORK/schemes.md"
    }
    {
        echo "| scheme | machine one | its new entries | machine two | its new entries | its hits / gets |"
        echo "|---|---|---|---|---|---|"
    } >"$WORK/schemes.md"
    FIXED=$WORK/fixed/work/tree
    mkdir -p "$WORK/trees/a" "$WORK/trees/b/c" "$WORK/fixed/work"
    git clone -q -b main "$ORIGIN" "$WORK/trees/a/compress"
    git clone -q -b main "$ORIGIN" "$WORK/trees/b/c/compress"
    say "scheme dir: no -trimpath, different paths"
    scheme "dir: no -trimpath, different checkout paths (compress)" "$WORK/trees/a/compress" "$WORK/trees/b/c/compress" ""
    say "scheme fixed: no -trimpath, one path"
    git clone -q -b main "$ORIGIN" "$FIXED"
    scheme "fixed: no -trimpath, the same path on both (compress)" "$FIXED" "$FIXED" ""
    rm -rf "$FIXED"; cp -a "$DEP" "$FIXED"
    scheme "fixed: no -trimpath, the same path on both (a module importing compress/zstd)" "$FIXED" "$FIXED" ""
    say "scheme trim: -trimpath, different paths"
    scheme "trim: -trimpath, different checkout paths (compress)" "$WORK/trees/a/compress" "$WORK/trees/b/c/compress" "-trimpath"
    mkdir -p "$WORK/trees/d"; cp -a "$DEP" "$WORK/trees/d/dep"
    scheme "trim: -trimpath, different paths (a module importing compress/zstd)" "$FIXED" "$WORK/trees/d/dep" "-trimpath"

    # The local side: an ordinary GOCACHE (go build std), no GOCACHEPROG.
    say "local cache warmed by go build std: escape-gate's default keys and -trimpath"
    mkdir -p "$WORK/gocache-std"
    GOCACHE=$WORK/gocache-std go build std
    {
        echo "| local GOCACHE warmed by \`go build std\`, no GOCACHEPROG | escape-gate first run (compress, case 1) |"
        echo "|---|---|"
    } >"$WORK/local.md"
    for flags in "" "-trimpath"; do
        rm -rf "$WORK/gocache-run" "$WORK/egcache-run"; cp -a "$WORK/gocache-std" "$WORK/gocache-run"
        rc=0
        (cd "$WORK/trees/a/compress" && GOCACHE=$WORK/gocache-run ESCAPE_GATE_CACHE_DIR=$WORK/egcache-run GOFLAGS=$flags \
            /usr/bin/time -f '%e' -o "$WORK/time.out" "$EG" diff --format json base head >"$WORK/local.stdout" 2>"$WORK/local.stderr") || rc=$?
        [[ $rc == 1 && $(jq -r .summary.new "$WORK/local.stdout") == 1 ]] || fail "local run with GOFLAGS='$flags': exit $rc"
        label=$([[ -z $flags ]] && echo "default keys (the package directory; std from the cache)" || echo "GOFLAGS=-trimpath (std compiled again)")
        printf '| %s | %.2f s |\n' "$label" "$(tail -1 "$WORK/time.out")" >>"$WORK/local.md"
    done
fi

{
    echo "## Machine"
    echo
    cat "$WORK/machine.md"
    echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "## Two machines, one shared cache (escape-gate)"
    echo
    cat "$WORK/table.md"
    if [[ $SCHEMES == 1 ]]; then
        echo
        echo "## Cache-key schemes (plain go list -export -gcflags=-m ./...)"
        echo
        cat "$WORK/schemes.md"
        echo
        cat "$WORK/local.md"
    fi
    echo
    if [[ -s $WORK/fails.md ]]; then echo "### FAILURES"; echo; cat "$WORK/fails.md"; fi
} >"$WORK/report.md"
cat "$WORK/report.md"
if [[ -n $OUT ]]; then cp "$WORK/report.md" "$OUT"; say "report written to $OUT"; fi
[[ $FAILS == 0 ]] || { printf '\n!!!!!!!! %d FAIL(s)\n' "$FAILS" >&2; exit 1; }
