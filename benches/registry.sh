#!/usr/bin/env bash
# Benchmark: push and pull a multi-arch image through a loopback registry
# (Debian's docker-registry, CNCF distribution 2.8, plain HTTP on 127.0.0.1).
#
#   push: onebin package --base oci:BASE --dest docker://   (base layers + the new
#         layer + manifests + index, then the binaries read back by digest)
#         vs skopeo copy --all of the same packaged image, oci: -> docker://,
#         each into an empty registry (stopped, wiped and restarted before each run);
#         onebin package --dest oci: (local) isolates what the push adds
#   pull: onebin extract docker:// (reads only each platform's top layer)
#         vs skopeo copy --all docker:// -> oci: (every layer of every platform)
#         vs skopeo copy of one platform (linux/amd64)
#   plus: the bytes the registry served to each (its access log), and its CPU time
#
# Usage:
#   benches/registry.sh                                 # ~300 MiB image, 3 runs
#   SIZE_MB=40 RUNS=1 benches/registry.sh               # quick check
#   ONEBIN=/path/to/onebin OUT_MD=bench.md benches/registry.sh
# Progress and hyperfine's own output go to stderr, the Markdown report to stdout.
#
# Environment (all optional):
#   SIZE_MB=300     size of the base image's layers, both platforms together:
#                   3 layers per platform (linux/amd64, linux/arm64), each
#                   platform its own bytes, incompressible (gzip size ~ tar size)
#   APP_MB=2        size of each binary: the example's hello binaries
#                   (examples/hello/image) padded with seeded random bytes
#                   (appended bytes keep the ELF valid); 0 = as built (17 KiB,
#                   586 KiB). Kept small so compressing the new layer is minor.
#   RUNS=3          hyperfine --runs (after --warmup 1)
#   PORT=N          registry port on 127.0.0.1; default: a free one
#   BENCH_DIR=DIR   parent of the (temporary) work dir; default: mktemp -d
#   KEEP=1          keep the work dir at exit (the registry is stopped anyway)
#   ONEBIN=PATH     onebin binary to use; default: cargo build --release -p onebin
#                   in this repository, then target/release/onebin
#   OUT_MD=FILE     also write the Markdown report to FILE
#
# Needs: docker-registry, skopeo, umoci, hyperfine, jq, curl, openssl, gzip, tar,
# sha256sum.
#
# All data is generated from fixed seeds (AES-CTR keystreams) with fixed mtimes
# and dates, so repeated runs on one machine build the same image. Client and
# registry share the 2 (or N) CPUs and the disk; all timings are with a warm
# page cache. Neither tool gets credentials: DOCKER_CONFIG and
# REGISTRY_AUTH_FILE point at empty files, the registry is anonymous.
set -euo pipefail

SIZE_MB=${SIZE_MB:-300}
APP_MB=${APP_MB:-2}
RUNS=${RUNS:-3}
KEEP=${KEEP:-0}
BASE_TAG=bench
TAG=v1
REPO_NAME=bench/app
APP_PATH=/usr/local/bin/app
HELLO_PATH=/usr/local/bin/hello
PLATFORMS=(amd64 arm64)

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=benches/lib.sh
source "$REPO/benches/lib.sh"


need docker-registry skopeo umoci hyperfine jq curl openssl gzip tar sha256sum
UPTIME_BEFORE=$(uptime)

# ---------------------------------------------------------------- work dir
make_work_dir
REG=$WORK/registry
CTL=$WORK/registry-ctl
on_exit() { [[ ! -x ${CTL:-} ]] || "$CTL" stop || true; }

# ---------------------------------------------------------------- onebin
snapshot_onebin

# No credentials, no credential helpers, for either tool; and not in a git
# checkout, so onebin adds no git-derived labels (the image is the same anywhere).
mkdir -p "$WORK/docker-config"
echo '{}' >"$WORK/docker-config/config.json"
echo '{}' >"$WORK/auth.json"
export DOCKER_CONFIG=$WORK/docker-config REGISTRY_AUTH_FILE=$WORK/auth.json
unset CI_REGISTRY CI_REGISTRY_USER CI_REGISTRY_PASSWORD SOURCE_DATE_EPOCH
cd "$WORK"

