#!/usr/bin/env bash
# Property tests as fuzzing, on stable Rust: the compiler-output parser
# (src/parse/fuzz.rs) and the allowlist loader (src/allowlist/fuzz.rs), run with
# many more cases than `cargo test` runs (proptest's default, 256 per property).
#
#   bench/fuzz.sh                    100,000 cases per property
#   PROPTEST_CASES=2000 bench/fuzz.sh
#
# Prints how many inputs ran without a panic (cases x properties, every property
# passed) and how long it took. A failure prints proptest's minimal failing input and
# exits non-zero; proptest also saves it under proptest-regressions/ so that the next
# `cargo test` tries it first.
set -euo pipefail
cd "$(dirname "$0")/.."

export PROPTEST_CASES=${PROPTEST_CASES:-100000}
# Shrinking a failure can take long with many cases; bound it.
export PROPTEST_MAX_SHRINK_ITERS=${PROPTEST_MAX_SHRINK_ITERS:-10000}

start=$(date +%s)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! cargo test --locked --lib -- --test-threads=2 ::fuzz:: 2>&1 | tee "$log"; then
    echo "fuzz: FAILED (see the minimal failing input above)" >&2
    exit 1
fi
end=$(date +%s)
properties=$(sed -n 's/^test result: ok\. \([0-9]*\) passed.*/\1/p' "$log" | tail -1)
if [[ -z $properties || $properties == 0 ]]; then
    echo "fuzz: no property ran" >&2
    exit 1
fi
echo "fuzz: $properties properties x $PROPTEST_CASES cases = $((properties * PROPTEST_CASES)) inputs without a panic in $((end - start)) s"
