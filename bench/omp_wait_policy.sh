#!/usr/bin/env bash
# OpenMP wait policies, idle and under contention (README, "Threads"): wall seconds of one small
# 2-thread `ditto train` per policy, the policies alternating within each round, `ROUNDS` rounds
# idle and then with one busy loop per hardware thread running beside it.
#   bench/omp_wait_policy.sh [ditto executable (default build/ditto)] [rounds (default 3)]
set -u
EXE=${1:-build/ditto}
ROUNDS=${2:-3}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"; kill $(jobs -p) 2>/dev/null' EXIT
run() {
  local s e
  s=$(date +%s.%N)
  env "$@" "$EXE" train --steps 60 --train-limit 4096 --test-limit 500 --no-progress \
    --out "$OUT/run" >/dev/null 2>&1
  e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }'
}
for load in idle contended; do
  if [ "$load" = contended ]; then
    for _ in $(seq "$(nproc)"); do (while :; do :; done) & done
  fi
  for _ in $(seq "$ROUNDS"); do
    echo "$load" \
      "libgomp-default=$(run OMP_NUM_THREADS=2 GOMP_SPINCOUNT=300000)" \
      "spincount-10000=$(run OMP_NUM_THREADS=2 GOMP_SPINCOUNT=10000)" \
      "passive=$(run OMP_NUM_THREADS=2 OMP_WAIT_POLICY=passive)" \
      "1-thread=$(run OMP_NUM_THREADS=1 GOMP_SPINCOUNT=10000)"
  done
  if [ "$load" = contended ]; then kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; fi
done
