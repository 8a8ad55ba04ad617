#!/usr/bin/env bash
# Benchmark: take one binary out of a multi-layer OCI image.
#
#   onebin extract  vs  umoci unpack  vs  docker load+create+cp
#   vs the physical limit (gzip -dc | sha256sum of the layer onebin must read)
#
# Usage:
#   benches/extract.sh                                  # 1 GiB image, 3 runs
#   SIZE_MB=64 RUNS=1 benches/extract.sh                # quick check
#   ONEBIN=/path/to/onebin OUT_MD=bench.md benches/extract.sh
# Progress and hyperfine's own output go to stderr, the Markdown report to stdout.
#
# Environment (all optional):
#   SIZE_MB=1024    uncompressed size of the image's three base layers
#   BIG_MB=$SIZE_MB size of the filler in the single-layer image used for the
#                   peak-RSS-vs-layer-size measurement
#   APP_SRC=/usr/bin/skopeo   bytes used for /usr/local/bin/app
#   APP_MB=40       app size in MiB (APP_SRC repeated then cut); 0 = APP_SRC as is
#   RUNS=3          hyperfine --runs (after --warmup 1)
#   BENCH_DIR=DIR   parent of the (temporary) work dir; default: mktemp -d
#   KEEP=1          keep the work dir (and the docker image) at exit
#   ONEBIN=PATH     onebin binary to use; default: cargo build --release -p onebin
#                   in this repository, then target/release/onebin
#   OUT_MD=FILE     also write the Markdown report to FILE
#   NO_DOCKER=1     skip the docker variant
#
# Needs: umoci, skopeo, hyperfine, jq, openssl, gzip, sha256sum, GNU /usr/bin/time
# (apt-get install time), docker (optional: skipped if `docker info` fails).
#
# All data is generated from fixed seeds (AES-CTR keystreams, seeded awk) with
# fixed mtimes and history dates, so repeated runs on one machine build the
# same image. All timings are with a warm page cache.
set -euo pipefail

SIZE_MB=${SIZE_MB:-1024}
BIG_MB=${BIG_MB:-$SIZE_MB}
APP_SRC=${APP_SRC:-/usr/bin/skopeo}
APP_MB=${APP_MB:-40}
RUNS=${RUNS:-3}
KEEP=${KEEP:-0}
NO_DOCKER=${NO_DOCKER:-0}
TAG=bench
DOCKER_REF=bench:latest
APP_PATH=/usr/local/bin/app

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"
# shellcheck disable=SC2034 # read by sample_load (lib.sh)
LOAD_IGNORE='^(dockerd|containerd|exe|docker-untar)'


need umoci skopeo hyperfine jq openssl gzip sha256sum
[[ -x /usr/bin/time ]] || die "GNU time not found at /usr/bin/time (apt-get install time)"
[[ -r $APP_SRC ]] || die "APP_SRC=$APP_SRC not readable"

# ---------------------------------------------------------------- work dir
HAVE_DOCKER=0
on_remove() {
    if [[ $HAVE_DOCKER == 1 ]]; then
        docker rmi -f "$DOCKER_REF" >/dev/null 2>&1 || true
    fi
}
make_work_dir

# ---------------------------------------------------------------- onebin
snapshot_onebin

if docker_usable; then
    HAVE_DOCKER=1
else
    log "docker variant SKIPPED: docker unavailable (\`docker info\` failed) or NO_DOCKER=1"
fi

UPTIME_BEFORE=$(uptime)

# ---------------------------------------------------------------- data generators
MiB=$((1024 * 1024))