# ---------------------------------------------------------------- data generators
MiB=$((1024 * 1024))

# ---------------------------------------------------------------- the binaries
log "binaries: the example's hello for linux/amd64 and linux/arm64, padded to ${APP_MB} MiB"
"$ONEBIN" extract "oci:$REPO/examples/hello/image" --path "$HELLO_PATH" --out "$WORK/hello" -q >/dev/null
declare -A BIN SHA SIZE
for arch in "${PLATFORMS[@]}"; do
    BIN[$arch]=$WORK/app/app_linux_$arch
    mkdir -p "$WORK/app"
    cp "$WORK/hello/hello_linux_$arch" "${BIN[$arch]}"
    have=$(stat -c %s "${BIN[$arch]}")
    if ((APP_MB > 0 && APP_MB * MiB > have)); then
        rand_file "pad-$arch" $((APP_MB * MiB - have)) "$WORK/pad"
        cat "$WORK/pad" >>"${BIN[$arch]}"
        rm -f "$WORK/pad"
    fi
    chmod 0755 "${BIN[$arch]}"
    SHA[$arch]=$(sha256sum "${BIN[$arch]}" | cut -d' ' -f1)
    SIZE[$arch]=$(stat -c %s "${BIN[$arch]}")
done

# ---------------------------------------------------------------- the base image
# One umoci layout, one tag per platform (umoci makes no index), 3 layers each;
# then an image index over the two manifests, tagged $BASE_TAG.
BASE=$WORK/base
PER=$((SIZE_MB * MiB / 2))            # bytes per platform
pct() { echo $((PER * $1 / 100)); }
ARCH=
fill_os() { # 40 %: a few big blobs
    local r=$1 i
    mkdir -p "$r/opt/base" "$r/etc"
    printf 'NAME="onebin registry bench base"\nVERSION_ID=1\nARCH=%s\n' "$ARCH" >"$r/etc/os-release"
    for i in 0 1 2 3; do rand_file "$ARCH-os-$i" "$(pct 10)" "$r/opt/base/blob-$i.bin"; done
}
fill_libs() { # 35 %: many 128 KiB files
    local d=$1/usr/lib/bench
    mkdir -p "$d"
    rand_file "$ARCH-libs" "$(pct 35)" "$WORK/libs.bin"
    split -b 128K -d -a 5 "$WORK/libs.bin" "$d/lib-"
    rm -f "$WORK/libs.bin"
}
fill_data() { # 25 %: two data files
    local r=$1
    mkdir -p "$r/var/lib/bench"
    rand_file "$ARCH-data-0" "$(pct 15)" "$r/var/lib/bench/data-0.bin"
    rand_file "$ARCH-data-1" "$(pct 10)" "$r/var/lib/bench/data-1.bin"
}
log "building the base: linux/amd64 + linux/arm64, 3 layers each, ${SIZE_MB} MiB in all, in $BASE"
umoci init --layout "$BASE"
for ARCH in "${PLATFORMS[@]}"; do
    umoci new --image "$BASE:$ARCH"
    layer "$BASE:$ARCH" os fill_os
    layer "$BASE:$ARCH" libs fill_libs
    layer "$BASE:$ARCH" data fill_data
    umoci config --image "$BASE:$ARCH" --no-history --created "$EPOCH_RFC3339" \
        --os linux --architecture "$ARCH"
done
umoci gc --layout "$BASE"
put_blob() { # DIR FILE -> digest; moves FILE into DIR's blobs
    local d
    d=sha256:$(sha256sum "$2" | cut -d' ' -f1)
    mv "$2" "$(blob "$1" "$d")"
    echo "$d"
}
jq -c '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [.manifests[] | {mediaType, digest, size,
            platform: {os: "linux", architecture: .annotations["org.opencontainers.image.ref.name"]}}]}' \
    "$BASE/index.json" >"$WORK/base-index.json"
