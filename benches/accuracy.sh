#!/bin/sh
# How onebin audit reads real projects: runs `onebin audit --json` on every
# checkout under DIR (one directory per project) and prints one table row
# each: the double-build verdict, the option, what it takes for the release
# and for the image (files of the builds), and the build tools it did not
# read. Compare the rows with an answer key (docs/ACCURACY.md lists the
# projects and commits used). Needs jq.
#
#   benches/accuracy.sh DIR [ONEBIN]
set -eu
dir=${1:?usage: benches/accuracy.sh DIR [ONEBIN]}
onebin=${2:-onebin}
printf '| project | double build | option | release from | image from | unread-build |\n'
printf '|---|---|---|---|---|---|\n'
for p in "$dir"/*/; do
    name=$(basename "$p")
    json=$("$onebin" audit "$p" --json 2>/dev/null) || [ $? -eq 1 ] || {
        printf '| %s | error | | | | |\n' "$name"
        continue
    }
    printf '%s' "$json" | jq -r --arg n "$name" '
        def files(a): [.builds[] | select(.artifact == a or .artifact == "release-and-image")
                       | "\(.place.file)"] | unique | .[0:3] | join(", ");
        "| \($n) | \(if any(.findings[]; .id == "double-build" and .severity == "error") then "yes" else "no" end)"
        + " | \(.recommendation.option)"
        + " | \(files("release"))"
        + " | \(files("image"))"
        + " | \([.findings[] | select(.id == "unread-build") | .message | split(" builds here")[0]] | unique | join(", ")) |"'
done