# text_chunk SEED FILE: ~4 MiB of log-like lines (gzip ratio ~ 0.2-0.3).
text_chunk() {
    awk -v seed="$1" 'BEGIN {
        srand(seed)
        split("GET POST PUT DELETE PATCH", m, " ")
        split("INFO INFO INFO DEBUG WARN ERROR", lv, " ")
        split("alice bob carol dave erin frank grace heidi", u, " ")
        split("items orders users carts invoices sessions search", r, " ")
        for (i = 0; i < 42000; i++) {
            printf "2024-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s [worker-%02d] %s /api/v1/%s/%d?page=%d status=%d bytes=%d dur=%.3fms user=%s trace=%08x%08x\n",
                1 + int(rand() * 12), 1 + int(rand() * 28), int(rand() * 24), int(rand() * 60),
                int(rand() * 60), int(rand() * 1000), lv[1 + int(rand() * 6)], int(rand() * 32),
                m[1 + int(rand() * 5)], r[1 + int(rand() * 7)], int(rand() * 100000),
                int(rand() * 50), (rand() < 0.9 ? 200 : 404), int(rand() * 65536),
                rand() * 250, u[1 + int(rand() * 8)], int(rand() * 2147483647), int(rand() * 2147483647)
        }
    }' >"$2"
}

# text_file SEED BYTES FILE: a seeded chunk repeated (chunk >> 32 KiB window, so
# gzip sees ordinary text) and cut to BYTES.
text_file() {
    local chunk=$WORK/chunk.$1 size i n
    text_chunk "$1" "$chunk"
    size=$(stat -c %s "$chunk")
    n=$(($2 / size + 1))
    : >"$3"
    for ((i = 0; i < n; i++)); do cat "$chunk"; done >>"$3"
    truncate -s "$2" "$3"
    rm -f "$chunk"
}

# b64_file SEED BYTES FILE: base64 of random data (gzip ratio ~0.75: Huffman work, few matches).
b64_file() {
    local raw=$WORK/b64.raw
    rand_file "$1" $(($2 * 3 / 4)) "$raw"
    base64 -w 76 "$raw" >"$3"
    truncate -s "$2" "$3"
    rm -f "$raw"
}

make_app() {
    local size dst=$1 i n
    if [[ $APP_MB == 0 ]]; then
        cp "$APP_SRC" "$dst"
    else
        size=$(stat -L -c %s "$APP_SRC")
        n=$((APP_MB * MiB / size + 1))
        for ((i = 0; i < n; i++)); do cat "$APP_SRC"; done >"$dst"
        truncate -s $((APP_MB * MiB)) "$dst"
    fi
    chmod 0755 "$dst"
}

# ---------------------------------------------------------------- umoci helpers
new_image() {
    local img=$1
    umoci init --layout "$img"
    umoci new --image "$img:$TAG"
}

finish_image() {
    local img=$1
    umoci config --image "$img:$TAG" --no-history --created "$EPOCH_RFC3339" \
        --config.cmd /usr/local/bin/app
    umoci gc --layout "$img"
}

# ---------------------------------------------------------------- image 1: 4 layers
pct() { echo $((SIZE_MB * MiB * $1 / 100)); }

fill_base() { # 40 %: incompressible blobs
    local r=$1 i
    mkdir -p "$r/opt/base" "$r/etc"
    printf 'NAME="onebin bench base"\nVERSION_ID=1\n' >"$r/etc/os-release"
    for i in 0 1 2 3; do rand_file "base-$i" "$(pct 10)" "$r/opt/base/blob-$i.bin"; done
}
fill_text() { # 20 % log text + 15 % base64
    local r=$1
    mkdir -p "$r/usr/share/bench"
    text_file 101 "$(pct 10)" "$r/usr/share/bench/text-0.log"
    text_file 102 "$(pct 10)" "$r/usr/share/bench/text-1.log"
    b64_file b64-0 "$(pct 8)" "$r/usr/share/bench/b64-0.txt"
    b64_file b64-1 "$(pct 7)" "$r/usr/share/bench/b64-1.txt"
}
fill_many() { # 25 %: many 128 KiB files, half random, half text
    local r=$1 d=$1/usr/lib/bench
    mkdir -p "$d/bin" "$d/doc"
    rand_file many "$(pct 13)" "$WORK/many.bin"
    text_file 103 "$(pct 12)" "$WORK/many.txt"
    split -b 128K -d -a 5 "$WORK/many.bin" "$d/bin/part-"
    split -b 128K -d -a 5 "$WORK/many.txt" "$d/doc/part-"
    rm -f "$WORK/many.bin" "$WORK/many.txt"
}
fill_top() { # the app, plus a small file
    local r=$1
    mkdir -p "$r/usr/local/bin" "$r/etc"
    make_app "$r$APP_PATH"
    printf 'bench top layer\n' >"$r/etc/bench-release"
}

