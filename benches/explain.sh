#!/usr/bin/env bash
# Benchmark: say why two large Go binaries differ.
#
#   onebin explain A B --json  vs  diffoscope A B  vs  cmp A B  (vs sha256sum A B:
#   reading and hashing both files, which explain does too)
#
# A and B are one program built twice, with -X main.version=VERSION_A and
# VERSION_B: the root cause both tools should name.
#
# Usage:
#   benches/explain.sh                                  # 2 × ~50 MiB binaries, 3 runs
#   SIZE_MB=0 RUNS=1 benches/explain.sh                 # quick check (~12 MiB binaries)
#   ONEBIN=/path/to/onebin OUT_MD=bench.md benches/explain.sh
# Progress and hyperfine's own output go to stderr, the Markdown report to stdout.
#
# Environment (all optional):
#   SIZE_MB=50      size of each binary in MiB (to within the linker's alignment):
#                   a static Go server linking much of the standard library
#                   (~12 MiB with DWARF) that embeds (go:embed, a []byte in
#                   .noptrdata) DATA_SRC's bytes, repeated then cut, as assets;
#                   below the program's own size (e.g. 0): no assets
#   DATA_SRC=/usr/bin/skopeo   bytes of the embedded assets
#   VERSION_A=v2.31.0, VERSION_B=v2.31.1   the -X main.version values
#   TRIMPATH=0      1: build with -trimpath, so Go records no -ldflags and
#                   explain must find the cause in the content (.rodata)
#   RUNS=3          hyperfine --runs (after --warmup 1)
#   DIFFOSCOPE_RUNS runs for diffoscope; default: RUNS, or 1 when the checking
#                   run of diffoscope took over 300 s. When it differs from RUNS,
#                   diffoscope is timed in a second hyperfine invocation (no
#                   warm-up: the checking run warmed the cache), same session.
#   BENCH_DIR=DIR   parent of the (temporary) work dir; default: mktemp -d
#   KEEP=1          keep the work dir at exit
#   ONEBIN=PATH     onebin binary to use; default: cargo build --release -p onebin
#                   in this repository, then target/release/onebin
#   OUT_MD=FILE     also write the Markdown report to FILE
#
# Needs: go (1.18+; builds with a temporary GOCACHE/GOPATH, no network),
# diffoscope (Debian's diffoscope-minimal will do: it uses readelf, objdump and
# strings from binutils), hyperfine, jq, cmp, sha256sum, GNU /usr/bin/time.
# All timings are with a warm page cache.
set -euo pipefail

SIZE_MB=${SIZE_MB:-50}
DATA_SRC=${DATA_SRC:-/usr/bin/skopeo}
VERSION_A=${VERSION_A:-v2.31.0}
VERSION_B=${VERSION_B:-v2.31.1}
TRIMPATH=${TRIMPATH:-0}
RUNS=${RUNS:-3}
KEEP=${KEEP:-0}
SLOW_DIFFOSCOPE_S=300
DIFFOSCOPE_ARGS=(--max-report-size 1073741824 --exclude-directory-metadata=yes --text-color never)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"
# shellcheck disable=SC2034 # read by sample_load (lib.sh)
LOAD_IGNORE='^(dockerd|containerd)'


need go diffoscope hyperfine jq cmp sha256sum readelf
[[ -x /usr/bin/time ]] || die "GNU time not found at /usr/bin/time (apt-get install time)"
[[ -r $DATA_SRC ]] || die "DATA_SRC=$DATA_SRC not readable"
[[ $VERSION_A != "$VERSION_B" ]] || die "VERSION_A and VERSION_B must differ"

UPTIME_BEFORE=$(uptime)

# ---------------------------------------------------------------- work dir
make_work_dir

# ---------------------------------------------------------------- onebin
snapshot_onebin

# ---------------------------------------------------------------- the binaries
MiB=$((1024 * 1024))
SRC=$WORK/src
write_go_server "$SRC" assets
GO_FLAGS=(-buildvcs=false)
[[ $TRIMPATH != 1 ]] || GO_FLAGS+=(-trimpath)
build() { # VERSION OUT
    (cd "$SRC" && go_env GOOS=linux GOARCH=amd64 go build "${GO_FLAGS[@]}" -ldflags "-X main.version=$1" -o "$2" .)
}