BASE_INDEX_SIZE=$(stat -c %s "$WORK/base-index.json")
BASE_INDEX=$(put_blob "$BASE" "$WORK/base-index.json")
jq -c -n --arg d "$BASE_INDEX" --argjson s "$BASE_INDEX_SIZE" --arg t "$BASE_TAG" \
    '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.index.v1+json",
        digest: $d, size: $s, annotations: {"org.opencontainers.image.ref.name": $t}}]}' >"$BASE/index.json"

# ---------------------------------------------------------------- the packaged image
# The image both tools push: onebin package on that base, to a local layout.
PKG=$WORK/image
package_cmd() { # DEST [extra args]
    local dest=$1
    shift
    printf '%q package --binary linux/amd64=%q --binary linux/arm64=%q --path %s --base %q --dest %q' \
        "$ONEBIN" "${BIN[amd64]}" "${BIN[arm64]}" "$APP_PATH" "oci:$BASE:$BASE_TAG" "$dest"
    printf ' %s' "$@"
}
log "onebin package --base oci:$BASE:$BASE_TAG --dest oci:$PKG:$TAG"
bash -c "$(package_cmd "oci:$PKG:$TAG" --json -q)" >"$WORK/package.json"
PKG_DIGEST=$(jq -r .digest "$WORK/package.json")
[[ $PKG_DIGEST == sha256:* && $(jq -r .verified "$WORK/package.json") == true ]] ||
    die "onebin package --dest oci: did not report a verified digest"

# app_of LAYOUT TAG ARCH -> sha256 of APP_PATH in the manifest's top layer
app_of() {
    local dir=$1 m man
    m=$(manifest_for "$@") || { echo no-manifest; return; }
    man=$(blob "$dir" "$m")
    { gzip -dc "$(blob "$dir" "$(jq -r '.layers[-1].digest' "$man")")" |
        tar -xOf - "${APP_PATH#/}" 2>/dev/null || true; } | sha256sum | cut -d' ' -f1
}
# blobs_ok LAYOUT: every blob's bytes match its name; prints the sorted digests
blobs_ok() {
    local f
    for f in "$1"/blobs/sha256/*; do
        [[ $(sha256sum "$f" | cut -d' ' -f1) == "${f##*/}" ]] || die "$f: content does not match its name"
    done
    (cd "$1/blobs/sha256" && ls | sort)
}

declare -A MANIFEST TOP_SIZE PLATFORM_SIZE
IMG_BYTES=0
for arch in "${PLATFORMS[@]}"; do
    MANIFEST[$arch]=$(manifest_for "$PKG" "$TAG" "$arch") || die "$PKG: no linux/$arch manifest"
    man=$(blob "$PKG" "${MANIFEST[$arch]}")
    got=$(app_of "$PKG" "$TAG" "$arch")
    [[ $got == "${SHA[$arch]}" ]] || die "packaged image: linux/$arch app is $got, want ${SHA[$arch]}"
    TOP_SIZE[$arch]=$(jq '.layers[-1].size' "$man")
    PLATFORM_SIZE[$arch]=$(jq '([.layers[].size] | add) + .config.size' "$man")
done
NLAYERS=$(jq '.layers | length' "$(blob "$PKG" "${MANIFEST[amd64]}")")
PKG_BLOBS=$(blobs_ok "$PKG")
NBLOBS=$(wc -l <<<"$PKG_BLOBS")
for d in $PKG_BLOBS; do IMG_BYTES=$((IMG_BYTES + $(stat -c %s "$PKG/blobs/sha256/$d"))); done
log "image: index $PKG_DIGEST, $NBLOBS blobs, $IMG_BYTES bytes"

# ---------------------------------------------------------------- the registry
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [[ -z ${PORT:-} ]]; then
    for _ in $(seq 50); do
        PORT=$((20000 + RANDOM % 40000))
        port_free "$PORT" && break
    done
fi
port_free "$PORT" || die "port $PORT is in use"
HOST=127.0.0.1:$PORT
REF=$HOST/$REPO_NAME:$TAG
mkdir -p "$REG"
cat >"$REG/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $REG/data
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $HOST
  secret: onebin-bench
