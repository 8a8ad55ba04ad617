# shellcheck shell=bash
# Shared by the benchmark scripts: messages, sizes, the work dir, the onebin
# under test, the inputs they build (the Go program, seeded bytes, umoci
# layers), reading OCI layouts, hyperfine runs, the sampler that tells
# whether other work competed for the CPUs, and the report's common lines.
# Sourced after REPO is set, before the script changes directory.

log() { printf '>> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# A relative OUT_MD is relative to where the script started (they cd later).
[[ -z ${OUT_MD:-} || $OUT_MD == /* ]] || OUT_MD=$PWD/$OUT_MD

# Sets ONEBIN to a private copy of $ONEBIN (or of a fresh release build), so a
# concurrent rebuild cannot swap it mid-benchmark; ONEBIN_SRC says where it came from.
snapshot_onebin() {
    if [[ -n ${ONEBIN:-} ]]; then
        [[ -x $ONEBIN ]] || die "ONEBIN=$ONEBIN is not executable"
    else
        log "cargo build --release -p onebin"
        (cd "$REPO" && cargo build --release -p onebin --quiet) ||
            die "cargo build failed; fix the build or point ONEBIN at a built binary"
        ONEBIN=$REPO/target/release/onebin
    fi
    mkdir -p "$WORK/bin"
    cp "$ONEBIN" "$WORK/bin/onebin"
    # shellcheck disable=SC2034 # the sourcing script reports it
    ONEBIN_SRC=$ONEBIN
    ONEBIN=$WORK/bin/onebin
}

# Once a second: the 1-minute load, and the runnable processes outside this
# session. Names matching $LOAD_IGNORE (an awk regex; the Docker engine's own
# work for a Docker row, where one is measured) are not counted.
sample_load() {
    local sid
    sid=$(ps -o sid= -p $$ | tr -d ' ')
    while :; do
        read -r l1 _ </proc/loadavg
        ps -eo stat=,sid=,comm= | awk -v s="$sid" -v l="$l1" -v ignore="${LOAD_IGNORE:-^$}" '
            $1 ~ /^R/ && $2 != s && $2 != 0 && $3 !~ ignore { n++; names = names " " $3 }
            END { printf "%s %d%s\n", l, n, names }'
        sleep 1
    done
}

# q ARG: ARG quoted for a command line that bash -c (or hyperfine) runs.
q() { printf '%q' "$1"; }

# need TOOL...: every TOOL is on PATH, or the script stops naming it.
need() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || die "$tool not found"
    done
}

# True when the docker rows can run: NO_DOCKER is not 1 and an engine answers.
docker_usable() {
    [[ ${NO_DOCKER:-0} != 1 ]] && command -v docker >/dev/null && docker info >/dev/null 2>&1
}

# ---------------------------------------------------------------- work dir
# Sets WORK to a fresh directory under $BENCH_DIR (default: $TMPDIR or /tmp),
# removed at exit unless KEEP=1. At exit the load sampler is stopped, then
# on_exit runs and, when the work dir goes, on_remove: each script may define
# them (stop its registry; remove its docker image).
make_work_dir() {
    if [[ -n ${BENCH_DIR:-} ]]; then
        mkdir -p "$BENCH_DIR"
        WORK=$(mktemp -d "$BENCH_DIR/onebin-bench.XXXXXX")
    else
        WORK=$(mktemp -d "${TMPDIR:-/tmp}/onebin-bench.XXXXXX")
    fi
    WORK=$(cd "$WORK" && pwd)
    SAMPLER=
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}
on_exit() { :; }
on_remove() { :; }
cleanup() {
    local rc=$?
    [[ -z $SAMPLER ]] || kill "$SAMPLER" 2>/dev/null || true
    on_exit
    if [[ ${KEEP:-0} == 1 ]]; then
        log "kept work dir $WORK"
    else
        on_remove
        # Go's module cache is read-only.
        chmod -R u+w "$WORK" 2>/dev/null || true
        rm -rf "$WORK"
    fi
    exit "$rc"
}

# ---------------------------------------------------------------- inputs
# rand_file SEED BYTES FILE: deterministic incompressible bytes (AES-128-CTR keystream).
rand_file() {
    local key iv
    key=$(printf 'key:%s' "$1" | sha256sum | cut -c1-32)
    iv=$(printf 'iv:%s' "$1" | sha256sum | cut -c1-32)
    head -c "$2" /dev/zero | openssl enc -aes-128-ctr -K "$key" -iv "$iv" >"$3"
}

# go_env ARGS...: runs ARGS in a private, offline Go environment under $WORK
# (no user config, no network, cgo off).
go_env() {
    env GOENV=off GOFLAGS= GOPROXY=off GOSUMDB=off GO111MODULE=on CGO_ENABLED=0 \
        GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GOMODCACHE="$WORK/gopath/pkg/mod" \
        GOTMPDIR= "$@"
}

# write_go_server DIR [assets]: the Go program the benchmarks build, a small
# server that links a good part of the standard library, as module
# example.com/app in DIR. With "assets" it also embeds DIR/assets.bin
# (go:embed), prints its size and serves it.
write_go_server() {
    local dir=$1 with_assets=${2:-} main
    mkdir -p "$dir"
    cat >"$dir/go.mod" <<'EOF_GO'
module example.com/app

go 1.18
EOF_GO
    main=$(cat <<'EOF_GO'
// A small server that links a good part of the standard library, as real
// services do (HTTP, TLS, JSON, templates, SQL, compression, images, Go parsing).
package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"go/parser"
	"go/token"
	"go/types"
	"html/template"
	_ "image/gif"
	_ "image/jpeg"
	"image/png"
	"log"
	"net/http"
	"net/http/httputil"
	"net/rpc"
	"net/smtp"
	"os"
	"regexp"
	"text/tabwriter"
)

var version = "dev"

func main() {
	addr := flag.String("addr", "", "listen address")
	flag.Parse()
	@PRINT@
	if *addr == "" {
		return
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 1, ' ', 0)
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "x.go", "package x; var X = 1", 0)
	if err == nil {
		_, _ = (&types.Config{}).Check("x", fset, nil, nil)
		fmt.Fprintln(tw, f.Name.Name)
	}
	t := template.Must(template.New("p").Parse(`<p>{{.}}</p>`))
	re := regexp.MustCompile(`^/api/v1/([a-z]+)`)
	pool, _ := x509.SystemCertPool()
	srv := &http.Server{Addr: *addr, TLSConfig: &tls.Config{RootCAs: pool}}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_ = t.Execute(w, re.FindStringSubmatch(r.URL.Path))
		_ = json.NewEncoder(w).Encode(r.Header)
		_ = xml.NewEncoder(w).Encode(r.URL)
		zw := gzip.NewWriter(w)
		_ = tar.NewWriter(zw).Close()
		_ = zip.NewWriter(zw).Close()
		_ = png.Encode(zw, nil)
@SERVE@
	})
	_ = httputil.NewSingleHostReverseProxy(nil)
	_, _ = sql.Open("none", "")
	_, _ = rpc.DialHTTP("tcp", *addr)
	_ = smtp.SendMail(*addr, nil, "", nil, nil)
	log.Fatal(srv.ListenAndServe())
}
EOF_GO
)
    if [[ $with_assets == assets ]]; then
        main=${main/@PRINT@/'fmt.Println("app", version, len(assets), "bytes of assets")'}
        main=${main/@SERVE@/$'\t\t_, _ = w.Write(assets)'}
        cat >"$dir/assets.go" <<'EOF_GO'
package main

import _ "embed"

// The bulk of a large service: assets, tables, schemas.
//
//go:embed assets.bin
var assets []byte
EOF_GO
    else
        main=${main/@PRINT@/'fmt.Println("app", version)'}
        main=${main/$'\n@SERVE@'/}
    fi
    printf '%s\n' "$main" >"$dir/main.go"
}

# ---------------------------------------------------------------- OCI layouts
EPOCH=946684800 # 2000-01-01T00:00:00Z
EPOCH_RFC3339=2000-01-01T00:00:00Z

# layer IMAGE_REF STEP_NAME FILL_FUNCTION: unpack the image, run the fill
# function on the rootfs, pin mtimes, repack as a new layer.
layer() {
    local ref=$1 name=$2 fill=$3 bundle=$WORK/bundle
    rm -rf "$bundle"
    umoci unpack --rootless --image "$ref" "$bundle" >/dev/null
    "$fill" "$bundle/rootfs"
    find "$bundle/rootfs" -exec touch -h -d "@$EPOCH" {} +
    umoci repack --image "$ref" \
        --history.created "$EPOCH_RFC3339" --history.created_by "bench: $name" \
        --history.author onebin-bench "$bundle" >/dev/null
    rm -rf "$bundle"
}

blob() { echo "$1/blobs/${2%%:*}/${2#*:}"; }

# manifest_for LAYOUT TAG ARCH -> manifest digest: TAG names a manifest, or an
# index (nested indexes allowed) holding one for linux/ARCH. Empty TAG: the
# layout's only entry.
manifest_for() {
    local dir=$1 tag=$2 arch=$3 desc mt
    if [[ -n $tag ]]; then
        desc=$(jq -c --arg t "$tag" '[.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t)] | first // empty' "$dir/index.json")
    else
        desc=$(jq -c 'if (.manifests | length) == 1 then .manifests[0] else empty end' "$dir/index.json")
    fi
    [[ -n $desc ]] || return 1
    while :; do
        mt=$(jq -r '.mediaType' <<<"$desc")
        case $mt in
            *index* | *manifest.list*)
                desc=$(jq -c --arg a "$arch" '[.manifests[] | select(.platform.os == "linux" and .platform.architecture == $a)] | first // empty' \
                    "$(blob "$dir" "$(jq -r .digest <<<"$desc")")")
                [[ -n $desc ]] || return 1 ;;
            *) jq -r .digest <<<"$desc"; return 0 ;;
        esac
    done
}

# tag_digest LAYOUT TAG -> the digest TAG names
tag_digest() {
    jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$1/index.json"
}

# ---------------------------------------------------------------- measuring
# run_hyperfine JSON_OUT WARMUP RUNS NAMES CMDS [PREPS]: hyperfine over the
# commands of the named arrays (with their --prepare commands, if given),
# each under its name; its output to stderr, its results to JSON_OUT.
run_hyperfine() {
    local json=$1 warmup=$2 runs=$3 i args
    local -n hf_names=$4 hf_cmds=$5
    args=(--warmup "$warmup" --runs "$runs" --export-json "$json" --style basic)
    if [[ -n ${6:-} ]]; then
        local -n hf_preps=$6
        for i in "${!hf_preps[@]}"; do args+=(--prepare "${hf_preps[$i]}"); done
    fi
    for i in "${!hf_names[@]}"; do args+=(--command-name "${hf_names[$i]}"); done
    log "hyperfine: ${#hf_names[@]} variants, --warmup $warmup --runs $runs"
    hyperfine "${args[@]}" "${hf_cmds[@]}" >&2
}

# mean_of JSON NAME -> hyperfine's mean for the command NAME
mean_of() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .mean' "$1"; }

# start_sampler / stop_sampler: sample_load into $WORK/load.samples while the
# measurements run; stop_sampler sets LOAD_SUMMARY (for the report) and
# FOREIGN (runnable processes outside the benchmark, on average).
start_sampler() {
    sample_load >"$WORK/load.samples" 2>/dev/null &
    SAMPLER=$!
}
stop_sampler() {
    kill "$SAMPLER" 2>/dev/null || true
    wait "$SAMPLER" 2>/dev/null || true
    SAMPLER=
    LOAD_SUMMARY=$(awk '{
            n++; if ($1 > max) max = $1; f += $2; if ($2 > 0) busy++
            for (i = 3; i <= NF; i++) seen[$i]++
        } END {
            top = ""
            for (k in seen) top = top sprintf("%s(%d) ", k, seen[k])
            printf "%d samples (1/s): max 1-min load %.2f; runnable processes outside the benchmark: %.2f on average, present in %d%% of samples%s",
                n, max, (n ? f / n : 0), (n ? 100 * busy / n : 0), (top == "" ? "" : "; seen: " top)
        }' "$WORK/load.samples")
    FOREIGN=$(awk '{ f += $2; n++ } END { printf "%.2f", (n ? f / n : 0) }' "$WORK/load.samples")
}

# ---------------------------------------------------------------- report
# report_conditions WHEN [MACHINE_MORE]: the report's lines on when and where
# it ran: date, machine (MACHINE_MORE appended), the load average WHEN
# ("at start", "before") and after, the load during hyperfine, and a warning
# when other processes competed for the CPUs.
report_conditions() {
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r)${2:-}"
    echo "- load average (1/5/15 min) $1: \`${UPTIME_BEFORE#*load average: }\`, after: \`${UPTIME_AFTER#*load average: }\`"
    echo "- during hyperfine: $LOAD_SUMMARY"
    if awk -v f="$FOREIGN" -v c="$(nproc)" 'BEGIN { exit !(f >= 0.25 * c) }'; then
        echo "- **WARNING: other processes competed for the CPUs during the measurement; the timings are disturbed.**"
    fi
}

# onebin_tool: the onebin under test, as the report's tools line names it.
onebin_tool() { echo "$("$ONEBIN" --version) ($ONEBIN_SRC, sha256 \`$(sha256sum "$ONEBIN" | cut -c1-12)…\`)"; }

# emit_report FILE: the Markdown report to stdout, and to $OUT_MD if set.
emit_report() {
    echo
    cat "$1"
    if [[ -n ${OUT_MD:-} ]]; then
        cp "$1" "$OUT_MD"
        log "report written to $OUT_MD"
    fi
}
