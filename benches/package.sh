#!/usr/bin/env bash
# Benchmark: put two prebuilt binaries (linux/amd64, linux/arm64) into one image.
#
#   onebin package (multi-arch index, gzip level 6 on every core, read-back check)
#   onebin package --compression zstd (the same, zstd level 3)
#   vs umoci new + insert + config (one tag per platform: umoci makes no index)
#   vs docker build (classic builder, FROM scratch + COPY; buildx multi-platform if present)
#   vs the physical limit: gzip -6 of one binary, and of both in parallel (2 cores)
#
# Usage:
#   benches/package.sh                                  # 2 × 50 MiB binaries, 3 runs
#   SIZE_MB=0 RUNS=1 benches/package.sh                 # quick check (~12 MiB binaries)
#   ONEBIN=/path/to/onebin OUT_MD=bench.md benches/package.sh
# Progress and hyperfine's own output go to stderr, the Markdown report to stdout.
#
# Environment (all optional):
#   SIZE_MB=50      size of each binary in MiB: a real static Go binary (a small
#                   server linking much of the standard library, ~12 MiB), built
#                   for the platform, its own bytes repeated then cut (appended
#                   bytes keep the ELF file valid); below the built size (e.g. 0):
#                   the binary as built
#   RUNS=3          hyperfine --runs (after --warmup 1)
#   BENCH_DIR=DIR   parent of the (temporary) work dir; default: mktemp -d
#   KEEP=1          keep the work dir (and the docker image) at exit
#   ONEBIN=PATH     onebin binary to use; default: cargo build --release -p onebin
#                   in this repository, then target/release/onebin
#   OUT_MD=FILE     also write the Markdown report to FILE
#   NO_DOCKER=1     skip the docker variants
#
# Targets: onebin package (gzip) at most umoci's time, and at most 0.6× one
# gzip -6 of one binary.
#
# Needs: go (1.18+; builds with a temporary GOCACHE/GOPATH, no network), umoci,
# hyperfine, jq, gzip, zstd, tar, sha256sum, docker (optional: skipped if `docker info`
# fails; `docker buildx` optional: without it only the amd64 image is built).
#
# The binaries are built with -trimpath and no VCS stamping, so repeated runs on
# one machine package the same bytes. All timings are with a warm page cache.
set -euo pipefail

SIZE_MB=${SIZE_MB:-50}
RUNS=${RUNS:-3}
KEEP=${KEEP:-0}
NO_DOCKER=${NO_DOCKER:-0}
TAG=v1
APP_PATH=/usr/local/bin/app
DOCKER_REPO=onebin-bench-package-$$
PLATFORMS=(amd64 arm64)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"
# shellcheck disable=SC2034 # read by sample_load (lib.sh)
LOAD_IGNORE='^(dockerd|containerd|exe|docker-untar)'


need go umoci hyperfine jq gzip zstd tar sha256sum

UPTIME_BEFORE=$(uptime)

# ---------------------------------------------------------------- work dir
HAVE_DOCKER=0
on_remove() {
    if [[ $HAVE_DOCKER == 1 ]]; then
        docker rmi -f "$DOCKER_REPO:amd64" >/dev/null 2>&1 || true
    fi
}
make_work_dir

# ---------------------------------------------------------------- onebin
snapshot_onebin

HAVE_BUILDX=0
if docker_usable; then
    HAVE_DOCKER=1
    if docker buildx version >/dev/null 2>&1; then HAVE_BUILDX=1; fi
else
    log "docker variants SKIPPED: docker unavailable (\`docker info\` failed) or NO_DOCKER=1"
fi

# ---------------------------------------------------------------- the binaries
MiB=$((1024 * 1024))
SRC=$WORK/src
write_go_server "$SRC"

