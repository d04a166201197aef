#!/usr/bin/env bash
# Runs every fuzz target of the module for the given budget each (default
# 20000x, an execution count). Targets are discovered with `go test -list`,
# so a new Fuzz function is picked up without editing the Makefile.
#
# The budget must be a count (Nx): on Go 1.26 a duration races the fuzz
# coordinator's own deadline and fails a healthy target with a bare
# "context deadline exceeded" (golang/go#75804, fixed in Go 1.27).
set -euo pipefail
fuzztime=${1:-20000x}
if [[ ! $fuzztime =~ ^[0-9]+x$ ]]; then
  echo "fuzz.sh: budget '$fuzztime' is not an execution count like 20000x (durations flake on Go 1.26, golang/go#75804)" >&2
  exit 2
fi
go=${GO:-go}
mapfile -t lines < <($go test -list '^Fuzz' ./... | awk '/^Fuzz/ {t[n++]=$1} /^ok/ {for (i=0;i<n;i++) print $2 " " t[i]; n=0}')
if [ ${#lines[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz targets found" >&2
  exit 1
fi
for line in "${lines[@]}"; do
  pkg=${line%% *}; name=${line##* }
  echo "fuzz $pkg $name ($fuzztime)"
  $go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg" > /tmp/icerig-fuzz.$$.log 2>&1 || {
    cat /tmp/icerig-fuzz.$$.log; rm -f /tmp/icerig-fuzz.$$.log; exit 1; }
  tail -n 1 /tmp/icerig-fuzz.$$.log
done
rm -f /tmp/icerig-fuzz.$$.log
echo "fuzz.sh: ${#lines[@]} targets passed"
