#!/usr/bin/env bash
# Benchmark: why is a build not reproducible? onebin rebuild / explain vs diffoscope.
#
# The unreproducible pairs onebin rebuild's tests use, each built twice the way
# rebuild varies it:
#   go-paths    a Go program (fmt, encoding/json, net/url) without -trimpath,
#               built in two directories
#   c-date      a C program with __DATE__/__TIME__, SOURCE_DATE_EPOCH unset vs set
#   rust-paths  a Rust debug build (DWARF) in two directories, no --remap-path-prefix
# Per pair: `onebin explain A B --json` and `diffoscope A B` timed by hyperfine on
# the same two files; whether each names the cause; the size of what the reader
# gets; and one timed `onebin rebuild` end to end (copies and both builds included).
#
# Usage:
#   benches/rebuild.sh              # RUNS=3
#   RUNS=1 benches/rebuild.sh       # quick look
#   ONEBIN=/path/to/onebin OUT_MD=bench.md benches/rebuild.sh
# Progress goes to stderr, the Markdown report to stdout.
#
# Needs: go, gcc, cargo (offline: the test crate has no dependencies),
# diffoscope (diffoscope-minimal will do), hyperfine, jq, GNU /usr/bin/time.
set -euo pipefail

RUNS=${RUNS:-3}
KEEP=${KEEP:-0}
DIFFOSCOPE_ARGS=(--max-report-size 1073741824 --exclude-directory-metadata=yes --text-color never)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"