declare -A BIN BUILT_SIZE SHA SIZE
for arch in "${PLATFORMS[@]}"; do
    log "go build (GOOS=linux GOARCH=$arch, static) and pad to ${SIZE_MB} MiB"
    built=$WORK/app-$arch.built
    (cd "$SRC" && go_env GOOS=linux GOARCH="$arch" go build -trimpath -buildvcs=false -o "$built" .)
    BUILT_SIZE[$arch]=$(stat -c %s "$built")
    BIN[$arch]=$WORK/app_linux_$arch
    if ((SIZE_MB * MiB <= BUILT_SIZE[$arch])); then
        # Cutting would break the ELF file: keep it whole.
        cp "$built" "${BIN[$arch]}"
    else
        n=$((SIZE_MB * MiB / BUILT_SIZE[$arch] + 1))
        for ((i = 0; i < n; i++)); do cat "$built"; done >"${BIN[$arch]}"
        truncate -s $((SIZE_MB * MiB)) "${BIN[$arch]}"
    fi
    chmod 0755 "${BIN[$arch]}"
    rm -f "$built"
    SHA[$arch]=$(sha256sum "${BIN[$arch]}" | cut -d' ' -f1)
    SIZE[$arch]=$(stat -c %s "${BIN[$arch]}")
done
A=${BIN[amd64]}
B=${BIN[arm64]}
GO_VERSION=$(go_env go version | awk '{ print $3 }')

# ---------------------------------------------------------------- the variants
# Nothing below may depend on the current directory; run where there is no git
# checkout, so onebin takes no labels from git (they would be inputs too).
cd "$WORK"
ONEBIN_OUT=$WORK/oci-onebin
ZSTD_OUT=$WORK/oci-onebin-zstd
UMOCI_OUT=$WORK/oci-umoci
CTX=$WORK/docker-ctx
BUILDX_OUT=$WORK/buildx.tar
mkdir -p "$CTX"
ln "$A" "$CTX/app" 2>/dev/null || cp "$A" "$CTX/app"
printf 'FROM scratch\nCOPY app %s\nENTRYPOINT ["%s"]\n' "$APP_PATH" "$APP_PATH" >"$CTX/Dockerfile"
if [[ $HAVE_BUILDX == 1 ]]; then
    for arch in "${PLATFORMS[@]}"; do
        ln "${BIN[$arch]}" "$CTX/app-$arch" 2>/dev/null || cp "${BIN[$arch]}" "$CTX/app-$arch"
    done
    # shellcheck disable=SC2016 # ${TARGETARCH} is for docker
    printf 'FROM scratch\nARG TARGETARCH\nCOPY app-${TARGETARCH} %s\nENTRYPOINT ["%s"]\n' \
        "$APP_PATH" "$APP_PATH" >"$CTX/Dockerfile.multi"
fi

package_cmd() { # DEST_DIR [extra flags]
    local dest=$1
    shift
    echo "$(q "$ONEBIN") package --binary linux/amd64=$(q "$A") --binary linux/arm64=$(q "$B") --path $APP_PATH --dest $(q "oci:$dest:$TAG") $*"
}
umoci_platform() { # ARCH FILE
    echo "umoci new --image $(q "$UMOCI_OUT:$1") && umoci insert --image $(q "$UMOCI_OUT:$1") $(q "$2") $APP_PATH && umoci config --image $(q "$UMOCI_OUT:$1") --os linux --architecture $1 --config.entrypoint $APP_PATH"
}

NAMES=() CMDS=() PREPS=()
add() { NAMES+=("$1"); CMDS+=("$2"); PREPS+=("$3"); }
add "onebin package" "$(package_cmd "$ONEBIN_OUT" -q)" "rm -rf $(q "$ONEBIN_OUT")"
add "onebin package --compression zstd" "$(package_cmd "$ZSTD_OUT" --compression zstd -q)" "rm -rf $(q "$ZSTD_OUT")"
add "umoci new+insert+config ×2" \
    "umoci init --layout $(q "$UMOCI_OUT") && $(umoci_platform amd64 "$A") && $(umoci_platform arm64 "$B")" \
    "rm -rf $(q "$UMOCI_OUT")"
