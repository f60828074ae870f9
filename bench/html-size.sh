#!/usr/bin/env bash
# The size of the HTML report (`--format html`) for N new heap escapes (default 1000),
# end to end: a throwaway Go module whose head adds N functions, each moving a local to
# the heap through two assignments (a three-step escape flow, each step on a changed
# line), spread over 20 files of 5 packages. Prints the page's size, its gzip size and
# the time of the run. Usage: bench/html-size.sh [ESCAPE_GATE] [N]
set -euo pipefail
bin="$(realpath "${1:-target/release/escape-gate}")"
n="${2:-1000}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cd "$dir"
export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_SYSTEM=/dev/null
git init -q -b main
git config user.name bench
git config user.email bench@example.com
printf 'module example.com/bench\n\ngo 1.22\n' > go.mod
for p in 0 1 2 3 4; do
  mkdir -p "internal/service$p"
  printf 'package service%s\n\nvar sink *Request\n\ntype Request struct{ ID, Line int; Body string }\n' "$p" > "internal/service$p/types.go"
done
git add -A && git commit -qm base
for i in $(seq 1 "$n"); do
  p=$((i % 5)); f=$((i % 20))
  file="internal/service$p/handler$f.go"
  [[ -f "$file" ]] || printf 'package service%s\n' "$p" > "$file"
  printf '\n// Handle%s keeps its request for the status page.\nfunc Handle%s(id int, body string) {\n\treq := Request{ID: id, Body: body, Line: %s}\n\tlast := &req\n\tsink = last\n}\n' "$i" "$i" "$i" >> "$file"
done
git add -A && git commit -qm head
start=$(date +%s.%N)
status=0
"$bin" diff --format html HEAD~1 HEAD > page.html || status=$?
end=$(date +%s.%N)
[[ "$status" == 1 ]] || { echo "error: escape-gate exited $status, not 1" >&2; exit 1; }
cards=$(grep -c '<article class="card"' page.html)
echo "new escapes: $cards"
echo "page: $(wc -c < page.html) bytes, gzip -9: $(gzip -9c page.html | wc -c) bytes"
echo "time: $(echo "$end - $start" | bc) s"