EOF
# registry-ctl start|stop|restart: restart = stop, wipe the storage, start, and
# wait until /v2/ answers. The access log (stdout) starts empty at each start.
cat >"$CTL" <<EOF
#!/usr/bin/env bash
set -euo pipefail
REG=$(printf %q "$REG")
EOF
cat >>"$CTL" <<'EOF'
stop() {
    local pid i st
    [[ -s $REG/pid ]] || return 0
    pid=$(cat "$REG/pid")
    kill "$pid" 2>/dev/null || true
    for i in $(seq 400); do
        st=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null || true)
        [[ -n $st && $st != Z ]] || break
        sleep 0.025
    done
    rm -f "$REG/pid"
}
start() {
    local i
    mkdir -p "$REG/data"
    # A clean environment: the registry reads REGISTRY_* variables as configuration
    # (REGISTRY_AUTH_FILE, exported for the clients, would be its auth section).
    env -i PATH="$PATH" HOME="$HOME" docker-registry serve "$REG/config.yml" \
        >"$REG/access.log" 2>>"$REG/registry.log" </dev/null &
    echo $! >"$REG/pid"
    for i in $(seq 800); do
        kill -0 "$(cat "$REG/pid")" 2>/dev/null || break
        if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://$(awk '/addr:/ { print $2 }' "$REG/config.yml")/v2/") == 200 ]]; then
            return 0
        fi
        sleep 0.025
    done
    echo "registry-ctl: docker-registry did not answer /v2/ (see $REG/registry.log)" >&2
    exit 1
}
case $1 in
    start) start ;;
    stop) stop ;;
    restart) stop; rm -rf "$REG/data"; start ;;
    *) echo "usage: registry-ctl start|stop|restart" >&2; exit 2 ;;
esac
EOF
chmod +x "$CTL"
log "docker-registry on $HOST (storage $REG/data)"
"$CTL" restart

# ---------------------------------------------------------------- access log / CPU accounting
ACCESS=$REG/access.log
CLK_TCK=$(getconf CLK_TCK)
mark() { wc -l <"$ACCESS"; }
reg_ticks() { awk '{ print $14 + $15 }' "/proc/$(cat "$REG/pid")/stat"; }
# req_stats FROM_LINE -> requests HEAD POST PATCH PUT GET manifest_GETs blob_GETs blob_bytes all_bytes
req_stats() {
    sleep 0.2 # the access log is written after the response
    tail -n +"$(($1 + 1))" "$ACCESS" | awk -F'"' '
        $2 ~ /^[A-Z]+ \// {
            split($2, r, " "); split($3, s, " ")
            n++; by[r[1]]++; bytes += s[2]
            if (r[1] == "GET" && r[2] ~ /\/manifests\//) man++
            if (r[1] == "GET" && r[2] ~ /\/blobs\/sha256:/) { blobs++; bb += s[2] }
        }
        END { printf "%d %d %d %d %d %d %d %d %d %d\n", n, by["HEAD"], by["POST"], by["PATCH"], by["PUT"], by["GET"], man, blobs, bb, bytes }'
}

# ---------------------------------------------------------------- the variants
OUT=$WORK/out
ONEBIN_PUSH="onebin package → docker://"
SKOPEO_PUSH="skopeo copy --all oci: → docker://"
ONEBIN_LOCAL="onebin package → oci: (local, no registry)"
PUSH_NAMES=() PUSH_CMDS=() PUSH_PREPS=()
padd() { PUSH_NAMES+=("$1"); PUSH_CMDS+=("$2"); PUSH_PREPS+=("$3"); }
padd "$ONEBIN_PUSH" "$(package_cmd "docker://$REF" -q)" "$(q "$CTL") restart"
padd "$SKOPEO_PUSH" \
    "skopeo copy -q --all --dest-tls-verify=false $(q "oci:$PKG:$TAG") $(q "docker://$REF")" \
    "$(q "$CTL") restart"
padd "$ONEBIN_LOCAL" "$(package_cmd "oci:$OUT:$TAG" -q)" "rm -rf $(q "$OUT")"

