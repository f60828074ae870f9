#!/usr/bin/env bash
# A pull request with N new escapes in one file, against one `go build -gcflags=-m` of it.
#
#   bench/large-pr.sh [PATH/TO/escape-gate]       (default: target/release/escape-gate)
#
# Environment:
#   N=20000     functions in the head's file (the base has one in a hundred of them)
#   RUNS=3      runs per method (median and min-max are reported)
#
# The repository: one package `p` with one file of one-line functions
# `func fN(v int) { x := v; sink = &x }`, each giving one `moved to heap: x`. The base has
# f0, f100, f200, ...; the head has all N, so the change adds N - N/100 escapes.
#
# Methods, each run with its own empty GOCACHE (the package imports nothing, so nothing
# else is compiled):
#   go build -m    `go build -gcflags=-m ./...` in a checkout of the head
#   escape-gate    `escape-gate diff --format json base head` (builds both sides);
#                  must exit 1 with summary.new == N - N/100, else a FAIL line
#
# Needs: bash, git, go, jq, GNU /usr/bin/time.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EG=$(realpath "${1:-$ROOT/target/release/escape-gate}")
N=${N:-20000}
RUNS=${RUNS:-3}
[[ -x $EG ]] || { echo "no escape-gate binary at $EG (build it: cargo build --release)" >&2; exit 2; }
for tool in git go jq; do
    command -v "$tool" >/dev/null || { echo "needs $tool on PATH" >&2; exit 2; }
done
[[ -x /usr/bin/time ]] || { echo "needs GNU time at /usr/bin/time" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/eg-large.XXXXXX")
trap 'chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
export GOTOOLCHAIN=local GOFLAGS= ESCAPE_GATE_CACHE=off
GIT=(git -c user.name=bench -c user.email=bench@example.invalid -c commit.gpgsign=false
     -c init.defaultBranch=main)

REPO=$WORK/repo
mkdir -p "$REPO/p"
cd "$REPO"
printf 'module example.com/large\n\ngo 1.22\n' >go.mod
write() { # write STEP: every STEP-th function
    {
        printf 'package p\n\nvar sink *int\n\n'
        awk -v n="$N" -v s="$1" 'BEGIN { for (i = 0; i < n; i += s) printf "func f%d(v int) { x := v; sink = &x }\n", i }'
    } >p/p.go
}
write 100
"${GIT[@]}" init -q . && "${GIT[@]}" add -A && "${GIT[@]}" commit -qm base && "${GIT[@]}" tag base
write 1
"${GIT[@]}" add -A && "${GIT[@]}" commit -qm head && "${GIT[@]}" tag head
WANT=$((N - (N + 99) / 100))
echo "== p/p.go: $(wc -c <p/p.go) bytes, $N functions in the head, $WANT new escapes" >&2

HEADTREE=$WORK/headtree
"${GIT[@]}" worktree add -q --detach "$HEADTREE" head

median() { sort -g | awk '{v[NR] = $1} END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fails=0
: >"$WORK/go.runs"; : >"$WORK/eg.runs"
for run in $(seq "$RUNS"); do
    rm -rf "$WORK/gocache"; mkdir "$WORK/gocache"
    (cd "$HEADTREE" && GOCACHE=$WORK/gocache /usr/bin/time -f '%e' -o "$WORK/t" \
        go build -gcflags=-m ./... 2>"$WORK/go.stderr")
    cat "$WORK/t" >>"$WORK/go.runs"
    rm -rf "$WORK/gocache"; mkdir "$WORK/gocache"
    rc=0
    GOCACHE=$WORK/gocache /usr/bin/time -f '%e' -o "$WORK/t" \
        "$EG" diff --repo "$REPO" --format json base head >"$WORK/eg.json" 2>"$WORK/eg.stderr" || rc=$?
    tail -1 "$WORK/t" >>"$WORK/eg.runs"
    got=$(jq '.summary.new' "$WORK/eg.json" 2>/dev/null || echo '?')
    if [[ $rc != 1 || $got != "$WANT" ]]; then
        echo "FAIL: run $run: escape-gate exited $rc with summary.new $got, want 1 and $WANT" >&2
        sed -n 1,20p "$WORK/eg.stderr" >&2
        fails=$((fails + 1))
    fi
    echo "run $run: go build -m $(tail -1 "$WORK/go.runs") s, escape-gate $(tail -1 "$WORK/eg.runs") s" >&2
done

go_med=$(median <"$WORK/go.runs"); eg_med=$(median <"$WORK/eg.runs")
range() { sort -g "$1" | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%s-%s", lo, hi}'; }
echo
echo "- machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc); $(go version | sed 's/^go version //'); load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- N=$N, p/p.go $(wc -c <"$REPO/p/p.go") bytes, $WANT new escapes, RUNS=$RUNS"
echo
echo "| method | median | min-max | ratio |"
echo "|---|---|---|---|"
echo "| \`go build -gcflags=-m ./...\` of the head | ${go_med} s | $(range "$WORK/go.runs") s | 1 |"
echo "| \`escape-gate diff base head\` | ${eg_med} s | $(range "$WORK/eg.runs") s | $(awk -v a="$eg_med" -v b="$go_med" 'BEGIN {printf "%.2f", a / b}') |"
[[ $fails == 0 ]] || { echo "FAIL: $fails run(s) gave a wrong answer" >&2; exit 1; }