IMG=$WORK/image
log "building image 1: 4 layers, ${SIZE_MB} MiB + app (${APP_MB} MiB) in $IMG"
new_image "$IMG"
layer "$IMG:$TAG" base fill_base
layer "$IMG:$TAG" text fill_text
layer "$IMG:$TAG" many-files fill_many
layer "$IMG:$TAG" app fill_top
finish_image "$IMG"

# ---------------------------------------------------------------- image 2: 1 big layer
fill_big() { # filler before the app (/data) and after it (/var) in tar order
    local r=$1 half=$((BIG_MB * MiB / 2))
    mkdir -p "$r/data" "$r/var/lib/bench" "$r/usr/local/bin"
    rand_file big-a "$half" "$r/data/blob.bin"
    make_app "$r$APP_PATH"
    text_file 201 $((half / 2)) "$r/var/lib/bench/text.log"
    b64_file big-b $((half / 2)) "$r/var/lib/bench/b64.txt"
}
BIG=$WORK/big
log "building image 2: one layer of ${BIG_MB} MiB + app in $BIG"
new_image "$BIG"
layer "$BIG:$TAG" big fill_big
finish_image "$BIG"

ARCHIVE=$WORK/image.docker.tar
log "skopeo copy oci:$IMG:$TAG docker-archive:$ARCHIVE:$DOCKER_REF"
skopeo copy -q "oci:$IMG:$TAG" "docker-archive:$ARCHIVE:$DOCKER_REF"

# ---------------------------------------------------------------- facts about the images
manifest_of() { # IMAGE_DIR -> path of the manifest blob of $TAG
    blob "$1" "$(tag_digest "$1" "$TAG")"
}
MANIFEST=$(manifest_of "$IMG")
NLAYERS=$(jq '.layers | length' "$MANIFEST")
TOP_DIGEST=$(jq -r '.layers[-1].digest' "$MANIFEST")
TOP_BLOB=$(blob "$IMG" "$TOP_DIGEST")
TOP_MEDIA=$(jq -r '.layers[-1].mediaType' "$MANIFEST")
[[ $TOP_MEDIA == *gzip* ]] || die "top layer is $TOP_MEDIA, not gzip"
IMG_COMPRESSED=$(jq '[.layers[].size] | add' "$MANIFEST")
TOP_COMPRESSED=$(stat -c %s "$TOP_BLOB")
TOP_UNCOMPRESSED=$(gzip -dc "$TOP_BLOB" | wc -c)
IMG_UNCOMPRESSED=0
for d in $(jq -r '.layers[].digest' "$MANIFEST"); do
    IMG_UNCOMPRESSED=$((IMG_UNCOMPRESSED + $(gzip -dc "$(blob "$IMG" "$d")" | wc -c)))
done
BIG_MANIFEST=$(manifest_of "$BIG")
BIG_LAYER_COMPRESSED=$(jq '.layers[-1].size' "$BIG_MANIFEST")
BIG_NLAYERS=$(jq '.layers | length' "$BIG_MANIFEST")
ARCHIVE_SIZE=$(stat -c %s "$ARCHIVE")
gzip -dc "$TOP_BLOB" >"$WORK/top.tar"
APP_SHA=$(tar -xOf "$WORK/top.tar" "${APP_PATH#/}" | sha256sum | cut -d' ' -f1)
APP_SIZE=$(tar -xOf "$WORK/top.tar" "${APP_PATH#/}" | wc -c)
rm -f "$WORK/top.tar"
log "image: $NLAYERS layers, manifest ${MANIFEST##*/}, app sha256 $APP_SHA"