ONEBIN_PULL="onebin extract docker:// (2 platforms)"
ONEBIN_PULL1="onebin extract docker:// --platform linux/amd64"
SKOPEO_PULL="skopeo copy --all docker:// → oci:"
SKOPEO_PULL1="skopeo copy docker:// → oci: (linux/amd64)"
ONEBIN_INSPECT="onebin inspect docker://"
PULL_NAMES=() PULL_CMDS=() PULL_PREPS=()
ladd() { PULL_NAMES+=("$1"); PULL_CMDS+=("$2"); PULL_PREPS+=("$3"); }
ladd "$ONEBIN_PULL" "$(q "$ONEBIN") extract $(q "docker://$REF") --path $APP_PATH --out $(q "$OUT") -q" "rm -rf $(q "$OUT")"
ladd "$ONEBIN_PULL1" "$(q "$ONEBIN") extract $(q "docker://$REF") --platform linux/amd64 --path $APP_PATH --out $(q "$OUT") -q" "rm -rf $(q "$OUT")"
ladd "$SKOPEO_PULL" "skopeo copy -q --all --src-tls-verify=false $(q "docker://$REF") $(q "oci:$OUT:$TAG")" "rm -rf $(q "$OUT")"
ladd "$SKOPEO_PULL1" "skopeo --override-os linux --override-arch amd64 copy -q --src-tls-verify=false $(q "docker://$REF") $(q "oci:$OUT:$TAG")" "rm -rf $(q "$OUT")"
ladd "$ONEBIN_INSPECT" "$(q "$ONEBIN") inspect $(q "docker://$REF") >/dev/null" "true"

# ---------------------------------------------------------------- checks (and one measured run each)
declare -A STATS CPU
# registry_is_pkg: the tag in the registry names the packaged index, and every
# binary comes back out of it (onebin extract, checked by sha256).
registry_is_pkg() {
    local raw arch got
    raw=$(skopeo inspect --raw --tls-verify=false "docker://$REF" | sha256sum | cut -d' ' -f1)
    [[ sha256:$raw == "$PKG_DIGEST" ]] || die "$1: the registry's $TAG is sha256:$raw, want $PKG_DIGEST"
    rm -rf "$WORK/check"
    "$ONEBIN" extract "docker://$REF" --path "$APP_PATH" --out "$WORK/check" -q >/dev/null
    for arch in "${PLATFORMS[@]}"; do
        got=$(sha256sum "$WORK/check/app_linux_$arch" | cut -d' ' -f1)
        [[ $got == "${SHA[$arch]}" ]] || die "$1: linux/$arch app read back is $got, want ${SHA[$arch]}"
    done
    rm -rf "$WORK/check"
}

log "checking every push variant's result"
for i in "${!PUSH_NAMES[@]}"; do
    name=${PUSH_NAMES[$i]}
    bash -c "${PUSH_PREPS[$i]}"
    from=$(mark) t0=$(reg_ticks)
    bash -c "${PUSH_CMDS[$i]}" >/dev/null
    STATS[$name]=$(req_stats "$from")
    CPU[$name]=$(awk -v a="$t0" -v b="$(reg_ticks)" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / h }')
    case $name in
        "$ONEBIN_LOCAL")
            [[ $(tag_digest "$OUT" "$TAG") == "$PKG_DIGEST" ]] || die "$name: index $(tag_digest "$OUT" "$TAG"), want $PKG_DIGEST"
            [[ $(blobs_ok "$OUT") == "$PKG_BLOBS" ]] || die "$name: the layout's blobs differ from the packaged image's" ;;
        *) registry_is_pkg "$name" ;;
    esac
    printf '   ok  %-48s index %s\n' "$name" "$PKG_DIGEST" >&2
done

log "pushing the image once more (skopeo) for the pulls"
"$CTL" restart
skopeo copy -q --all --dest-tls-verify=false "oci:$PKG:$TAG" "docker://$REF"
registry_is_pkg "setup push"