if [[ $HAVE_DOCKER == 1 ]]; then
    add "docker build (amd64 only)" \
        "DOCKER_BUILDKIT=0 docker build -q --no-cache -t $DOCKER_REPO:amd64 $(q "$CTX") >/dev/null" \
        "docker rmi -f $DOCKER_REPO:amd64 >/dev/null 2>&1 || true"
    if [[ $HAVE_BUILDX == 1 ]]; then
        add "docker buildx (amd64+arm64, oci)" \
            "docker buildx build -q --no-cache --platform linux/amd64,linux/arm64 -f $(q "$CTX/Dockerfile.multi") --output type=oci,dest=$(q "$BUILDX_OUT") $(q "$CTX") >/dev/null" \
            "rm -f $(q "$BUILDX_OUT")"
    fi
fi
GZIP_ONE="gzip -6 -c A > /dev/null (one binary)"
GZIP_TWO="gzip -6 A & gzip -6 B; wait (2 in parallel)"
add "$GZIP_ONE" "gzip -6 -c $(q "$A") >/dev/null" "true"
add "$GZIP_TWO" "gzip -6 -c $(q "$A") >/dev/null & gzip -6 -c $(q "$B") >/dev/null; wait" "true"

# ---------------------------------------------------------------- checks
# app_of LAYOUT TAG ARCH -> "SHA256 CONFIG_ARCH LAYER_SIZE" of APP_PATH in the top layer
app_of() {
    local dir=$1 m man cfg layer sha unzip=gzip
    m=$(manifest_for "$@") || { echo "no-manifest - 0"; return; }
    man=$(blob "$dir" "$m")
    cfg=$(blob "$dir" "$(jq -r .config.digest "$man")")
    layer=$(jq -r '.layers[-1].digest' "$man")
    [[ $(jq -r '.layers[-1].mediaType' "$man") != *zstd ]] || unzip=zstd
    # umoci insert writes neither the last entry's padding nor the end blocks,
    # and GNU tar drops a last partial block: append the zeros. tar's complaints
    # and exit code are ignored, the sha256 comparison is the check.
    sha=$({ { $unzip -dc "$(blob "$dir" "$layer")"; head -c 1024 /dev/zero; } |
        tar -xOf - "${APP_PATH#/}" 2>/dev/null || true; } | sha256sum | cut -d' ' -f1)
    echo "$sha $(jq -r .architecture "$cfg") $(jq '.layers[-1].size' "$man")"
}

log "checking reproducibility: two onebin runs"
REPRO1=$WORK/repro-1 REPRO2=$WORK/repro-2
bash -c "$(package_cmd "$REPRO1" --json -q)" >"$WORK/repro-1.json"
bash -c "$(package_cmd "$REPRO2" --json -q)" >"$WORK/repro-2.json"
DIGEST1=$(jq -r .digest "$WORK/repro-1.json")
DIGEST2=$(jq -r .digest "$WORK/repro-2.json")
[[ $DIGEST1 == sha256:* && $DIGEST1 == "$DIGEST2" ]] || die "onebin package is not reproducible: $DIGEST1 vs $DIGEST2"
diff -r "$REPRO1" "$REPRO2" >/dev/null || die "onebin package: the two layouts differ (same index digest $DIGEST1)"
[[ $(jq -r .verified "$WORK/repro-1.json") == true ]] || die "onebin package --json does not say verified: true"
printf '   ok  %-40s %s (twice; layouts byte-identical)\n' "reproducible index digest" "$DIGEST1" >&2

log "checking every variant's result"
declare -A LAYER_SIZE GZ_SIZE
for arch in "${PLATFORMS[@]}"; do
    GZ_SIZE[$arch]=$(gzip -6 -c "${BIN[$arch]}" | wc -c)
