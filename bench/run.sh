#!/usr/bin/env bash
# The benchmark of issue 5: escape-gate against what a user would otherwise do.
#
#   bench/run.sh [PATH/TO/escape-gate]          (default: target/release/escape-gate)
#
# Environment:
#   RUNS=5             runs per case and method (median and min-max are reported)
#   CASES="1 2 3 4"    which cases to run
#   OUT=FILE           also write the Markdown report to FILE
#   SELF_TIME=1        put a `go` wrapper on escape-gate's PATH that logs the time spent in
#                      each go command, to report escape-gate's own time (0: off)
#   COMPRESS_VERSION=v1.18.0
#
# Cases (see BENCHMARKS.md):
#   1  github.com/klauspost/compress, one new escape in the leaf package snappy/xerial
#   2  the same module, one new escape in internal/le, which 16 of its 31 packages
#      import (zstd, s2, flate, huff0, fse, ...)
#   3  a generated module (bench/gen: 210 packages, ~118k lines), one new escape in a
#      leaf package
#   4  parser throughput on ~1M lines of compiler output (examples/parse_throughput.rs)
#
# Methods, cases 1-3, each run starting from its own copy (cp -a) of one GOCACHE that was
# warmed with `go build std` only (what a user's cache holds after ordinary builds):
#   escape-gate   `escape-gate diff --repo REPO --format json base head`; must exit 1 and
#                 report exactly one new escape (summary.new == 1), else a FAIL line
#   eg repeat     the same command again at once, on the cache the first run left
#   plain         two `git worktree add --detach`, `go build -gcflags=-m ./...` in each,
#                 `diff` of the sorted `escapes to heap`/`moved to heap` lines
# The order of escape-gate and plain alternates from run to run.
#
# Needs: bash, git, go, jq, GNU /usr/bin/time, cargo (case 4), network access to the Go
# module proxy (cases 1-2). Everything is done in one temporary directory, removed at exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EG_ARG=${1:-target/release/escape-gate}
if [[ ! -e $EG_ARG && -z ${1:-} ]]; then EG_ARG=$ROOT/target/release/escape-gate; fi
EG=$(realpath "$EG_ARG" 2>/dev/null || true)
RUNS=${RUNS:-5}
CASES=${CASES:-"1 2 3 4"}
OUT=${OUT:-}
SELF_TIME=${SELF_TIME:-1}
VERSION=${COMPRESS_VERSION:-v1.18.0}

needs_eg=0
for c in $CASES; do [[ $c == 4 ]] || needs_eg=1; done
if [[ $needs_eg == 1 && ! -x $EG ]]; then
    echo "no escape-gate binary at $EG_ARG (build it: cargo build --release)" >&2; exit 2
fi
for tool in git go jq; do
    command -v "$tool" >/dev/null || { echo "needs $tool on PATH" >&2; exit 2; }
