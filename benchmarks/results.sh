#!/usr/bin/env bash
# Produces the numbers of docs/results.md (the search issue: the proposer in the model's own
# tokens and the deciding verifier), on the embedded Gemma 3 270M:
#   whole sets (BFCL non-live 1,240 items, ToolAlpaca 114, API-Bank level-1 399): beam N=1 M=4
#     with the verifier, constrained greedy, beam N=2 M=4, and best-of-4 and majority vote of 4
#     (read off one set of 4 samples per item: the two strategies sample alike);
#   evaluation slices: each verifier signal switched off (the first 25 items of each category);
#   the oracle table (benchmarks/oracle.py: the first 25 items of each BFCL category, M=4 and 8).
# Jobs go to two lanes, one torch thread each (the 2-core CPU this was measured on); every
# command resumes where it stopped, so an interrupted run is finished by running it again.
# Usage: benchmarks/results.sh [OUT]   (default results/); then
#        python benchmarks/results_tables.py OUT/whole OUT/slices --slice 25
set -euo pipefail
OUT=${1:-results}
export OMP_NUM_THREADS=1
run() { toolprm --threads 1 eval --model gemma-3-270m "$@"; }  # the base: results.md's policy
sets() {  # every benchmark set: "$@" are the strategy arguments
  run --benchmark bfcl --category simple_python,multiple,irrelevance "$@"
  run --benchmark toolalpaca "$@"
  run --benchmark bfcl --category parallel,parallel_multiple "$@"
  run --benchmark apibank_l1 "$@"
}
lane_a() {
  sets --out "$OUT/whole" --limit 0 --strategy beam --N 1 --M 4
  python benchmarks/oracle.py --limit 25 --m 4 8 --out "$OUT/oracle"
  for signal in relevance coverage grounding schema_copy; do
    sets --out "$OUT/slices" --limit 25 --strategy beam --ablate "$signal"
  done
  sets --out "$OUT/whole" --limit 0 --strategy best_of_n,majority --samples 4
}
lane_b() {
  sets --out "$OUT/whole" --limit 0 --strategy greedy
  sets --out "$OUT/whole" --limit 0 --strategy beam --N 2 --M 4
}
lane_a > "$OUT.lane_a.log" 2>&1 &
lane_b > "$OUT.lane_b.log" 2>&1 &
wait