log "checking every pull variant's result"
for i in "${!PULL_NAMES[@]}"; do
    name=${PULL_NAMES[$i]}
    bash -c "${PULL_PREPS[$i]}"
    from=$(mark) t0=$(reg_ticks)
    bash -c "${PULL_CMDS[$i]}" >"$WORK/stdout"
    STATS[$name]=$(req_stats "$from")
    CPU[$name]=$(awk -v a="$t0" -v b="$(reg_ticks)" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / h }')
    case $name in
        "$ONEBIN_PULL" | "$ONEBIN_PULL1")
            arches=("${PLATFORMS[@]}")
            [[ $name == "$ONEBIN_PULL1" ]] && arches=(amd64)
            [[ $(ls "$OUT" | grep -c '^app_') == "${#arches[@]}" ]] || die "$name: want ${#arches[@]} files in $OUT: $(ls "$OUT")"
            for arch in "${arches[@]}"; do
                got=$(sha256sum "$OUT/app_linux_$arch" | cut -d' ' -f1)
                [[ $got == "${SHA[$arch]}" ]] || die "$name: linux/$arch is $got, want ${SHA[$arch]}"
                grep -q "^${SHA[$arch]}  app_linux_$arch\$" "$OUT/checksums.txt" || die "$name: checksums.txt lacks linux/$arch"
            done
            got="${#arches[@]} binaries" ;;
        "$SKOPEO_PULL")
            [[ $(tag_digest "$OUT" "$TAG") == "$PKG_DIGEST" ]] || die "$name: index $(tag_digest "$OUT" "$TAG"), want $PKG_DIGEST"
            [[ $(blobs_ok "$OUT") == "$PKG_BLOBS" ]] || die "$name: the copied blobs differ from the image's"
            for arch in "${PLATFORMS[@]}"; do
                [[ $(app_of "$OUT" "$TAG" "$arch") == "${SHA[$arch]}" ]] || die "$name: linux/$arch app differs"
            done
            got="index $PKG_DIGEST, all $NBLOBS blobs" ;;
        "$SKOPEO_PULL1")
            [[ $(tag_digest "$OUT" "$TAG") == "${MANIFEST[amd64]}" ]] || die "$name: manifest $(tag_digest "$OUT" "$TAG"), want ${MANIFEST[amd64]}"
            blobs_ok "$OUT" >/dev/null
            [[ $(app_of "$OUT" "$TAG" amd64) == "${SHA[amd64]}" ]] || die "$name: linux/amd64 app differs"
            got="manifest ${MANIFEST[amd64]}" ;;
        "$ONEBIN_INSPECT")
            "$ONEBIN" inspect "docker://$REF" --json >"$WORK/inspect.json"
            [[ $(jq -r .digest "$WORK/inspect.json") == "$PKG_DIGEST" ]] || die "$name: digest $(jq -r .digest "$WORK/inspect.json"), want $PKG_DIGEST"
            got="index $PKG_DIGEST" ;;
    esac
    printf '   ok  %-48s %s\n' "$name" "$got" >&2
done

# ---------------------------------------------------------------- hyperfine
# Watch for other load while hyperfine runs: runnable processes outside this
# session (the registry runs in it: it does the benchmark's work).
start_sampler

PUSH_JSON=$WORK/push.json
PULL_JSON=$WORK/pull.json
run_hyperfine "$PUSH_JSON" 1 "$RUNS" PUSH_NAMES PUSH_CMDS PUSH_PREPS
# The pulls read what the last push row left: put the image back in a fresh registry.
"$CTL" restart
skopeo copy -q --all --dest-tls-verify=false "oci:$PKG:$TAG" "docker://$REF"
run_hyperfine "$PULL_JSON" 1 "$RUNS" PULL_NAMES PULL_CMDS PULL_PREPS

stop_sampler

# The last timed runs must still have left the same image behind.
registry_is_pkg "after hyperfine"

UPTIME_AFTER=$(uptime)

