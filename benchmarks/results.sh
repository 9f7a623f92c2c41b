#!/usr/bin/env bash
# Produces every number in docs/results.md: the embedded Gemma 3 270M on the non-live BFCL
# categories (1,240 items), ToolAlpaca (114) and API-Bank level-1 (399), with
#   unconstrained greedy (raw text parsed), constrained greedy, best-of-4 at the beam's
#   candidate budget (N*M = 4), fine-grained beam N=1 M=4 with the verifier, and the same beam
#   with verifier x the shipped ToolPRM, ranked by score alone and by score x p(path)^0.2.
# Phase 1 runs every strategy on a slice (the first 50 items of each BFCL category and each
# Hammer set); phase 2 extends every strategy to all items. Two lanes run side by side, one
# torch thread each (the 2-core CPU this was measured on). Every command resumes where it
# stopped, so an interrupted run is finished by running the script again.
# Usage: benchmarks/results.sh [OUT] [LANES]   (default results/ and "a b"; one lane: "a"); then
#        python benchmarks/results_tables.py OUT
set -euo pipefail
OUT=${1:-results}
export OMP_NUM_THREADS=1
run() { toolprm --threads 1 eval --out "$OUT" "$@"; }
both() { for b in bfcl toolalpaca apibank_l1; do run --benchmark "$b" "$@"; done; }
BEAM=(--strategy beam --N 1 --M 4)

lane_a() {
  for limit in 50 0; do
    both --limit $limit --strategy greedy
    both --limit $limit --strategy best_of_n --samples 4
    run --benchmark bfcl --category simple_python,multiple --limit $limit --strategy unconstrained
    for b in toolalpaca apibank_l1; do run --benchmark $b --limit $limit --strategy unconstrained; done
    both --limit $limit "${BEAM[@]}" --scorer combined:toolprm --policy-weight 0.2
  done
}
lane_b() {
  for limit in 50 0; do
    both --limit $limit "${BEAM[@]}"
    run --benchmark bfcl --category parallel,parallel_multiple,irrelevance --limit $limit --strategy unconstrained
    both --limit $limit "${BEAM[@]}" --scorer combined:toolprm
  done
}
for lane in ${2:-a b}; do
  "lane_$lane" > "$OUT.lane_$lane.log" 2>&1 &
done
wait