# ---------------------------------------------------------------- the variants
OUT=$WORK/out
BUNDLE=$WORK/unpacked

NAMES=() CMDS=() PREPS=()
add() { NAMES+=("$1"); CMDS+=("$2"); PREPS+=("$3"); }
add "onebin" \
    "$(q "$ONEBIN") extract $(q "oci:$IMG:$TAG") --path $APP_PATH --out $(q "$OUT") -q" \
    "rm -rf $(q "$OUT")"
add "onebin (docker-archive)" \
    "$(q "$ONEBIN") extract $(q "docker-archive:$ARCHIVE") --path $APP_PATH --out $(q "$OUT") -q" \
    "rm -rf $(q "$OUT")"
add "umoci unpack" \
    "umoci unpack --rootless --image $(q "$IMG:$TAG") $(q "$BUNDLE") >/dev/null && sha256sum $(q "$BUNDLE/rootfs$APP_PATH")" \
    "rm -rf $(q "$BUNDLE")"
if [[ $HAVE_DOCKER == 1 ]]; then
    add "docker load+create+cp" \
        "docker load -q -i $(q "$ARCHIVE") >/dev/null && id=\$(docker create $DOCKER_REF x) && docker cp \$id:$APP_PATH $(q "$OUT/app") && docker rm \$id >/dev/null && sha256sum $(q "$OUT/app")" \
        "docker rmi -f $DOCKER_REF >/dev/null 2>&1; rm -rf $(q "$OUT"); mkdir -p $(q "$OUT")"
fi
add "gzip -dc top layer | sha256sum" "gzip -dc $(q "$TOP_BLOB") | sha256sum" "true"
add "cat top layer | sha256sum" "cat $(q "$TOP_BLOB") | sha256sum" "true"

# Correctness: every variant must yield the app's sha256 (the two reference
# rows hash a whole layer, so they are checked against the layer digests).
log "checking every variant's result"
for i in "${!NAMES[@]}"; do
    bash -c "${PREPS[$i]}"
    res=$(bash -c "${CMDS[$i]}")
    case ${NAMES[$i]} in
        onebin*)
            got=$(cut -d' ' -f1 "$OUT/checksums.txt")
            file_sha=$(sha256sum "$OUT"/app_* | cut -d' ' -f1)
            [[ $got == "$file_sha" ]] || die "onebin: checksums.txt $got != file $file_sha" ;;
        gzip*) got=${res%% *}; want=$(jq -r '.rootfs.diff_ids[-1]' "$(dirname "$MANIFEST")/$(jq -r '.config.digest | sub("sha256:"; "")' "$MANIFEST")"); want=${want#sha256:} ;;
        cat*) got=${res%% *}; want=${TOP_DIGEST#sha256:} ;;
        *) got=${res%% *} ;;
    esac
    case ${NAMES[$i]} in gzip* | cat*) ;; *) want=$APP_SHA ;; esac
    [[ $got == "$want" ]] || die "${NAMES[$i]}: got $got, want $want"
    printf '   ok  %-32s %s\n' "${NAMES[$i]}" "$got" >&2
done

# ---------------------------------------------------------------- hyperfine
HF_JSON=$WORK/hyperfine.json
# Watch for other load while hyperfine runs: runnable processes outside this
# session (docker's daemons excluded: they do the docker variant's work).
start_sampler
run_hyperfine "$HF_JSON" 1 "$RUNS" NAMES CMDS PREPS
stop_sampler

# ---------------------------------------------------------------- peak RSS
rss() { # IMAGE_REF -> max RSS in KiB
    rm -rf "$OUT"
    /usr/bin/time -f %M -o "$WORK/rss" "$ONEBIN" extract "$1" --path "$APP_PATH" --out "$OUT" -q >/dev/null
    tail -n1 "$WORK/rss"
}
log "peak RSS"
RSS_IMG=$(rss "oci:$IMG:$TAG")
RSS_ARCHIVE=$(rss "docker-archive:$ARCHIVE")
RSS_BIG=$(rss "oci:$BIG:$TAG")
[[ $(cut -d' ' -f1 "$OUT/checksums.txt") == "$APP_SHA" ]] || die "big image: wrong app sha256"

