#!/usr/bin/env bash
# The cost of analysing several platforms (issue 21): one vs two vs four platforms on
# github.com/klauspost/compress, cold and warm Go build cache.
#
#   bench/platforms.sh [PATH/TO/escape-gate]     (default: target/release/escape-gate)
#
# Environment:
#   RUNS=3                 warm runs per platform count (median and min-max reported)
#   COMPRESS_VERSION=v1.18.0
#   SCOPES="all selected"  which package sets to run (see below)
#   COLD=1                 0: skip the cold runs; the warm runs then use the user's own
#                          GOCACHE, after one untimed run that fills what it lacks
#   OUT=FILE               also write the Markdown table to FILE
#
# The change is bench/run.sh's case 1, bench/patches/xerial-escape.patch
# (snappy/xerial.Encode keeps a pointer to a local). Each platform count is run with
# --all-packages (every package of the module, both sides: the whole cost) and with the
# default selection (what the change can affect). Platforms: 1 = linux/amd64;
# 2 = + linux/arm64; 4 = + darwin/arm64, windows/amd64.
#   cold: an empty GOCACHE of its own (the standard library is compiled for each
#         platform, as a CI machine's first run does), one run.
#   warm: the same GOCACHE again, RUNS runs.
# The findings cache is off (ESCAPE_GATE_CACHE=off) in every run, so each run builds.
# Every run must exit 1 with exactly one new escape, on every analysed platform.
#
# Needs: bash, git, go, jq, GNU /usr/bin/time, the Go module proxy (or a module cache
# holding compress). Everything is done in one temporary directory, removed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EG_ARG=${1:-$ROOT/target/release/escape-gate}
EG=$(realpath "$EG_ARG" 2>/dev/null || true)
RUNS=${RUNS:-3}
OUT=${OUT:-}
VERSION=${COMPRESS_VERSION:-v1.18.0}
SCOPES=${SCOPES:-"all selected"}
COLD=${COLD:-1}

[[ -x $EG ]] || { echo "no escape-gate binary at $EG_ARG (build it: cargo build --release)" >&2; exit 2; }
for tool in git go jq; do
    command -v "$tool" >/dev/null || { echo "needs $tool on PATH" >&2; exit 2; }
done
[[ -x /usr/bin/time ]] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/eg-platforms.XXXXXX")
cleanup() { chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
export GOTOOLCHAIN=local GOFLAGS= ESCAPE_GATE_CACHE=off
unset GOCACHEPROG
GIT=(git -c user.name=bench -c user.email=bench@example.invalid -c commit.gpgsign=false
     -c init.defaultBranch=main)
say() { printf '== %s\n' "$*" >&2; }

say "downloading github.com/klauspost/compress@$VERSION"
mkdir -p "$WORK/scratch"
(cd "$WORK/scratch" && go mod init scratch >/dev/null 2>&1)
SRC=$(cd "$WORK/scratch" && go mod download -json "github.com/klauspost/compress@$VERSION" | jq -r .Dir)
REPO=$WORK/compress
cp -a "$SRC" "$REPO"; chmod -R u+w "$REPO"
"${GIT[@]}" -C "$REPO" init -q; "${GIT[@]}" -C "$REPO" add -A; "${GIT[@]}" -C "$REPO" commit -qm base
"${GIT[@]}" -C "$REPO" apply "$ROOT/bench/patches/xerial-escape.patch"
"${GIT[@]}" -C "$REPO" commit -qam head

{
    echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
    echo "- $(go version | sed 's/^go version //;s/^/go /'); kernel $(uname -sr)"
    echo "- escape-gate: sha256 $(sha256sum "$EG" | cut -c1-12), repository HEAD $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$WORK/machine.md"
cat "$WORK/machine.md" >&2

PLATFORMS_1=linux/amd64
PLATFORMS_2=linux/amd64,linux/arm64
PLATFORMS_4=linux/amd64,linux/arm64,darwin/arm64,windows/amd64

# run SCOPE N GOCACHE: one timed run; prints "wall load"; checks the verdict.
run() {
    local scope=$1 n=$2 cache=$3 list var rc=0 load
    var=PLATFORMS_$n; list=${!var}
    local args=(diff --format json --platforms "$list")
    [[ $scope == all ]] && args+=(--all-packages)
    load=$(cut -d' ' -f1 /proc/loadavg)
    (cd "$REPO" && GOCACHE=$cache /usr/bin/time -f '%e %U %S' -o "$WORK/time.out" \
        "$EG" "${args[@]}" HEAD~1 HEAD >"$WORK/out.json" 2>"$WORK/err.txt") || rc=$?
    if [[ $rc != 1 ]] || [[ $(jq '.new | length' "$WORK/out.json") != 1 ]] ||
       [[ $(jq '.new[0].platforms | length' "$WORK/out.json") != "$n" ]]; then
        echo "unexpected verdict (exit $rc) for $scope, $n platform(s):" >&2
        cat "$WORK/err.txt" >&2; head -c 2000 "$WORK/out.json" >&2; exit 2
    fi
    # wall, CPU (user + system, the go commands and compilers included), load.
    echo "$(tail -1 "$WORK/time.out" | awk '{printf "%s %.2f", $1, $2 + $3}') $load"
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

{
    echo "| packages | platforms | cold wall (empty GOCACHE) | cold CPU | warm wall median | warm wall min-max | warm CPU median | warm CPU / one platform's |"
    echo "|---|---|---|---|---|---|---|---|"
} >"$WORK/table.md"
for scope in $SCOPES; do
    one_warm=
    for n in 1 2 4; do
        if [[ $COLD == 1 ]]; then
            cache=$WORK/gocache-$scope-$n
            mkdir -p "$cache"
            say "$scope, $n platform(s): cold"
            read -r cold_wall cold_cpu _ < <(run "$scope" "$n" "$cache")
            cold_wall="$cold_wall s"; cold_cpu="$cold_cpu s"
        else
            cache=$(go env GOCACHE)
            say "$scope, $n platform(s): filling the user's GOCACHE (untimed)"
            run "$scope" "$n" "$cache" >/dev/null
            cold_wall="-"; cold_cpu="-"
        fi
        : >"$WORK/warm"
        for _ in $(seq "$RUNS"); do
            say "$scope, $n platform(s): warm"
            run "$scope" "$n" "$cache" >>"$WORK/warm"
        done
        med=$(cut -d' ' -f1 "$WORK/warm" | median)
        cpu=$(cut -d' ' -f2 "$WORK/warm" | median)
        lo=$(cut -d' ' -f1 "$WORK/warm" | sort -g | head -1); hi=$(cut -d' ' -f1 "$WORK/warm" | sort -g | tail -1)
        [[ -n $one_warm ]] || one_warm=$cpu
        ratio=$(awk -v a="$cpu" -v b="$one_warm" 'BEGIN {printf "%.2f", a / b}')
        label=$([[ $scope == all ]] && echo "every package (--all-packages)" || echo "selected (default)")
        echo "| $label | $n | $cold_wall | $cold_cpu | $med s | $lo-$hi | $cpu s | $ratio |" >>"$WORK/table.md"
        [[ $COLD == 0 ]] || rm -rf "$cache"
    done
done
echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/machine.md"
cat "$WORK/machine.md" "$WORK/table.md"
[[ -z $OUT ]] || cat "$WORK/machine.md" "$WORK/table.md" >"$OUT"