done
[[ -x /usr/bin/time ]] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/eg-run.XXXXXX")
cleanup() { chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# The same go for everything, no toolchain switching; GOFLAGS from the caller's
# environment would make the two methods differ, so it is cleared.
export GOTOOLCHAIN=local
export GOFLAGS=
REAL_GO=$(command -v go)
GIT=(git -c user.name=bench -c user.email=bench@example.invalid -c commit.gpgsign=false
     -c init.defaultBranch=main)

say() { printf '== %s\n' "$*" >&2; }
FAILS=0
fail() { FAILS=$((FAILS + 1)); printf '\n!!!!!!!! FAIL: %s\n\n' "$*" >&2; echo "- **FAIL**: $*" >>"$WORK/fails.md"; }
: >"$WORK/fails.md"
load1() { cut -d' ' -f1 /proc/loadavg; }

# --- The machine ------------------------------------------------------------------
{
    echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
    echo "- memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available at start"}')"
    echo "- $(go version | sed 's/^go version //;s/^/go /'); $(rustc --version 2>/dev/null || echo 'rustc: not found'); $(git --version)"
    echo "- kernel: $(uname -sr)"
    if [[ -x $EG ]]; then
        echo "- escape-gate: $EG (built $(date -u -r "$EG" '+%Y-%m-%d %H:%M UTC'), sha256 $(sha256sum "$EG" | cut -c1-12)); repository HEAD $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo '?')"
    fi
    echo "- runs per case and method: $RUNS; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$WORK/machine.md"
say "machine"; cat "$WORK/machine.md" >&2

# --- The go wrapper for escape-gate's own time -----------------------------------
# Logs "milliseconds subcommand" per go invocation. escape-gate runs go commands one at a
# time, so its own time is its wall time minus the sum. The wrapper costs a few ms per call.
mkdir -p "$WORK/gowrap"
cat >"$WORK/gowrap/go" <<WRAP
#!/usr/bin/env bash
s=\$(date +%s%N); rc=0
"$REAL_GO" "\$@" || rc=\$?
e=\$(date +%s%N)
echo "\$(( (e - s) / 1000000 )) \${1:-}" >>"\${GO_TIME_LOG:-/dev/null}"
exit \$rc
WRAP
chmod +x "$WORK/gowrap/go"

# --- Timing ------------------------------------------------------------------------
# run_timed NAME CMD...: one run under /usr/bin/time; appends
# "wall_s user_s sys_s maxrss_kb exit load1" to $WORK/NAME.runs. Output in NAME.{stdout,stderr}.
run_timed() {
    local name=$1; shift
    local rc=0 load
    load=$(load1)
    /usr/bin/time -f '%e %U %S %M' -o "$WORK/time.out" "$@" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" || rc=$?
    # GNU time prints "Command exited with non-zero status N" before the numbers.
    echo "$(tail -1 "$WORK/time.out") $rc $load" >>"$WORK/$name.runs"
    return 0
}

median() { sort -g | awk '{v[NR] = $1} END { if (NR == 0) print "nan"; else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
col() { awk -v c="$2" '{print $c}' "$WORK/$1.runs"; }
wall_med() { col "$1" 1 | median; }

# row NAME LABEL PLAIN_NAME: one Markdown row
row() {
    local name=$1 label=$2 plain=$3 f=$WORK/$1.runs med lo hi cpu rss ratio own loads
    [[ -s $f ]] || return 0
    med=$(wall_med "$name")
    lo=$(col "$name" 1 | sort -g | head -1); hi=$(col "$name" 1 | sort -g | tail -1)
    cpu=$(awk '{print $2 + $3}' "$f" | median)
    rss=$(col "$name" 4 | sort -g | tail -1)
    loads=$(col "$name" 6 | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.1f-%.1f", lo, hi}')
    ratio="-"
    if [[ $name != "$plain" && -s $WORK/$plain.runs ]]; then
        ratio=$(awk -v a="$med" -v b="$(wall_med "$plain")" 'BEGIN {printf "%.2f", a / b}')
    fi
    own="-"
    if [[ -s $WORK/$name.own ]]; then own=$(median <"$WORK/$name.own" | awk '{printf "%.2f s", $1}'); fi
    printf '| %s | %s | %.2f s | %.2f-%.2f | %s | %.1f s | %.0f MB | %s | %s |\n' \
        "$CASE_LABEL" "$label" "$med" "$lo" "$hi" "$ratio" "$cpu" "$((rss / 1024))" "$own" "$loads" >>"$WORK/table.md"
}

# --- The standard GOCACHE ------------------------------------------------------------
STDCACHE=$WORK/gocache-std
if [[ $needs_eg == 1 ]]; then
    say "warming a GOCACHE with \`go build std\` (no -trimpath)"
    mkdir -p "$STDCACHE"
    GOCACHE=$STDCACHE run_timed warm-std go build std
    [[ $(tail -1 "$WORK/warm-std.runs" | cut -d' ' -f5) == 0 ]] || { cat "$WORK/warm-std.stderr" >&2; exit 2; }
    echo "- \`go build std\` into an empty GOCACHE (done once): $(cut -d' ' -f1 "$WORK/warm-std.runs") s; cache $(du -sh "$STDCACHE" | cut -f1)" >>"$WORK/machine.md"
fi

# --- The repositories ----------------------------------------------------------------
COMPRESS_DIR=
compress_dir() {
    if [[ -z $COMPRESS_DIR ]]; then
        say "downloading github.com/klauspost/compress@$VERSION"
        mkdir -p "$WORK/scratch"
        (cd "$WORK/scratch" && go mod init scratch >/dev/null 2>&1)
        COMPRESS_DIR=$(cd "$WORK/scratch" && go mod download -json "github.com/klauspost/compress@$VERSION" | jq -r .Dir)
        [[ -d $COMPRESS_DIR ]] || { echo "go mod download gave no directory" >&2; exit 2; }
    fi
}

# new_repo DIR SRC: a git repository with SRC's files as commit "base", tagged base.
new_repo() {
    local repo=$1 src=$2
    cp -a "$src" "$repo"
    chmod -R u+w "$repo"
    "${GIT[@]}" -C "$repo" init -q
    "${GIT[@]}" -C "$repo" add -A
    "${GIT[@]}" -C "$repo" commit -qm base
    "${GIT[@]}" -C "$repo" tag base
}

setup_case1() {   # leaf package snappy/xerial gains one escape
    compress_dir
    new_repo "$1" "$COMPRESS_DIR"
    "${GIT[@]}" -C "$1" apply "$ROOT/bench/patches/xerial-escape.patch"
    "${GIT[@]}" -C "$1" commit -qam "head: snappy/xerial.Encode keeps a pointer to a local"
    "${GIT[@]}" -C "$1" tag head
    CASE_DESC="github.com/klauspost/compress@$VERSION; head adds one escape to the leaf package snappy/xerial (Encode keeps a pointer to a local)"
}

setup_case2() {   # internal/le, imported directly or not by 16 of the 31 packages
    compress_dir
    new_repo "$1" "$COMPRESS_DIR"
    # A new exported function: the package's export data changes, so every package that
    # imports it is compiled again; nothing calls it, so the one escape is in le itself.
    "${GIT[@]}" -C "$1" apply "$ROOT/bench/patches/le-remember.patch"
    "${GIT[@]}" -C "$1" commit -qam "head: internal/le.Remember keeps a pointer to its argument"
    "${GIT[@]}" -C "$1" tag head
    local importers total
    importers=$(cd "$1" && go list -deps -f '{{.ImportPath}} {{join .Deps " "}}' ./... 2>/dev/null |
                grep -c ' github.com/klauspost/compress/internal/le\( \|$\)' || true)
    total=$(cd "$1" && go list ./... 2>/dev/null | wc -l)
    CASE_DESC="github.com/klauspost/compress@$VERSION; head adds one escape (a new exported function) to internal/le, which $importers of the module's $total packages import directly or indirectly"
}

setup_case3() {   # generated module, one leaf package changed
    mkdir -p "$1"
    go run "$ROOT/bench/gen/main.go" -out "$1" 2>"$WORK/gen.log"
    "${GIT[@]}" -C "$1" init -q
    "${GIT[@]}" -C "$1" add -A
    "${GIT[@]}" -C "$1" commit -qm base
    "${GIT[@]}" -C "$1" tag base
    go run "$ROOT/bench/gen/main.go" -out "$1" -head 2>/dev/null
    "${GIT[@]}" -C "$1" commit -qam "head: l09/p00 Item0.Describe keeps a pointer to a local"
    "${GIT[@]}" -C "$1" tag head
    CASE_DESC="generated module ($(sed 's/^gen: //;s/ in .*//' "$WORK/gen.log")); head adds one escape to the leaf package l09/p00 (nothing imports layer 9)"
}

# The plain script a user would otherwise write. Fixed worktree paths.
cat >"$WORK/plain-diff.sh" <<'PLAIN'
#!/usr/bin/env bash
# plain-diff.sh REPO BASE HEAD WT: escape analysis of two revisions, compared by hand.
set -euo pipefail
repo=$1 base=$2 head=$3 wt=$4
rm -rf "$wt"; mkdir -p "$wt"
git -C "$repo" worktree add -q --detach "$wt/base" "$base"
git -C "$repo" worktree add -q --detach "$wt/head" "$head"
(cd "$wt/base" && go build -gcflags=-m ./... 2>"$wt/base.m")
(cd "$wt/head" && go build -gcflags=-m ./... 2>"$wt/head.m")
grep -E 'escapes to heap|moved to heap' "$wt/base.m" | sort >"$wt/base.heap" || true
grep -E 'escapes to heap|moved to heap' "$wt/head.m" | sort >"$wt/head.heap" || true
rc=0
diff "$wt/base.heap" "$wt/head.heap" >"$wt/heap.diff" || rc=$?
git -C "$repo" worktree remove --force "$wt/base"
git -C "$repo" worktree remove --force "$wt/head"
[[ $rc -le 1 ]]      # diff: 0 same, 1 different, 2 trouble
PLAIN
chmod +x "$WORK/plain-diff.sh"

# check_eg NAME CASE RUN: escape-gate must exit 1 with exactly one new escape.
check_eg() {
    local name=$1 rc new
    rc=$(tail -1 "$WORK/$name.runs" | cut -d' ' -f5)
    new=$(jq -r '.summary.new' "$WORK/$name.stdout" 2>/dev/null || echo "?")
    if [[ $rc != 1 || $new != 1 ]]; then
        fail "case $2 run $3 ($name): escape-gate exit $rc, summary.new = $new (want exit 1, new = 1)"
        {
            echo "  - stderr: \`$(head -c 2000 "$WORK/$name.stderr" | tr '\n' ' ')\`"
            jq -r '.new[]? | "  - new: \(.file):\(.line):\(.column) \(.function): \(.message)"' "$WORK/$name.stdout" 2>/dev/null | head -50
        } >>"$WORK/fails.md"
        cp "$WORK/$name.stdout" "$WORK/fail-$name-run$3.json" 2>/dev/null || true
    fi
}

# own_time NAME: escape-gate's wall time less the time in go, from the wrapper's log.
own_time() {
    local name=$1 wall go_ms
    [[ $SELF_TIME == 1 ]] || return 0
    wall=$(tail -1 "$WORK/$name.runs" | cut -d' ' -f1)
    go_ms=$(awk '{s += $1} END {print s + 0}' "$WORK/golog")
    awk -v w="$wall" -v g="$go_ms" 'BEGIN {printf "%.3f\n", w - g / 1000}' >>"$WORK/$name.own"
    # Per go subcommand, for "where the time goes".
    # escape-gate runs: go env, then go list and go build for the base, then for the head.
    awk -v n="$name" '{k = $2; if (k == "list" || k == "build") k = k (++c[k] == 1 ? "(base)" : "(head)"); t[k] += $1}
        END {for (k in t) printf "%s %s %d 1\n", n, k, t[k]}' "$WORK/golog" >>"$WORK/gosplit"
}

run_eg() {   # run_eg NAME CACHE CASE RUN
    local name=$1 cache=$2
    : >"$WORK/golog"
    # escape-gate's findings cache is part of the starting state, like GOCACHE: empty
    # for the first command of a run, kept for its repeat.
    if [[ $SELF_TIME == 1 ]]; then
        ESCAPE_GATE_CACHE_DIR=$WORK/egcache-run GOCACHE=$cache GO_TIME_LOG=$WORK/golog PATH="$WORK/gowrap:$PATH" \
            run_timed "$name" "$EG" diff --repo "$REPO" --format json base head
    else
        ESCAPE_GATE_CACHE_DIR=$WORK/egcache-run GOCACHE=$cache run_timed "$name" "$EG" diff --repo "$REPO" --format json base head
    fi
    check_eg "$name" "$3" "$4"
    own_time "$name"
}

# --- Cases 1-3 ------------------------------------------------------------------------
{
    echo "| case | method | wall median | wall min-max | ratio to plain | CPU median (user+sys) | max RSS | escape-gate own time (median) | load avg (1 min) |"
    echo "|---|---|---|---|---|---|---|---|---|"
} >"$WORK/table.md"
: >"$WORK/details.md"
: >"$WORK/gosplit"

for CASE in $CASES; do
    [[ $CASE == 4 ]] && continue
    case $CASE in 1|2|3) ;; *) echo "unknown case $CASE" >&2; exit 2 ;; esac
    REPO=$WORK/case$CASE
    say "case $CASE: setting up"
    "setup_case$CASE" "$REPO"
    CASE_LABEL="$CASE"
    before=$(uptime | sed 's/^ *//')
    for i in $(seq "$RUNS"); do
        order=(eg plain); (( i % 2 == 0 )) && order=(plain eg)
        for m in "${order[@]}"; do
            rm -rf "$WORK/gocache-run" "$WORK/egcache-run"; cp -a "$STDCACHE" "$WORK/gocache-run"
            if [[ $m == eg ]]; then
                say "case $CASE run $i/$RUNS: escape-gate, then the repeat (load $(load1))"
                run_eg "c$CASE-eg" "$WORK/gocache-run" "$CASE" "$i"
                run_eg "c$CASE-repeat" "$WORK/gocache-run" "$CASE" "$i"
            else
                say "case $CASE run $i/$RUNS: plain script (load $(load1))"
                GOCACHE=$WORK/gocache-run run_timed "c$CASE-plain" "$WORK/plain-diff.sh" "$REPO" base head "$WORK/wt"
                rc=$(tail -1 "$WORK/c$CASE-plain.runs" | cut -d' ' -f5)
                [[ $rc == 0 ]] || fail "case $CASE run $i: plain script exit $rc: $(tail -5 "$WORK/c$CASE-plain.stderr" | tr '\n' ' ')"
            fi
        done
    done
    rm -rf "$WORK/gocache-run"
    after=$(uptime | sed 's/^ *//')
    row "c$CASE-eg" "escape-gate (std cache without -trimpath)" "c$CASE-plain"
    row "c$CASE-repeat" "escape-gate warm repeat" "c$CASE-plain"
    row "c$CASE-plain" "plain two-worktree script" "c$CASE-plain"
    {
        echo "### Case $CASE"
        echo
        echo "$CASE_DESC."
        echo
        echo "- uptime before: \`$before\`"
        echo "- uptime after:  \`$after\`"
        if [[ -s $WORK/c$CASE-eg.stdout ]]; then
            echo "- escape-gate (first command of the last run): exit $(tail -1 "$WORK/c$CASE-eg.runs" | cut -d' ' -f5), $(jq -r '"new \(.summary.new), unchanged \(.summary.unchanged), moved \(.summary.moved), fixed \(.summary.fixed), packages \(.summary.packages)"' "$WORK/c$CASE-eg.stdout" 2>/dev/null)"
            jq -r '.new[]? | "  - new: `\(.file):\(.line):\(.column)` in `\(.function)`: \(.message)"' "$WORK/c$CASE-eg.stdout" 2>/dev/null || true
            jq -r '.warnings[]? | "  - warning: \(.)"' "$WORK/c$CASE-eg.stdout" 2>/dev/null | head -5 || true
        fi
        if [[ -s $WORK/wt/heap.diff ]]; then
            echo "- plain script (last run): heap lines base $(wc -l <"$WORK/wt/base.heap"), head $(wc -l <"$WORK/wt/head.heap"); the diff has $(grep -c '^>' "$WORK/wt/heap.diff" || true) added and $(grep -c '^<' "$WORK/wt/heap.diff" || true) removed lines (line shifts show as both)"
        fi
        if [[ $SELF_TIME == 1 && -s $WORK/gosplit ]]; then
            echo "- time in go commands, per run (from the wrapper):"
            for n in "c$CASE-eg" "c$CASE-repeat"; do
                runs=$(wc -l <"$WORK/$n.runs")
                printf '  - %s (mean of %d runs): %s\n' "$n" "$runs" "$(awk -v n="$n" -v runs="$runs" '$1 == n {t[$2] += $3; c[$2] += $4}
                    END {n = split("env list(base) build(base) list(head) build(head)", ks, " ")
                         for (i = 1; i <= n; i++) if (ks[i] in t) printf "go %s %.2f s; ", ks[i], t[ks[i]] / runs / 1000}' "$WORK/gosplit" | sed 's/; $//')"
            done
        fi
        echo
    } >>"$WORK/details.md"
    rm -rf "$WORK/wt"
    "${GIT[@]}" -C "$REPO" worktree prune || true
done

# --- Case 4 ---------------------------------------------------------------------------
for CASE in $CASES; do
    [[ $CASE == 4 ]] || continue
    say "case 4: parser throughput (cargo run --release --example parse_throughput)"
    before=$(uptime | sed 's/^ *//')
    rc=0
    (cd "$ROOT" && cargo run --quiet --release --example parse_throughput -- --runs "$RUNS") \
        >"$WORK/c4.stdout" 2>"$WORK/c4.stderr" || rc=$?
    after=$(uptime | sed 's/^ *//')
    if [[ $rc != 0 ]]; then
        fail "case 4: parse_throughput failed (exit $rc): $(tail -5 "$WORK/c4.stderr" | tr '\n' ' ')"
        continue
    fi
    {
        echo
        echo "| case 4: input | lines | size | parse median | min-max | lines/s | heap findings | unrecognised | peak heap while parsing |"
        echo "|---|---|---|---|---|---|---|---|---|"
        awk -F'\t' '$1 == "RESULT" {
            printf "| %s | %d | %.1f MB | %.3f s | %.3f-%.3f | %.2f M | %d | %d | %.1f MB |\n",
                $2, $3, $4 / 1e6, $6, $7, $8, $9 / 1e6, $10, $12, $13 / 1e6 }' "$WORK/c4.stdout"
    } >>"$WORK/table4.md"
    awk -F'\t' '$1 == "RESULT" && $12 != 0 {exit 1}' "$WORK/c4.stdout" ||
        fail "case 4: the parser left lines of real compiler output unrecognised"
    {
        echo "### Case 4"
        echo
        echo "\`cargo run --release --example parse_throughput -- --runs $RUNS\`: real compiler output (tests/fixtures/go-output/m1-trimpath-local.txt, \`-m\`, and m2-trimpath-local.txt, \`-m=2\`) repeated to about 1M lines each."
        echo
        echo "- uptime before: \`$before\`"
        echo "- uptime after:  \`$after\`"
        echo
        echo '```'
        grep -v '^RESULT' "$WORK/c4.stdout"
        echo '```'
        echo
    } >>"$WORK/details.md"
done

# --- Report ---------------------------------------------------------------------------
{
    echo "## Machine"
    echo
    cat "$WORK/machine.md"
    echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    echo "## Results"
    echo
    if [[ $(wc -l <"$WORK/table.md") -gt 2 ]]; then cat "$WORK/table.md"; fi
    [[ -s $WORK/table4.md ]] && cat "$WORK/table4.md"
    echo
    if [[ -s $WORK/fails.md ]]; then echo "### FAILURES"; echo; cat "$WORK/fails.md"; echo; fi
    cat "$WORK/details.md"
} >"$WORK/report.md"
cat "$WORK/report.md"
if [[ -n $OUT ]]; then cp "$WORK/report.md" "$OUT"; say "report written to $OUT"; fi
if [[ $FAILS -gt 0 ]]; then
    printf '\n!!!!!!!! %d FAIL(s): see above\n' "$FAILS" >&2
    exit 1
fi