UPTIME_AFTER=$(uptime)

# ---------------------------------------------------------------- report
ONEBIN_MEAN=$(mean_of "$HF_JSON" onebin)
GZIP_MEAN=$(mean_of "$HF_JSON" "gzip -dc top layer | sha256sum")
RSS_LIMIT=$((64 * 1024))
verdict() { if (($1 < RSS_LIMIT)); then echo "ok (< 64 MiB)"; else echo "**OVER 64 MiB**"; fi; }

REPORT=$WORK/report.md
{
    echo "## onebin extract benchmark"
    echo
    report_conditions before
    echo "- tools: $(onebin_tool), umoci $(umoci --version | awk '{ print $3 }'), skopeo $(skopeo --version | awk '{ print $3 }'), docker $(if [[ $HAVE_DOCKER == 1 ]]; then docker version --format '{{.Server.Version}}'; else echo n/a; fi), $(gzip --version | head -n1), $(sha256sum --version | head -n1), hyperfine $(hyperfine --version | awk '{ print $2 }')"
    echo "- image: \`${MANIFEST##*/}\` (manifest sha256), $NLAYERS layers, $(mib "$IMG_UNCOMPRESSED") uncompressed, $(mib "$IMG_COMPRESSED") gzip; top layer $(mib "$TOP_UNCOMPRESSED") uncompressed, $(mib "$TOP_COMPRESSED") gzip; app $APP_PATH $(mib "$APP_SIZE") (from $APP_SRC), sha256 \`${APP_SHA:0:16}…\`; docker-archive $(mib "$ARCHIVE_SIZE")"
    echo "- hyperfine --warmup 1 --runs $RUNS, warm page cache; every variant checked to produce the app's sha256 (references: the layer's diff_id / digest)"
    echo
    echo "| variant | mean [s] | stddev [s] | min [s] | max [s] | × onebin |"
    echo "|---|---:|---:|---:|---:|---:|"
    jq -r '.results[] | [.command, .mean, (.stddev // 0), .min, .max] | @tsv' "$HF_JSON" |
        awk -F'\t' -v base="$ONEBIN_MEAN" '{
            name = $1; gsub(/\|/, "\\|", name)
            printf "| %s | %.3f | %.3f | %.3f | %.3f | %.2f |\n", name, $2, $3, $4, $5, $2 / base
        }'
    echo
    awk -v o="$ONEBIN_MEAN" -v g="$GZIP_MEAN" 'BEGIN { printf "**onebin / physical limit** (gzip -dc | sha256sum of the top layer, the only layer onebin reads): **%.2f×**\n", o / g }'
    echo
    echo "| onebin peak RSS | layer read | max RSS |"
    echo "|---|---|---:|"
    echo "| \`oci:\` image above ($NLAYERS layers) | top layer, $(mib "$TOP_UNCOMPRESSED") | $((RSS_IMG / 1024)) MiB ($RSS_IMG KiB) $(verdict "$RSS_IMG") |"
    echo "| \`docker-archive:\` of the same image | top layer, $(mib "$TOP_UNCOMPRESSED") (uncompressed tar) | $((RSS_ARCHIVE / 1024)) MiB ($RSS_ARCHIVE KiB) $(verdict "$RSS_ARCHIVE") |"
    echo "| \`oci:\` image with one big layer ($BIG_NLAYERS layer) | $(mib $((BIG_MB * MiB + APP_SIZE))) uncompressed, $(mib "$BIG_LAYER_COMPRESSED") gzip, app in the middle | $((RSS_BIG / 1024)) MiB ($RSS_BIG KiB) $(verdict "$RSS_BIG") |"
    if [[ $HAVE_DOCKER != 1 ]]; then
        echo
        echo "docker variant skipped: \`docker info\` failed (or NO_DOCKER=1)."
    fi
} >"$REPORT"

emit_report "$REPORT"