done
DROPPED=
keep_idx=()
for i in "${!NAMES[@]}"; do
    bash -c "${PREPS[$i]}"
    if ! bash -c "${CMDS[$i]}" >/dev/null; then
        if [[ ${NAMES[$i]} == "docker buildx"* ]]; then
            log "docker buildx variant failed; dropped"
            DROPPED="docker buildx multi-platform build failed here and was dropped"
            continue
        fi
        die "${NAMES[$i]}: command failed"
    fi
    case ${NAMES[$i]} in
        "onebin package"*)
            out=$ONEBIN_OUT key=onebin
            [[ ${NAMES[$i]} != *zstd ]] || out=$ZSTD_OUT key=zstd
            for arch in "${PLATFORMS[@]}"; do
                read -r sha carch lsize < <(app_of "$out" "$TAG" "$arch")
                [[ $sha == "${SHA[$arch]}" && $carch == "$arch" ]] || die "${NAMES[$i]}: linux/$arch: got $sha ($carch), want ${SHA[$arch]}"
                LAYER_SIZE[$key,$arch]=$lsize
            done
            idx=$(tag_digest "$out" "$TAG")
            [[ $key == zstd || $idx == "$DIGEST1" ]] || die "onebin: index digest $idx, want $DIGEST1"
            got="index $idx, both binaries" ;;
        umoci*)
            for arch in "${PLATFORMS[@]}"; do
                read -r sha carch lsize < <(app_of "$UMOCI_OUT" "$arch" "$arch")
                [[ $sha == "${SHA[$arch]}" && $carch == "$arch" ]] || die "umoci: $arch: got $sha ($carch), want ${SHA[$arch]}"
                LAYER_SIZE[umoci,$arch]=$lsize
            done
            got="tags amd64, arm64: both binaries" ;;
        "docker build (amd64 only)")
            id=$(docker create "$DOCKER_REPO:amd64" x)
            sha=$(docker cp "$id:$APP_PATH" - | tar -xOf - | sha256sum | cut -d' ' -f1)
            docker rm "$id" >/dev/null
            [[ $sha == "${SHA[amd64]}" ]] || die "docker build: got $sha, want ${SHA[amd64]}"
            got="amd64 binary $sha" ;;
        "docker buildx"*)
            mkdir -p "$WORK/buildx" && tar -xf "$BUILDX_OUT" -C "$WORK/buildx"
            for arch in "${PLATFORMS[@]}"; do
                read -r sha carch lsize < <(app_of "$WORK/buildx" "" "$arch")
                [[ $sha == "${SHA[$arch]}" && $carch == "$arch" ]] || die "docker buildx: $arch: got $sha ($carch), want ${SHA[$arch]}"
                LAYER_SIZE[buildx,$arch]=$lsize
            done
            rm -rf "$WORK/buildx"
            got="both binaries" ;;
        "$GZIP_ONE"|"$GZIP_TWO")
            # The rows write to /dev/null; check that the same gzip round-trips.
            for arch in "${PLATFORMS[@]}"; do
                sha=$(gzip -6 -c "${BIN[$arch]}" | gzip -dc | sha256sum | cut -d' ' -f1)
                [[ $sha == "${SHA[$arch]}" ]] || die "gzip -6 round trip of $arch: got $sha"
            done
            got="round trip ok" ;;
    esac
    keep_idx+=("$i")
    printf '   ok  %-40s %s\n' "${NAMES[$i]}" "$got" >&2
done
K_NAMES=() K_CMDS=() K_PREPS=()
for i in "${keep_idx[@]}"; do K_NAMES+=("${NAMES[$i]}"); K_CMDS+=("${CMDS[$i]}"); K_PREPS+=("${PREPS[$i]}"); done

