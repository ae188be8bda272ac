#!/bin/sh
# run-fuzz.sh TARGET SEED_DIR SCRATCH_DIR SECONDS — one bounded libFuzzer run.
set -eu
target=$1 seeds=$2 scratch=$3 seconds=$4
mkdir -p "$scratch"
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$scratch" "$seeds"
