# shellcheck shell=bash
# Shared by the benchmark scripts: messages, sizes, the onebin under test,
# and the sampler that tells whether other work competed for the CPUs.
# Sourced after REPO and WORK are set.

log() { printf '>> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

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