# ---------------------------------------------------------------- report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { if awk -v r="$1" 'BEGIN { exit !(r <= 0.7) }'; then echo "ok (≤ 0.7×)"; else echo "**OVER 0.7×**"; fi; }
table() { # JSON BASE_MEAN
    echo "| variant | mean [s] | stddev [s] | min [s] | max [s] | client CPU user+sys [s] | × skopeo |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    jq -r '.results[] | [.command, .mean, (.stddev // 0), .min, .max, (.user + .system)] | @tsv' "$1" |
        awk -F'\t' -v base="$2" '{
            name = $1; gsub(/\|/, "\\|", name)
            printf "| %s | %.3f | %.3f | %.3f | %.3f | %.2f | %.2f |\n", name, $2, $3, $4, $5, $6, $2 / base
        }'
}
P_ONEBIN=$(mean_of "$PUSH_JSON" "$ONEBIN_PUSH")
P_SKOPEO=$(mean_of "$PUSH_JSON" "$SKOPEO_PUSH")
P_LOCAL=$(mean_of "$PUSH_JSON" "$ONEBIN_LOCAL")
L_ONEBIN=$(mean_of "$PULL_JSON" "$ONEBIN_PULL")
L_ONEBIN1=$(mean_of "$PULL_JSON" "$ONEBIN_PULL1")
L_SKOPEO=$(mean_of "$PULL_JSON" "$SKOPEO_PULL")
L_SKOPEO1=$(mean_of "$PULL_JSON" "$SKOPEO_PULL1")
R_PUSH=$(ratio "$P_ONEBIN" "$P_SKOPEO")
R_PULL=$(ratio "$L_ONEBIN" "$L_SKOPEO")
R_PULL1=$(ratio "$L_ONEBIN1" "$L_SKOPEO1")
PUSH_EXTRA=$(awk -v a="$P_ONEBIN" -v b="$P_LOCAL" 'BEGIN { printf "%.3f", a - b }')