# The file names must not carry the versions: the report is searched for them.
A=$WORK/app-a
B=$WORK/app-b
: >"$SRC/assets.bin"
log "go build without assets, to size them"
build "$VERSION_A" "$WORK/base"
BASE_SIZE=$(stat -c %s "$WORK/base")
rm -f "$WORK/base"
ASSETS=$((SIZE_MB * MiB - BASE_SIZE))
if ((ASSETS > 0)); then
    size=$(stat -L -c %s "$DATA_SRC")
    n=$((ASSETS / size + 1))
    for ((i = 0; i < n; i++)); do cat "$DATA_SRC"; done >"$SRC/assets.bin"
    truncate -s "$ASSETS" "$SRC/assets.bin"
else
    ASSETS=0
fi
log "go build A (-X main.version=$VERSION_A) and B (-X main.version=$VERSION_B), $((ASSETS / MiB)) MiB of assets"
build "$VERSION_A" "$A"
build "$VERSION_B" "$B"
rm -f "$SRC/assets.bin"
GO_VERSION=$(go_env GOOS=linux GOARCH=amd64 go version | awk '{ print $3 }')
SIZE_A=$(stat -c %s "$A")
SIZE_B=$(stat -c %s "$B")
SHA_A=$(sha256sum "$A" | cut -d' ' -f1)
SHA_B=$(sha256sum "$B" | cut -d' ' -f1)
[[ $SHA_A != "$SHA_B" ]] || die "A and B are identical"
# Section sizes, for the report: what diffoscope has to dump.
SECTIONS=$(readelf -SW "$A" | sed -n 's/^ *\[ *[0-9]*\] *//p' | while read -r name _ _ _ size _; do
    [[ $name == .* ]] || continue
    size=$((16#$size))
    ((size < MiB)) || printf '%s %s\n' "$name" "$(mib "$size")"
done | paste -sd, | sed 's/,/, /g')

# ---------------------------------------------------------------- the variants
cd "$WORK"
DIFF_OUT=$WORK/diffoscope.txt
NAMES=() CMDS=()
add() { NAMES+=("$1"); CMDS+=("$2"); }
EXPLAIN_NAME="onebin explain --json"
DIFFOSCOPE_NAME="diffoscope"
add "$EXPLAIN_NAME" "$(q "$ONEBIN") explain $(q "$A") $(q "$B") --json >/dev/null"
# diffoscope and cmp exit 1 when the files differ: accept 1, fail on anything else.
add "$DIFFOSCOPE_NAME" "diffoscope ${DIFFOSCOPE_ARGS[*]} --text $(q "$DIFF_OUT") $(q "$A") $(q "$B") || [ \$? -eq 1 ]"
add "cmp" "cmp $(q "$A") $(q "$B") >/dev/null || [ \$? -eq 1 ]"
add "sha256sum A B" "sha256sum $(q "$A") $(q "$B") >/dev/null"

# ---------------------------------------------------------------- checks
log "checking onebin explain"
"$ONEBIN" explain "$A" "$B" --json >"$WORK/explain.json"
VERDICT=$(jq -r .verdict "$WORK/explain.json")
for side in a b; do
    gv=$(jq -r --arg s "$side" '.[$s].facts.go.go_version // empty' "$WORK/explain.json")
    [[ $gv == "$GO_VERSION" ]] || die "onebin explain found no Go build info in $side (go_version '$gv', want $GO_VERSION)"
done
[[ $VERDICT == different-settings ]] || die "onebin explain: verdict $VERDICT, want different-settings"
if [[ $TRIMPATH == 1 ]]; then
    CAUSE=$(jq -c '[.differences[] | select(.field == "content .rodata" and .class == "different-settings")] | first // empty' "$WORK/explain.json")
else
    CAUSE=$(jq -c --arg a "-X main.version=$VERSION_A" --arg b "-X main.version=$VERSION_B" \
        '[.differences[] | select(.field == "go.build -ldflags" and .class == "different-settings" and (.a | contains($a)) and (.b | contains($b)))] | first // empty' \
        "$WORK/explain.json")
fi
[[ -n $CAUSE ]] || die "onebin explain does not name the cause: $(jq -c '.differences' "$WORK/explain.json")"
CAUSE_FIELD=$(jq -r .field <<<"$CAUSE")
CAUSE_A=$(jq -r .a <<<"$CAUSE")
CAUSE_B=$(jq -r .b <<<"$CAUSE")
N_DIFFS=$(jq '.differences | length' "$WORK/explain.json")
ALL_FIELDS=$(jq -r '[.differences[] | "`\(.field)` (\(.class))"] | join(", ")' "$WORK/explain.json")
printf '   ok  %-24s verdict %s, %s: %s -> %s\n' "onebin explain" "$VERDICT" "$CAUSE_FIELD" "$CAUSE_A" "$CAUSE_B" >&2
[[ $(jq -r .a.sha256 "$WORK/explain.json") == "$SHA_A" && $(jq -r .b.sha256 "$WORK/explain.json") == "$SHA_B" ]] ||
    die "onebin explain: sha256s do not match sha256sum's"
/usr/bin/time -f %M -o "$WORK/rss" "$ONEBIN" explain "$A" "$B" --json >/dev/null
EXPLAIN_RSS=$(tail -n1 "$WORK/rss")

log "checking diffoscope (one run, timed; the cache is warm afterwards)"
t0=$(date +%s.%N)
rc=0
diffoscope "${DIFFOSCOPE_ARGS[@]}" --profile "$WORK/diffoscope.profile" --text "$DIFF_OUT" "$A" "$B" || rc=$?
t1=$(date +%s.%N)
[[ $rc == 1 ]] || die "diffoscope exited $rc, want 1 (files differ)"
DIFFOSCOPE_CHECK_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
# Where its time goes: the external commands it ran (from --profile).
DIFF_PROFILE=$(awk '/^## command/ { on = 1; next } /^$/ { on = 0 } on && NF >= 4 {
        t = $1; sub(/s$/, "", t); printf "%s%s %.0f s (%s calls)", sep, $4, t, $2; sep = ", " }' "$WORK/diffoscope.profile")
# A removed line names VERSION_A and an added line VERSION_B (diff lines sit
# under a command's heading, prefixed with the tree's "│ " bars).
re_quote() { printf '%s' "$1" | sed 's/[][\.*^$/+?(){}|]/\\&/g'; }
DIFF_A=$(grep -E "^(│ )+-.*$(re_quote "$VERSION_A")" "$DIFF_OUT" || true)
DIFF_B=$(grep -E "^(│ )+\\+.*$(re_quote "$VERSION_B")" "$DIFF_OUT" || true)
[[ -n $DIFF_A && -n $DIFF_B ]] || die "diffoscope's report does not show $VERSION_A -> $VERSION_B"
DIFF_LINES=$(wc -l <"$DIFF_OUT")
DIFF_BYTES=$(stat -c %s "$DIFF_OUT")
# The commands (sections) of diffoscope's report, and those that show the version.
DIFF_SECTIONS=$(grep -E '^├── ' "$DIFF_OUT" | sed 's/^├── //; s/ {}$//' | awk '{ printf "%s`%s`", sep, $0; sep = ", " }')
DIFF_VERSION_SECTIONS=$(awk -v a="$VERSION_A" '
        /^├── / { sec = $0; sub(/^├── /, "", sec); sub(/ \{\}$/, "", sec) }
        sec != "" && index($0, a) && $0 ~ /^(│ )+-/ && !(sec in seen) { seen[sec] = 1; printf "%s`%s`", sep, sec; sep = ", " }' "$DIFF_OUT")
printf '   ok  %-24s exit 1 after %s s; %d lines name %s / %s\n' "diffoscope" "$DIFFOSCOPE_CHECK_S" \
    $(($(wc -l <<<"$DIFF_A") + $(wc -l <<<"$DIFF_B"))) "$VERSION_A" "$VERSION_B" >&2

log "checking cmp"
rc=0
CMP_OUT=$(cmp "$A" "$B" 2>&1) || rc=$?
[[ $rc == 1 ]] || die "cmp exited $rc, want 1"
CMP_BYTE=$(sed -n 's/.* differ: byte \([0-9]*\),.*/\1/p' <<<"$CMP_OUT")
printf '   ok  %-24s %s\n' "cmp" "$CMP_OUT" >&2

if [[ -z ${DIFFOSCOPE_RUNS:-} ]]; then
    if awk -v s="$DIFFOSCOPE_CHECK_S" -v l="$SLOW_DIFFOSCOPE_S" 'BEGIN { exit !(s > l) }'; then
        DIFFOSCOPE_RUNS=1
        log "diffoscope took ${DIFFOSCOPE_CHECK_S} s (> ${SLOW_DIFFOSCOPE_S} s): timing it with 1 run"
    else
        DIFFOSCOPE_RUNS=$RUNS
    fi
fi

# ---------------------------------------------------------------- hyperfine
HF_JSON=$WORK/hyperfine.json
# Watch for other load while hyperfine runs: runnable processes outside this
# session (docker's daemons excluded, as in the other benchmarks).
start_sampler
if [[ $DIFFOSCOPE_RUNS == "$RUNS" ]]; then
    SPLIT=0
    run_hyperfine "$HF_JSON" 1 "$RUNS" NAMES CMDS
else
    SPLIT=1
    # shellcheck disable=SC2034 # read through run_hyperfine's namerefs
    MAIN_NAMES=("${NAMES[0]}" "${NAMES[2]}" "${NAMES[3]}") MAIN_CMDS=("${CMDS[0]}" "${CMDS[2]}" "${CMDS[3]}")
    # shellcheck disable=SC2034
    DIFF_NAMES=("${NAMES[1]}") DIFF_CMDS=("${CMDS[1]}")
    run_hyperfine "$WORK/hf-main.json" 1 "$RUNS" MAIN_NAMES MAIN_CMDS
    run_hyperfine "$WORK/hf-diffoscope.json" 0 "$DIFFOSCOPE_RUNS" DIFF_NAMES DIFF_CMDS
    jq -s '{ results: [.[0].results[0], .[1].results[0], .[0].results[1:][]] }' \
        "$WORK/hf-main.json" "$WORK/hf-diffoscope.json" >"$HF_JSON"
fi
stop_sampler

UPTIME_AFTER=$(uptime)

# ---------------------------------------------------------------- report
EXPLAIN_MEAN=$(mean_of "$HF_JSON" "$EXPLAIN_NAME")
DIFFOSCOPE_MEAN=$(mean_of "$HF_JSON" "$DIFFOSCOPE_NAME")
if awk -v m="$EXPLAIN_MEAN" 'BEGIN { exit !(m < 0.5) }'; then T_VERDICT="ok (< 0.5 s)"; else T_VERDICT="**OVER 0.5 s**"; fi
RATIO=$(awk -v d="$DIFFOSCOPE_MEAN" -v e="$EXPLAIN_MEAN" 'BEGIN { printf "%.0f", d / e }')
if ((RATIO >= 50)); then R_VERDICT="ok (≥ 50×)"; else R_VERDICT="**UNDER 50×**"; fi
trim() { cut -c1-160 | sed 's/^/    /'; }

REPORT=$WORK/report.md
{
    echo "## onebin explain benchmark"
    echo
    report_conditions "at start"
    echo "- tools: $(onebin_tool), diffoscope $(diffoscope --version | awk '{ print $2 }') ($(dpkg-query -W -f '${Package} ${Version}, ' diffoscope-minimal 2>/dev/null || true)$(readelf --version | head -n1)), $(cmp --version | head -n1), $(sha256sum --version | head -n1), $GO_VERSION, hyperfine $(hyperfine --version | awk '{ print $2 }')"
    echo "- inputs: one static Go program ($GO_VERSION, CGO_ENABLED=0$(if [[ $TRIMPATH == 1 ]]; then echo ", -trimpath"; fi), with DWARF and symbols; a server linking much of the standard library, $(mib "$BASE_SIZE") alone, plus $(mib "$ASSETS") of go:embed assets from $DATA_SRC), built twice: A with \`-ldflags '-X main.version=$VERSION_A'\` ($(mib "$SIZE_A")), B with \`-X main.version=$VERSION_B\` ($(mib "$SIZE_B")); sections over 1 MiB: $SECTIONS"
    echo "- diffoscope: \`diffoscope ${DIFFOSCOPE_ARGS[*]} --text FILE A B\`, exit 1 accepted (files differ); cmp: exit 1 accepted"
    if [[ $SPLIT == 1 ]]; then
        echo "- hyperfine --warmup 1 --runs $RUNS for explain, cmp and sha256sum; **diffoscope in a second hyperfine invocation right after, same session, --warmup 0 --runs $DIFFOSCOPE_RUNS** (its checking run took ${DIFFOSCOPE_CHECK_S} s and warmed the cache); warm page cache"
    else
        echo "- hyperfine --warmup 1 --runs $RUNS, all four commands in one invocation; warm page cache"
    fi
    echo
    echo "| command | runs | mean [s] | stddev [s] | min [s] | max [s] | × onebin explain |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    jq -r '.results[] | [.command, (.times | length), .mean, (.stddev // 0), .min, .max] | @tsv' "$HF_JSON" |
        awk -F'\t' -v base="$EXPLAIN_MEAN" '{
            name = $1; gsub(/\|/, "\\|", name)
            printf "| `%s` | %d | %.3f | %.3f | %.3f | %.3f | %.2f |\n", name, $2, $3, $4, $5, $6, $3 / base
        }'
    echo
    echo "- **onebin explain**: mean **$(awk -v m="$EXPLAIN_MEAN" 'BEGIN { printf "%.3f s", m }')**, $T_VERDICT (target: under 0.5 s); peak RSS $((EXPLAIN_RSS / 1024)) MiB"
    echo "- **diffoscope / onebin explain**: $(awk -v d="$DIFFOSCOPE_MEAN" 'BEGIN { printf "%.1f s", d }') / $(awk -v m="$EXPLAIN_MEAN" 'BEGIN { printf "%.3f s", m }') = **${RATIO}×**, $R_VERDICT (target: at least 50×)"
    echo "- where diffoscope's time goes (\`--profile\` of the checking run, ${DIFFOSCOPE_CHECK_S} s wall clock; commands run in parallel): ${DIFF_PROFILE:-n/a}"
    echo "- cmp stops at the first differing byte ($CMP_BYTE): it says *that* they differ, not why."
    echo
    echo "Both name the cause:"
    echo
    echo "- onebin explain: verdict \`$VERDICT\`; the cause: \`$CAUSE_FIELD\`: \`$CAUSE_A\` → \`$CAUSE_B\` ($N_DIFFS differences: $ALL_FIELDS)"
    echo "- diffoscope: a $DIFF_LINES-line report ($(awk -v b="$DIFF_BYTES" 'BEGIN { printf "%.1f KiB", b / 1024 }')) of the outputs of $DIFF_SECTIONS; the version shows in $DIFF_VERSION_SECTIONS:"
    echo
    echo '```'
    head -n3 <<<"$DIFF_A" | trim
    head -n3 <<<"$DIFF_B" | trim
    echo '```'
    echo
    if [[ $TRIMPATH == 1 ]]; then
        echo "diffoscope shows every byte that differs, in readelf/strings dumps; the reader has to recognise that \`$VERSION_A\` → \`$VERSION_B\` is the cause. Under -trimpath Go records no -ldflags: onebin finds that the recorded settings match but .rodata differs and names -X values as the likely cause (\`$(jq -r .why <<<"$CAUSE")\`), without the values themselves."
    else
        echo "diffoscope shows every byte that differs, in readelf/strings dumps; the reader has to recognise that \`$VERSION_A\` → \`$VERSION_B\` is the cause. onebin reads it from the Go build information and classifies it."
    fi
} >"$REPORT"

emit_report "$REPORT"
