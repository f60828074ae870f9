#!/usr/bin/env bash
# What preprocessing a main package's default.pgo costs: one small module (the PGO
# program of tests/profile.rs, `hotLoop` inlined into `main` only under PGO), its
# default.pgo recorded by running it for a second; the head adds one escape in `big`.
#
#   bench/pgo.sh BEFORE AFTER      (escape-gate binaries: without and with preprocessing)
#
# Environment:
#   RUNS=5        runs of each case
#
# Each run, in alternating order for each binary: `escape-gate diff --format json base
# head` with the findings cache off, first on an empty GOCACHE (cold), then again at
# once (warm). Printed: wall time, exit code, and the functions of the new escapes
# (`main` is there only when the build used the profile). Then the go command alone:
# `go build -pgo=default.pgo unsafe` (what escape-gate runs per profile) on an empty
# cache and again.
set -euo pipefail
BEFORE=$(realpath "$1"); AFTER=$(realpath "$2")
RUNS=${RUNS:-5}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/eg-pgo.XXXXXX")
trap 'chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
export GOTOOLCHAIN=local GOFLAGS= ESCAPE_GATE_CACHE=off

# The program, as tests/profile.rs has it.
python3 - "$ROOT/tests/profile.rs" "$WORK" <<'PY'
import sys
src = open(sys.argv[1]).read()
start = src.index('const PGO_BASE: &str = r#"') + len('const PGO_BASE: &str = r#"')
body = src[start:src.index('"#;', start)]
open(sys.argv[2] + '/base.go', 'w').write(body)
open(sys.argv[2] + '/head.go', 'w').write(body.replace("\treturn z\n", "\tkeep = &z\n\treturn z\n"))
PY
mkdir -p "$WORK/rec" "$WORK/repo"
printf 'module example.com/m\n\ngo 1.26\n' > "$WORK/rec/go.mod"
cp "$WORK/base.go" "$WORK/rec/main.go"
(cd "$WORK/rec" && go run . "$WORK/default.pgo" >/dev/null)
cd "$WORK/repo"
git init -q && git config user.email b@example.com && git config user.name bench
cp "$WORK/rec/go.mod" "$WORK/base.go" . && mv base.go main.go && cp "$WORK/default.pgo" .
git add -A && git commit -qm base && cp "$WORK/head.go" main.go && git commit -qam head

run() { # BINARY GOCACHE
    local t0 t1 code=0 out
    t0=$(date +%s.%N)
    out=$(GOCACHE=$2 "$1" diff --format json HEAD~1 HEAD) || code=$?
    t1=$(date +%s.%N)
    printf '%.2f s  exit %s  new in: %s\n' "$(echo "$t1 - $t0" | bc)" "$code" \
        "$(echo "$out" | jq -r '[.new[].function] | join(",")')"
}
for i in $(seq "$RUNS"); do
    for pair in "before $BEFORE" "after $AFTER"; do
        set -- $pair
        rm -rf "$WORK/gc"; mkdir "$WORK/gc"
        echo "run $i $1 cold: $(run "$2" "$WORK/gc")"
        echo "run $i $1 warm: $(run "$2" "$WORK/gc")"
    done
done
for i in $(seq "$RUNS"); do
    rm -rf "$WORK/gc"; mkdir "$WORK/gc"
    for state in cold warm; do
        t0=$(date +%s.%N)
        GOCACHE=$WORK/gc go build -pgo="$WORK/default.pgo" unsafe
        t1=$(date +%s.%N)
        printf 'go build -pgo unsafe, %s: %.2f s\n' "$state" "$(echo "$t1 - $t0" | bc)"
    done
done