REPORT=$WORK/report.md
{
    echo "## onebin registry benchmark (push and pull over loopback)"
    echo
    report_conditions before "; work dir and registry storage on $(df -T "$WORK" | awk 'NR == 2 { print $2 }')"
    echo "- tools: $(onebin_tool), $(skopeo --version), $(docker-registry --version | awk '{ print "docker-registry " $3 }') (filesystem storage, plain HTTP on 127.0.0.1, anonymous), umoci $(umoci --version | awk '{ print $3 }'), hyperfine $(hyperfine --version | awk '{ print $2 }')"
    echo "- image: index \`$PKG_DIGEST\`, linux/amd64 + linux/arm64, $NLAYERS layers each (3 base layers of incompressible data, different per platform, + the binary's layer), $NBLOBS blobs, $(mib "$IMG_BYTES") in all (compressed); per platform $(mib "${PLATFORM_SIZE[amd64]}") / $(mib "${PLATFORM_SIZE[arm64]}"); binaries: the example's hello padded to $(mib "${SIZE[amd64]}") / $(mib "${SIZE[arm64]}"), top layers $(mib "${TOP_SIZE[amd64]}") / $(mib "${TOP_SIZE[arm64]}") gzip"
    echo "- hyperfine --warmup 1 --runs $RUNS, warm page cache. Every variant checked first: pushes leave the tag naming the same index digest (\`skopeo inspect --raw\`) with both binaries readable by sha256; pulls yield the binaries (sha256) or the same blobs, each checked against its digest"
    echo
    echo "### Push (into an empty registry each run)"
    echo
    table "$PUSH_JSON" "$P_SKOPEO"
    echo
    echo "**onebin push / skopeo push**: $(awk -v o="$P_ONEBIN" -v s="$P_SKOPEO" 'BEGIN { printf "%.3f s / %.3f s", o, s }') = **${R_PUSH}×**, $(verdict "$R_PUSH") (target: at most 0.7×)."
    echo "What the push adds over writing the same image to a local layout: $(printf '%.3f − %.3f' "$P_ONEBIN" "$P_LOCAL") = **$PUSH_EXTRA s** ($(ratio "$PUSH_EXTRA" "$P_SKOPEO")× skopeo's push)."
    echo
    echo "### Pull (the image above, in the registry)"
    echo
    table "$PULL_JSON" "$L_SKOPEO"
    echo
    echo "**onebin extract / skopeo copy --all**: $(awk -v o="$L_ONEBIN" -v s="$L_SKOPEO" 'BEGIN { printf "%.3f s / %.3f s", o, s }') = **${R_PULL}×**, $(verdict "$R_PULL"); one platform: onebin extract --platform linux/amd64 / skopeo copy (linux/amd64): $(awk -v o="$L_ONEBIN1" -v s="$L_SKOPEO1" 'BEGIN { printf "%.3f s / %.3f s", o, s }') = **${R_PULL1}×**, $(verdict "$R_PULL1") (target: at most 0.7×)."
    echo
    echo "### What the registry served and did (one run of each, from its access log)"
    echo
    echo "| variant | requests | HEAD | POST | PATCH | PUT | GET manifests | GET blobs | blob bytes served | all bytes served | % of the image | registry CPU [s] |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for name in "$ONEBIN_PUSH" "$SKOPEO_PUSH" "$ONEBIN_PULL" "$ONEBIN_PULL1" "$SKOPEO_PULL" "$SKOPEO_PULL1" "$ONEBIN_INSPECT"; do
        read -r n head post patch put _get man blobs bb all <<<"${STATS[$name]}"
        printf '| %s | %d | %d | %d | %d | %d | %d | %d | %s | %s | %s | %s |\n' \
            "$name" "$n" "$head" "$post" "$patch" "$put" "$man" "$blobs" "$(mib "$bb")" "$(mib "$all")" \
            "$(awk -v a="$all" -v b="$IMG_BYTES" 'BEGIN { printf "%.2f %%", 100 * a / b }')" "${CPU[$name]}"
    done
    echo
    read -r _ _ _ _ _ _ _ _ bb_onebin _ <<<"${STATS[$ONEBIN_PULL]}"
    read -r _ _ _ _ _ _ _ _ bb_skopeo _ <<<"${STATS[$SKOPEO_PULL]}"
    echo "**Extracting the binary from the top layer fetches only that layer**: onebin extract (both platforms) was served $(mib "$bb_onebin") of blobs (the two top layers are $(mib $((TOP_SIZE[amd64] + TOP_SIZE[arm64]))), plus two configs), skopeo copy --all $(mib "$bb_skopeo") (the whole image, $(mib "$IMG_BYTES")): $(awk -v a="$bb_skopeo" -v b="$bb_onebin" 'BEGIN { printf "%.0f×", a / b }') fewer bytes."
    echo
    echo "Notes:"
    echo
    echo "- Push rows: the registry is stopped, its storage wiped and restarted (and \`/v2/\` answering) in hyperfine's \`--prepare\`, outside the timing, so both tools push every blob. The registry runs on the same $(nproc) CPUs: its CPU time (last column) is not in the client CPU column."
    echo "- \`onebin package → docker://\` is \`onebin package --binary linux/amd64=A --binary linux/arm64=B --path $APP_PATH --base oci:BASE --dest docker://$REPO_NAME:$TAG\`: it also builds the image (gzip -6 of each binary, tar, configs, manifests) and, after the push, reads every binary back from the registry by digest and checks it. \`skopeo copy --all\` pushes the already built image (\`onebin package --dest oci:\` of the same inputs, same index digest) and checks nothing afterwards. The local row (\`--dest oci:\`) does the same build and read-back, and copies the base's blobs into the new layout (read, digest-checked, written): the difference between the two onebin rows is sending over HTTP (plus the registry's work) instead of writing files."
    echo "- Pull rows: \`onebin extract\` reads the index, each platform's manifest and config and then only the top layer, where $APP_PATH is, so it fetches a few MiB whatever the size of the base; onebin has no command that reads a whole remote image (no \`copy\`), so there is no like-for-like full-image row. \`skopeo copy --all\` fetches and digest-checks every blob and writes an OCI layout. The one-platform rows compare like with like in scope (one platform) but not in work: skopeo still copies all $NLAYERS layers."
    echo "- \`onebin inspect\` is the floor of a remote read: the index, the manifests and the configs."
    echo "- Bytes served are the response sizes the registry logs for each request (Apache combined format); uploads are not in them (the push rows show the requests instead)."
} >"$REPORT"

emit_report "$REPORT"
