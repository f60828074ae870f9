#!/usr/bin/env bash
# Weighing a real release pair by a real profile (issue 23): github.com/klauspost/compress,
# its own benchmarks run with -cpuprofile on the base version, then
# `escape-gate diff --profile ...` on BASE → HEAD, with the new escapes ordered by
# their function's share of the samples.
#
#   bench/profile.sh
#
# Environment:
#   EG=PATH         escape-gate binary (default: target/release/escape-gate)
#   BASE, HEAD      the versions (default v1.20.2, v1.20.3: 31 new escapes, ACCURACY.md)
#   BENCHTIME=D     go test -benchtime per package (default 100ms)
#   WORK=DIR        work in DIR and keep it (default: a temporary directory, removed)
#
# Steps:
#   1. `go mod download` both versions; a git repository with one commit per version.
#   2. `escape-gate diff --format json BASE HEAD`: the packages with new escapes.
#   3. In a checkout of BASE: `go test -run '^$' -bench . -benchtime $BENCHTIME
#      -cpuprofile P ./PKG` for each of them (the package's own benchmarks).
#   4. `escape-gate diff --format json --profile P1 --profile P2 ... BASE HEAD`, three
#      runs each with and without the profiles (warm build and findings caches), and
#      the new escapes with their shares, in report order.
#
# Needs: bash, git, go, jq, network access to the Go module proxy.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EG=${EG:-$ROOT/target/release/escape-gate}
BASE=${BASE:-v1.20.2}
HEAD=${HEAD:-v1.20.3}
BENCHTIME=${BENCHTIME:-100ms}
MOD=github.com/klauspost/compress
[[ -x $EG ]] || { echo "no escape-gate binary at $EG (cargo build --release --locked)" >&2; exit 2; }

if [[ -n ${WORK:-} ]]; then
    mkdir -p "$WORK"; WORK=$(realpath "$WORK")
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/eg-profile.XXXXXX")
    trap 'chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"' EXIT
fi
export GOTOOLCHAIN=local GOFLAGS=
export ESCAPE_GATE_CACHE_DIR=$WORK/egcache
GIT=(git -c user.name=bench -c user.email=bench@example.invalid -c commit.gpgsign=false
     -c init.defaultBranch=main -c core.autocrlf=false)
say() { printf '== %s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v s="$1" -v e="$(now)" 'BEGIN {printf "%.2f", e - s}'; }

echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), nproc $(nproc)"
echo "- $(go version | sed 's/^go version //;s/^/go /'); escape-gate $("$EG" --version)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. The repository.
mkdir -p "$WORK/scratch" "$WORK/repo" "$WORK/prof"
(cd "$WORK/scratch" && [[ -f go.mod ]] || go mod init scratch >/dev/null 2>&1)
if [[ ! -d $WORK/repo/.git ]]; then
    "${GIT[@]}" -C "$WORK/repo" init -q
    for v in "$BASE" "$HEAD"; do
        dir=$(cd "$WORK/scratch" && go mod download -json "$MOD@$v" | jq -r .Dir)
        find "$WORK/repo" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
        cp -R "$dir/." "$WORK/repo/"
        chmod -R u+w "$WORK/repo"
        "${GIT[@]}" -C "$WORK/repo" read-tree --empty
        "${GIT[@]}" -C "$WORK/repo" add -A -f
        "${GIT[@]}" -C "$WORK/repo" commit -q -m "$MOD $v"
        "${GIT[@]}" -C "$WORK/repo" tag "$v"
    done
fi

# 2. The packages with new escapes.
say "escape-gate diff $BASE $HEAD (no profile)"
"$EG" diff --repo "$WORK/repo" --format json "$BASE" "$HEAD" >"$WORK/plain.json" || true
mapfile -t PKGS < <(jq -r '.new[].package' "$WORK/plain.json" | sort -u)
echo "- new escapes: $(jq '.new | length' "$WORK/plain.json") in ${#PKGS[@]} packages: ${PKGS[*]}"

# 3. The benchmarks of those packages, on the base.
rm -rf "$WORK/base"; mkdir -p "$WORK/base"
"${GIT[@]}" -C "$WORK/repo" archive "$BASE" | tar -x -C "$WORK/base"
PROFILES=()
for pkg in "${PKGS[@]}"; do
    rel=${pkg#"$MOD"}; rel=.${rel:-}
    out=$WORK/prof/$(echo "${rel#./}" | tr '/' '_' | sed 's/^$/root/').pprof
    say "go test -bench . -benchtime $BENCHTIME $rel"
    if [[ ! -d $WORK/base/${rel#./} ]]; then
        echo "- $rel is new in $HEAD: the base has no benchmarks of it"
        continue
    fi
    s=$(now); rc=0
    rm -f "$out"
    (cd "$WORK/base" && go test -run '^$' -bench . -benchtime "$BENCHTIME" -timeout 10m \
        -cpuprofile "$out" "$rel" >"$out.log" 2>&1) || rc=$?
    # A benchmark that fails (the module's zip leaves out some testdata) still leaves
    # the profile of the others.
    if [[ -s $out ]]; then
        failed=$(grep -c -- '^--- FAIL' "$out.log" || true)
        echo "- benchmarks of $rel: $(since "$s") s (exit $rc, $failed failed), profile $(stat -c %s "$out") bytes"
        PROFILES+=(--profile "$out")
    else
        echo "- benchmarks of $rel wrote no profile (exit $rc, see $out.log); left out"
    fi
done
[[ ${#PROFILES[@]} -gt 0 ]] || { echo "no profile recorded" >&2; exit 2; }

# 4. The weighed comparison, and its cost.
for i in 1 2 3; do
    s=$(now); "$EG" diff --repo "$WORK/repo" --format json "$BASE" "$HEAD" >/dev/null || true
    t_plain=$(since "$s")
    s=$(now); "$EG" diff --repo "$WORK/repo" --format json "${PROFILES[@]}" "$BASE" "$HEAD" >"$WORK/weighed.json" || true
    t_prof=$(since "$s")
    echo "- run $i: without profiles ${t_plain} s, with ${t_prof} s"
done
echo
echo "profiles: $(jq -r '[.summary.profile.files[] | "\(.file | split("/") | last) (\(.samples) samples)"] | join(", ")' "$WORK/weighed.json"), $(jq -r .summary.profile.sample_type "$WORK/weighed.json")"
echo
echo "| # | package | function | message | cum | flat |"
echo "|---|---|---|---|---|---|"
jq -r '.new | to_entries[] | "| \(.key + 1) | \(.value.package | sub("github.com/klauspost/compress/"; "")) | `\(.value.function)` | `\(.value.message)` | \(.value.profile.cum_percent)% | \(.value.profile.flat_percent)% |"' "$WORK/weighed.json"
