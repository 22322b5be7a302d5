#!/usr/bin/env bash
# The MT10 trade-off table: the four action representations trained on the same data with the same
# CPU budget, then evaluated under the Meta-World protocol (10 episodes per task, 500 steps).
#
#   bash benchmarks/mt10_variants.sh                 # everything (about 2 h on a 2-core CPU)
#   VARIANTS="flow" bash benchmarks/mt10_variants.sh # one variant
#
# Budget: about 27 CPU-minutes each (one thread per run, two runs side by side on 2 cores). The step
# counts below were set from each variant's measured training throughput (benchmarks/policy_latency.py
# --threads 1): slower variants get fewer steps. Batch 64, warm-up 100 steps, cosine to 0.1 x 3e-4.
# Results land in runs/mt10/<variant>/eval.json and runs/mt10/<variant>/report/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin}
DATA=${DATA:-runs/mt10_50}
OUT=${OUT:-runs/mt10}
VARIANTS=${VARIANTS:-"bins flow fast hybrid"}
declare -A STEPS=([bins]=1200 [fast]=2100 [flow]=3400 [hybrid]=1400)
export MUJOCO_GL=${MUJOCO_GL:-egl}

if [ ! -f "$DATA/meta/info.json" ]; then  # MT10 x 50 demonstrations, corner2 + wrist camera, 128 px
  "$PY/vlastack" collect --tasks mt10 --episodes 50 --out "$DATA" --workers 2 --image-size 128 --cameras corner2,gripperPOV
fi
for v in $VARIANTS; do  # two at a time, one thread each
  OMP_NUM_THREADS=1 "$PY/vlastack" train --preset "$v" --dataset "$DATA" --out "$OUT/$v" --steps "${STEPS[$v]}" \
    --warmup-steps 100 --save-every 200 --cpu --no-progress --resume > "$OUT/$v.log" 2>&1 &
  if (( $(jobs -r | wc -l) >= 2 )); then wait -n; fi
done
wait
for v in $VARIANTS; do
  ckpt=$(ls -d "$OUT/$v"/checkpoints/step_* | tail -n 1)
  "$PY/vlastack" eval --checkpoint "$ckpt" --tasks mt10 --episodes 10 --workers 2 --json --report "$OUT/$v/report" > "$OUT/$v/eval.json"
done