# ---------------------------------------------------------------- hyperfine
HF_JSON=$WORK/hyperfine.json
# Watch for other load while hyperfine runs: runnable processes outside this
# session (docker's daemons excluded: they do the docker variant's work).
start_sampler
run_hyperfine "$HF_JSON" 1 "$RUNS" K_NAMES K_CMDS K_PREPS
stop_sampler

# The last timed run must still have written the same image.
FINAL=$(tag_digest "$ONEBIN_OUT" "$TAG")
[[ $FINAL == "$DIGEST1" ]] || die "after hyperfine: index digest $FINAL, want $DIGEST1"

UPTIME_AFTER=$(uptime)

# ---------------------------------------------------------------- report
ONEBIN_MEAN=$(mean_of "$HF_JSON" "onebin package")
GZIP1_MEAN=$(mean_of "$HF_JSON" "$GZIP_ONE")
GZIP2_MEAN=$(mean_of "$HF_JSON" "$GZIP_TWO")
UMOCI_MEAN=$(mean_of "$HF_JSON" "umoci new+insert+config ×2")
RATIO=$(awk -v o="$ONEBIN_MEAN" -v g="$GZIP1_MEAN" 'BEGIN { printf "%.2f", o / g }')
if awk -v r="$RATIO" 'BEGIN { exit !(r <= 0.6) }'; then
    VERDICT="ok (≤ 0.6×)"
else
    VERDICT="**OVER 0.6×**"
fi
UMOCI_RATIO=$(awk -v o="$ONEBIN_MEAN" -v u="$UMOCI_MEAN" 'BEGIN { printf "%.2f", o / u }')
if awk -v r="$UMOCI_RATIO" 'BEGIN { exit !(r <= 1.0) }'; then
    UMOCI_VERDICT="ok (≤ 1×)"
else
    UMOCI_VERDICT="**OVER 1×**"
fi
pct_of() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f %%", 100 * (a - b) / b }'; }
size_cell() { # KEY ARCH
    local v=${LAYER_SIZE[$1,$2]:-}
    if [[ -z $v ]]; then echo "n/a"; else echo "$(mib "$v") ($(pct_of "$v" "${GZ_SIZE[$2]}"))"; fi
}

