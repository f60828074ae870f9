#!/usr/bin/env bash
# Measures escape-gate on a real module against doing the same by hand.
#
#   bench/real-module.sh [PATH/TO/escape-gate]      (default: target/release/escape-gate)
#
# What it does, all inside one temporary directory that is removed at the end:
#   1. Downloads github.com/klauspost/compress (COMPRESS_VERSION, default v1.18.0)
#      through the Go module proxy, copies it out of the module cache and makes it a
#      git repository with one commit ("base").
#   2. Commits a "head" that gives the leaf package snappy/xerial exactly one new heap
#      escape (`n := len(src); lastSrcLen = &n` in Encode, with a package-level
#      `lastSrcLen *int`). It also shifts every existing escape in that file down by
#      2-4 lines, so a matcher that keys on line numbers would report false escapes.
#   3. Times two ways of comparing base and head:
#        escape-gate  `escape-gate diff base head`
#        plain        two `git worktree add --detach` checkouts, `go build -gcflags=-m ./...`
#                     in each, and `diff` of the sorted "heap" lines
#      cold: a new, empty GOCACHE before every run (COLD_RUNS runs each, default 3);
#            this includes compiling the standard library (with -trimpath for
#            escape-gate, without for the plain script)
#      warm: one shared GOCACHE that has served one run of each already
#            (WARM_RUNS runs each, default 3)
#   4. Times the two go commands escape-gate runs per side (`go list`, then
#      `go build -trimpath -buildvcs=false -gcflags=-m <pkgs>`) on their own, with a
#      new cache and with the warm one,
#      to show where escape-gate's time goes.
#   5. Prints escape-gate's report on the change and a table of wall times (median,
#      min-max) and max RSS (largest single process, from /usr/bin/time).
#
# Needs: bash, git, go, GNU /usr/bin/time, network access to the Go module proxy.
set -euo pipefail

EG=$(realpath "${1:-target/release/escape-gate}")
VERSION=${COMPRESS_VERSION:-v1.18.0}
COLD_RUNS=${COLD_RUNS:-3}
WARM_RUNS=${WARM_RUNS:-3}