for tool in go gcc cargo diffoscope hyperfine jq; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x /usr/bin/time ]] || die "GNU time not found at /usr/bin/time (apt-get install time)"
[[ -z ${OUT_MD:-} || $OUT_MD == /* ]] || OUT_MD=$PWD/$OUT_MD
UPTIME_BEFORE=$(uptime)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/onebin-bench.XXXXXX")
SAMPLER=
cleanup() {
    local rc=$?
    [[ -z $SAMPLER ]] || kill "$SAMPLER" 2>/dev/null || true
    if [[ $KEEP == 1 ]]; then log "kept work dir $WORK"; else chmod -R u+w "$WORK" 2>/dev/null || true; rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

snapshot_onebin

go_env() {
    env GOENV=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local CGO_ENABLED=0 \
        GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" "$@"
}
# Cargo's variables of a surrounding cargo run are not the test crate's.
cargo_env() {
    env -u RUSTFLAGS -u CARGO_TARGET_DIR -u CARGO_BUILD_TARGET_DIR -u RUSTUP_TOOLCHAIN "$@"
}

# ---------------------------------------------------------------- sources
mkdir -p "$WORK/src/go" "$WORK/src/c" "$WORK/src/rust/src"
cat >"$WORK/src/go/go.mod" <<'EOF'
module example.com/app

go 1.18
EOF
cat >"$WORK/src/go/main.go" <<'EOF'
package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
)

func main() {
	u, err := url.Parse(os.Args[0])
	if err != nil {
		panic(err)
	}
	out, _ := json.Marshal(map[string]string{"path": u.Path})
	fmt.Println(string(out))
}
EOF
cat >"$WORK/src/c/hello.c" <<'EOF'
#include <stdio.h>
int main(void) { printf("hello, built %s %s\n", __DATE__, __TIME__); return 0; }
EOF
cat >"$WORK/src/rust/Cargo.toml" <<'EOF'
[package]
name = "hello"
version = "0.1.0"
edition = "2021"

[dependencies]
EOF
cat >"$WORK/src/rust/src/main.rs" <<'EOF'
use std::collections::BTreeMap;

fn main() {
    let mut counts = BTreeMap::new();
    for arg in std::env::args() {
        *counts.entry(arg).or_insert(0) += 1;
    }
    println!("{counts:?}");
}
EOF

# ---------------------------------------------------------------- pairs
# PAIR: name, A, B, rebuild's command (run in a copy of SRC), SRC, OUTPUT, what names the cause
PAIRS=(go-paths c-date rust-paths)
declare -A A B SRC OUTPUT CMD CAUSE_RE DIFF_RE
for side in 1 2; do
    d=$WORK/build$side/elsewhere$side
    mkdir -p "$d"
    cp -a "$WORK/src/go" "$d/go"
    (cd "$d/go" && go_env go build -o app .)
    cp -a "$WORK/src/rust" "$d/rust"
    (cd "$d/rust" && cargo_env cargo build --offline --quiet)
done
log "built go-paths and rust-paths in two directories"
(cd "$WORK/src/c" && env -u SOURCE_DATE_EPOCH gcc -O2 -o "$WORK/c-date-a" hello.c)
(cd "$WORK/src/c" && SOURCE_DATE_EPOCH=946684800 gcc -O2 -o "$WORK/c-date-b" hello.c)
log "built c-date with SOURCE_DATE_EPOCH unset and set"
A[go-paths]=$WORK/build1/elsewhere1/go/app B[go-paths]=$WORK/build2/elsewhere2/go/app
A[c-date]=$WORK/c-date-a B[c-date]=$WORK/c-date-b
A[rust-paths]=$WORK/build1/elsewhere1/rust/target/debug/hello B[rust-paths]=$WORK/build2/elsewhere2/rust/target/debug/hello
SRC[go-paths]=$WORK/src/go OUTPUT[go-paths]=app CMD[go-paths]="go build -o app ."
SRC[c-date]=$WORK/src/c OUTPUT[c-date]=hello CMD[c-date]="gcc -O2 -o hello hello.c"
SRC[rust-paths]=$WORK/src/rust OUTPUT[rust-paths]=target/debug/hello CMD[rust-paths]="cargo build --offline --quiet"
# What each tool must show for the cause to count as named.
CAUSE_RE[go-paths]='-trimpath. missing' DIFF_RE[go-paths]='elsewhere1'
CAUSE_RE[c-date]='__DATE__/__TIME__' DIFF_RE[c-date]='Jan  1 2000'
CAUSE_RE[rust-paths]='--remap-path-prefix. missing' DIFF_RE[rust-paths]='elsewhere1'

# ---------------------------------------------------------------- checks and sizes
declare -A VERDICT CAUSE EXPLAIN_BYTES DIFF_LINES DIFF_BYTES DIFF_NAMES REBUILD_S REBUILD_CAUSE SIZE
for p in "${PAIRS[@]}"; do
    a=${A[$p]} b=${B[$p]}
    [[ $(sha256sum <"$a") != $(sha256sum <"$b") ]] || die "$p: the two builds are identical"
    SIZE[$p]="$(mib "$(stat -c %s "$a")")"
    "$ONEBIN" explain "$a" "$b" --json >"$WORK/$p.explain.json"
    VERDICT[$p]=$(jq -r .verdict "$WORK/$p.explain.json")
    EXPLAIN_BYTES[$p]=$(stat -c %s "$WORK/$p.explain.json")
    rc=0
    diffoscope "${DIFFOSCOPE_ARGS[@]}" --text "$WORK/$p.diffoscope.txt" "$a" "$b" || rc=$?
    [[ $rc == 1 ]] || die "$p: diffoscope exited $rc, want 1"
    DIFF_LINES[$p]=$(wc -l <"$WORK/$p.diffoscope.txt")
    DIFF_BYTES[$p]=$(stat -c %s "$WORK/$p.diffoscope.txt")
    if grep -qE -- "${DIFF_RE[$p]}" "$WORK/$p.diffoscope.txt"; then DIFF_NAMES[$p]="shows it (${DIFF_RE[$p]})"; else DIFF_NAMES[$p]="**does not show** ${DIFF_RE[$p]}"; fi
    # rebuild end to end: copies, both builds (fresh caches: Go compiles its standard library), explain.
    t0=$(date +%s.%N)
    rc=0
    # shellcheck disable=SC2086 # the command is words
    (cd "${SRC[$p]}" && "$ONEBIN" rebuild --json --output "${OUTPUT[$p]}" -- ${CMD[$p]}) >"$WORK/$p.rebuild.json" || rc=$?
    t1=$(date +%s.%N)
    [[ $rc == 1 ]] || die "$p: onebin rebuild exited $rc, want 1"
    REBUILD_S[$p]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    REBUILD_CAUSE[$p]=$(jq -r '.outputs[0].causes[0]' "$WORK/$p.rebuild.json")
    grep -qE -- "${CAUSE_RE[$p]}" <<<"${REBUILD_CAUSE[$p]}" || die "$p: rebuild's cause is '${REBUILD_CAUSE[$p]}', want /${CAUSE_RE[$p]}/"
    printf '   ok  %-11s verdict %s; rebuild %s s: %s\n' "$p" "${VERDICT[$p]}" "${REBUILD_S[$p]}" "${REBUILD_CAUSE[$p]:0:90}" >&2
done

# ---------------------------------------------------------------- hyperfine
q() { printf '%q' "$1"; }
ARGS=(--warmup 1 --runs "$RUNS" --export-json "$WORK/hf.json" --style basic)
for p in "${PAIRS[@]}"; do
    ARGS+=(--command-name "$p: onebin explain" "$(q "$ONEBIN") explain $(q "${A[$p]}") $(q "${B[$p]}") --json >/dev/null")
    ARGS+=(--command-name "$p: diffoscope" "diffoscope ${DIFFOSCOPE_ARGS[*]} --text /dev/null $(q "${A[$p]}") $(q "${B[$p]}") || [ \$? -eq 1 ]")
done
sample_load >"$WORK/load.samples" 2>/dev/null &
SAMPLER=$!
log "hyperfine: ${#PAIRS[@]} pairs × 2 commands, --runs $RUNS"
hyperfine "${ARGS[@]}" >&2
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
SAMPLER=
LOAD=$(awk '{ n++; if ($1 > m) m = $1; f += $2 } END { printf "%d samples: max 1-min load %.2f, %.2f runnable processes outside the benchmark on average", n, m, (n ? f / n : 0) }' "$WORK/load.samples")
mean() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .mean' "$WORK/hf.json"; }

# ---------------------------------------------------------------- report
{
    echo "## onebin rebuild / explain vs diffoscope"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "- load at start: \`${UPTIME_BEFORE#*load average: }\`; during hyperfine: $LOAD"
    echo "- tools: $("$ONEBIN" --version), diffoscope $(diffoscope --version | awk '{ print $2 }'), $(go version | awk '{ print $3 }'), $(gcc --version | head -n1), $(cargo --version)"
    echo "- hyperfine --warmup 1 --runs $RUNS; diffoscope \`${DIFFOSCOPE_ARGS[*]} --text\`"
    echo
    echo "| pair | size | onebin explain [s] | diffoscope [s] | diffoscope / explain | explain: verdict, cause (rebuild) | diffoscope's report | onebin rebuild, end to end [s] |"
    echo "|---|---:|---:|---:|---:|---|---|---:|"
    for p in "${PAIRS[@]}"; do
        e=$(mean "$p: onebin explain") d=$(mean "$p: diffoscope")
        printf '| %s | %s | %.3f | %.2f | %.0f× | `%s`: %s | %s lines (%.1f KiB), %s | %s |\n' "$p" "${SIZE[$p]}" "$e" "$d" \
            "$(awk -v d="$d" -v e="$e" 'BEGIN { print d / e }')" "${VERDICT[$p]}" "$(sed 's/|/\\|/g' <<<"${REBUILD_CAUSE[$p]}")" \
            "${DIFF_LINES[$p]}" "$(awk -v b="${DIFF_BYTES[$p]}" 'BEGIN { print b / 1024 }')" "${DIFF_NAMES[$p]}" "${REBUILD_S[$p]}"
    done
} >"$WORK/report.md"
echo
cat "$WORK/report.md"
if [[ -n ${OUT_MD:-} ]]; then cp "$WORK/report.md" "$OUT_MD"; log "report written to $OUT_MD"; fi