REPORT=$WORK/report.md
{
    echo "## onebin package benchmark"
    echo
    report_conditions "at start"
    echo "- cores free for this benchmark: two \`gzip -6\` in parallel took $(awk -v a="$GZIP2_MEAN" -v b="$GZIP1_MEAN" 'BEGIN { printf "%.2f", a / b }')× one (1.0: both cores free; 2.0: one core's worth, the others' work took the other)"
    echo "- tools: $(onebin_tool), umoci $(umoci --version | awk '{ print $3 }'), docker $(if [[ $HAVE_DOCKER == 1 ]]; then docker version --format '{{.Server.Version}}'; else echo n/a; fi)$(if [[ $HAVE_BUILDX == 1 ]]; then echo " + $(docker buildx version | head -n1)"; fi), $(gzip --version | head -n1), $GO_VERSION, hyperfine $(hyperfine --version | awk '{ print $2 }')"
    echo "- inputs: two static Go binaries ($GO_VERSION, CGO_ENABLED=0, -trimpath; a server linking much of the standard library: $(mib "${BUILT_SIZE[amd64]}") for amd64, $(mib "${BUILT_SIZE[arm64]}") for arm64), each its own bytes repeated to $(mib "${SIZE[amd64]}") / $(mib "${SIZE[arm64]}"); gzip -6 makes them $(mib "${GZ_SIZE[amd64]}") / $(mib "${GZ_SIZE[arm64]}")"
    echo "- onebin: \`onebin package --binary linux/amd64=A --binary linux/arm64=B --path $APP_PATH --dest oci:DIR:$TAG -q\` into an empty directory each run; reproducible: two runs gave index \`$DIGEST1\`, layouts byte-identical, and the last timed run wrote the same"
    echo "- hyperfine --warmup 1 --runs $RUNS, warm page cache; every variant checked first: the image's top layer holds each input binary (sha256) at $APP_PATH with the right config architecture"
    echo
    echo "| variant | platforms | mean [s] | stddev [s] | min [s] | max [s] | CPU user+sys [s] | × onebin |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    jq -r '.results[] | [.command, .mean, (.stddev // 0), .min, .max, (.user + .system)] | @tsv' "$HF_JSON" |
        awk -F'\t' -v base="$ONEBIN_MEAN" '{
            name = $1; gsub(/\|/, "\\|", name)
            plat = "amd64 + arm64"
            if (name ~ /amd64 only/ || name ~ /one binary/) plat = "amd64"
            if (name ~ /^gzip/) name = "`" name "`"
            printf "| %s | %s | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f |\n", name, plat, $2, $3, $4, $5, $6, $2 / base
        }'
    echo
    echo "**onebin / one \`gzip -6\`**: $(awk -v o="$ONEBIN_MEAN" -v g="$GZIP1_MEAN" 'BEGIN { printf "%.3f s / %.3f s", o, g }') = **${RATIO}×**, $VERDICT (target: at most 0.6×). **onebin / umoci**: **${UMOCI_RATIO}×**, $UMOCI_VERDICT (target: at most 1×). onebin / two \`gzip -6\` in parallel: $(awk -v o="$ONEBIN_MEAN" -v g="$GZIP2_MEAN" 'BEGIN { printf "%.2f×", o / g }')."
    echo
    echo "Compressed layer sizes (± vs \`gzip -6\` of the binary alone, which has no tar header):"
    echo
    echo "| platform | binary | gzip -6 | onebin layer | onebin zstd layer | umoci layer |$(if [[ -n ${LAYER_SIZE[buildx,amd64]:-} ]]; then echo " buildx layer |"; fi)"
    echo "|---|---:|---:|---:|---:|---:|$(if [[ -n ${LAYER_SIZE[buildx,amd64]:-} ]]; then echo "---:|"; fi)"
    for arch in "${PLATFORMS[@]}"; do
        echo "| linux/$arch | $(mib "${SIZE[$arch]}") | $(mib "${GZ_SIZE[$arch]}") | $(size_cell onebin "$arch") | $(size_cell zstd "$arch") | $(size_cell umoci "$arch") |$(if [[ -n ${LAYER_SIZE[buildx,amd64]:-} ]]; then echo " $(size_cell buildx "$arch") |"; fi)"
    done
    echo
    echo "Notes:"
    echo
    echo "- onebin's time includes writing the OCI index and reading both binaries back out of the written image (decompressing each layer and checking its sha256)."
    echo "- onebin compresses each layer on every core: gzip as 1 MiB members (libdeflate, level 4), zstd with zstd's own workers (level 3); the bytes do not depend on the number of cores."
    echo "- umoci cannot make a multi-arch index: it writes one manifest per tag (\`amd64\`, \`arm64\`) into one layout; \`umoci config\` sets the architecture and entrypoint (umoci new takes the host's). umoci compresses with its own parallel gzip, at its default level."
    if [[ $HAVE_DOCKER == 1 ]]; then
        echo "- docker build: classic builder (\`DOCKER_BUILDKIT=0\`, \`--no-cache\`), \`FROM scratch\` + \`COPY\` + \`ENTRYPOINT\`; the image is removed before each run. Docker stores layers uncompressed (it compresses only on push or \`docker save | gzip\`), so this row does no compression work."
        if [[ $HAVE_BUILDX != 1 ]]; then
            echo "- \`docker buildx\` is not installed here, so there is no multi-platform docker row: the docker row packages the amd64 binary only."
        fi
        if [[ -n $DROPPED ]]; then echo "- $DROPPED."; fi
    else
        echo "- docker variants skipped: \`docker info\` failed (or NO_DOCKER=1)."
    fi
} >"$REPORT"

emit_report "$REPORT"