[[ -x $EG ]] || { echo "no escape-gate binary at $EG (build it: cargo build --release)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/eg-bench.XXXXXX")
cleanup() { chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

# The same go for everything, no toolchain switching; GOFLAGS from the caller's
# environment would make the two methods differ, so it is cleared.
export GOTOOLCHAIN=local
export GOFLAGS=
GIT=(git -c user.name=bench -c user.email=bench@example.invalid -c commit.gpgsign=false)

say() { printf '== %s\n' "$*" >&2; }

# --- The machine ---------------------------------------------------------------------
say "machine"
{
    echo "cpu:    $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) cpus usable)"
    echo "memory: $(free -h | awk '/^Mem:/ {print $2 " total, " $7 " available"}')"
    echo "go:     $(go version)"
    echo "git:    $(git --version)"
    echo "module: github.com/klauspost/compress@$VERSION"
} | tee "$WORK/machine.txt" >&2

# --- 1. The module as a git repository ------------------------------------------------
say "downloading github.com/klauspost/compress@$VERSION"
mkdir -p "$WORK/scratch"
(cd "$WORK/scratch" && go mod init scratch >/dev/null 2>&1)
DIR=$(cd "$WORK/scratch" && go mod download -json "github.com/klauspost/compress@$VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
[[ -d $DIR ]] || { echo "go mod download gave no directory" >&2; exit 2; }
REPO=$WORK/repo
cp -r "$DIR" "$REPO"
chmod -R u+w "$REPO"
cd "$REPO"
"${GIT[@]}" init -q
"${GIT[@]}" add -A
"${GIT[@]}" commit -qm "base: klauspost/compress $VERSION"
"${GIT[@]}" tag base

# --- 2. The head: one new heap escape in snappy/xerial ------------------------------
"${GIT[@]}" apply - <<'PATCH'
diff --git a/snappy/xerial/xerial.go b/snappy/xerial/xerial.go
--- a/snappy/xerial/xerial.go
+++ b/snappy/xerial/xerial.go
@@ -17,6 +17,8 @@ var (
 	// ErrMalformed is returned by the decoder when the xerial framing
 	// is malformed
 	ErrMalformed = errors.New("malformed xerial framing")
+
+	lastSrcLen *int
 )
 
 // Encode *appends* to the specified 'dst' the compressed
@@ -24,6 +26,8 @@ var (
 // capacity, then a new slice will be allocated. If 'dst' has
 // non-zero length, then if *must* have been built using this function.
 func Encode(dst, src []byte) []byte {
+	n := len(src)
+	lastSrcLen = &n
 	if len(dst) == 0 {
 		dst = append(dst, xerialHeader...)
 		dst = append(dst, xerialVersionInfo...)
PATCH
"${GIT[@]}" commit -qam "head: snappy/xerial.Encode keeps a pointer to a local"
"${GIT[@]}" tag head

# --- The plain script a user would otherwise write -----------------------------------
# Fixed worktree paths, so that without -trimpath a warm cache can still hit.
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

EG_CMD=("$EG" diff --repo "$REPO" base head)
PLAIN_CMD=("$WORK/plain-diff.sh" "$REPO" base head "$WORK/wt")

# --- Timing --------------------------------------------------------------------------
# run_timed NAME CMD...: one run under /usr/bin/time; appends
# "wall_s maxrss_kb user_s sys_s exit load1" to $WORK/NAME.runs, where load1 is the
# 1-minute load average at the start (this machine may be shared: a load above nproc
# means the wall times are inflated; CPU time suffers less from that).
# Exit 1 is escape-gate's "new escapes" and is expected.
run_timed() {
    local name=$1; shift
    local rc=0 load
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -f '%e %M %U %S' -o "$WORK/time.out" "$@" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" || rc=$?
    if [[ $rc -gt 1 ]]; then
        echo "$name failed (exit $rc):" >&2; cat "$WORK/$name.stderr" >&2; exit 2
    fi
    # GNU time prints "Command exited with non-zero status N" before the numbers.
    echo "$(tail -1 "$WORK/time.out") $rc $load" >>"$WORK/$name.runs"
}

# summary NAME: wall median, min-max, runs, CPU (user+sys) median, max RSS, load range
summary() {
    local f=$WORK/$1.runs cpu
    [[ -s $f ]] || { echo "(not run)"; return; }
    cpu=$(awk '{print $3 + $4}' "$f" | sort -n | awk '{c[NR] = $1}
        END { print (NR % 2) ? c[(NR + 1) / 2] : (c[NR / 2] + c[NR / 2 + 1]) / 2 }')
    sort -n "$f" | awk -v cpu="$cpu" '
        { t[NR] = $1; if ($2 > rss) rss = $2
          if (NR == 1 || $6 < lo) lo = $6; if ($6 > hi) hi = $6 }
        END {
            med = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
            printf "%7.2f s  %6.2f-%-6.2f  %4d  %7.2f s  %5.0f MB  %4.1f-%-4.1f\n",
                   med, t[1], t[NR], NR, cpu, rss / 1024, lo, hi
        }'
}

# Cold: a new empty GOCACHE for every run, alternating the two methods.
for i in $(seq "$COLD_RUNS"); do
    for name in eg plain; do
        say "cold $name run $i/$COLD_RUNS"
        rm -rf "$WORK/gocache-cold"; mkdir "$WORK/gocache-cold"
        if [[ $name == eg ]]; then cmd=("${EG_CMD[@]}"); else cmd=("${PLAIN_CMD[@]}"); fi
        GOCACHE=$WORK/gocache-cold run_timed "cold-$name" "${cmd[@]}"
    done
done
rm -rf "$WORK/gocache-cold"

# Warm: one shared cache, primed by one run of each, then measured.
export GOCACHE=$WORK/gocache-warm
mkdir -p "$GOCACHE"
say "warming the cache"
run_timed prime-eg "${EG_CMD[@]}"
run_timed prime-plain "${PLAIN_CMD[@]}"
for i in $(seq "$WARM_RUNS"); do
    for name in eg plain; do
        say "warm $name run $i/$WARM_RUNS"
        if [[ $name == eg ]]; then cmd=("${EG_CMD[@]}"); else cmd=("${PLAIN_CMD[@]}"); fi
        run_timed "warm-$name" "${cmd[@]}"
    done
done

# --- 4. Where escape-gate's time goes -------------------------------------------------
# The same two commands escape-gate runs in each materialised tree, base then head,
# once with a new empty cache (like a cold escape-gate run) and once with the warm one.
say "timing go list and go build on their own"
for side in base head; do
    mkdir -p "$WORK/tree-$side"
    git -C "$REPO" archive "$side" | tar -x -C "$WORK/tree-$side"
done
rm -rf "$WORK/gocache-cold"; mkdir "$WORK/gocache-cold"
for cache in cold warm; do
    for side in base head; do
        (
            cd "$WORK/tree-$side"
            export GOCACHE=$WORK/gocache-$cache
            run_timed "$cache-list-$side" go list -e -buildvcs=false -f '{{.ImportPath}}	{{.Name}}	{{.Dir}}' ./...
            cut -f1 "$WORK/$cache-list-$side.stdout" >"$WORK/pkgs-$side"
            mapfile -t pkgs <"$WORK/pkgs-$side"
            run_timed "$cache-build-$side" go build -trimpath -buildvcs=false -gcflags=-m "${pkgs[@]}"
        )
    done
done
rm -rf "$WORK/gocache-cold"

# --- 5. Report -----------------------------------------------------------------------
echo
cat "$WORK/machine.txt"
echo
echo "escape-gate diff base head (exit $(awk 'END {print $5}' "$WORK/warm-eg.runs")):"
sed 's/^/    /' "$WORK/warm-eg.stdout"
[[ -s $WORK/warm-eg.stderr ]] && sed 's/^/    (stderr) /' "$WORK/warm-eg.stderr"
echo
echo "plain script: $(wc -l <"$WORK/wt/heap.diff") lines of heap-line diff:"
sed 's/^/    /' "$WORK/wt/heap.diff" | head -40
echo
echo "heap lines in the -m output: base $(wc -l <"$WORK/wt/base.heap"), head $(wc -l <"$WORK/wt/head.heap");" \
     "packages: $(wc -l <"$WORK/pkgs-base")"
echo
printf '%-40s %9s  %-13s  %4s  %9s  %8s  %s\n' "what" "wall med" "wall min-max" "runs" "CPU med" "max RSS" "load"
for row in "cold-eg:cold  escape-gate diff" "cold-plain:cold  plain two-worktree script" \
           "warm-eg:warm  escape-gate diff" "warm-plain:warm  plain two-worktree script" \
           "cold-list-base:cold  go list (base)" "cold-build-base:cold  go build -trimpath -m (base)" \
           "cold-list-head:cold  go list (head)" "cold-build-head:cold  go build -trimpath -m (head)" \
           "warm-list-base:warm  go list (base)" "warm-build-base:warm  go build -trimpath -m (base)" \
           "warm-list-head:warm  go list (head)" "warm-build-head:warm  go build -trimpath -m (head)"; do
    printf '%-40s %s' "${row#*:}" "$(summary "${row%%:*}")"
    echo
done
