#!/usr/bin/env bash
# The MT50 row: the best MT10 variant (flow) trained on MT50 x 50 scripted-expert demonstrations with
# the protocol's inputs (one corner2 view at 128 px, the 4-d state, the instruction), then evaluated
# on all 50 tasks under the Meta-World protocol (10 episodes per task, 500 steps, seeds 100000+).
#
#   bash benchmarks/mt50_flow.sh            # collect (~1 h), train (STEPS), evaluate (~1 h) on 2 cores
#   STEPS=20000 OUT=runs/mt50/flow_20k bash benchmarks/mt50_flow.sh   # a longer budget
#
# Every stage resumes: collect continues a partial dataset, train --resume continues from the last
# checkpoint (same schedule), eval --resume keeps finished episodes, so the run can be spread over several sessions.
# Budget: two threads for one training run (the whole 2-core machine). Batch 64, warm-up 100 steps,
# cosine to 0.1 x 3e-4, EMA 0.999. Training logs (with /usr/bin/time): ${OUT}_partN.log; results: $OUT/eval.json,
# $OUT/report/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin}
DATA=${DATA:-runs/mt50_c2}
OUT=${OUT:-runs/mt50/flow}
STEPS=${STEPS:-7500}
export MUJOCO_GL=${MUJOCO_GL:-egl}

# MT50 x 50 demonstrations, corner2 only (the protocol's view; a second camera doubles the render time).
"$PY/vlastack" collect --tasks mt50 --episodes 50 --out "$DATA" --workers 2 --image-size 128 --cameras corner2
mkdir -p "$(dirname "$OUT")"
# One log per training process (${OUT}_part1.log, _part2.log, ...): eval_table.py adds their times.
logs=("$OUT"_part*.log)  # none yet: the pattern itself (nullglob is off), hence the -e test
part=$(( ${#logs[@]} + 1 )); [ -e "${logs[0]}" ] || part=1
OMP_NUM_THREADS=2 /usr/bin/time -v "$PY/vlastack" train --preset flow --dataset "$DATA" --out "$OUT" --steps "$STEPS" \
  --warmup-steps 100 --save-every 500 --cpu --no-progress --resume > "${OUT}_part$part.log" 2>&1
ckpt=$(ls -d "$OUT"/checkpoints/step_* | tail -n 1)
# --resume keeps the episodes a killed evaluation of the same checkpoint logged in its report directory.
/usr/bin/time -v "$PY/vlastack" eval --checkpoint "$ckpt" --tasks mt50 --episodes 10 --workers 2 --json --resume \
  --report "$OUT/report_${ckpt##*/}" > "$OUT/eval.json" 2> "$OUT/eval.err"
"$PY/python" benchmarks/eval_table.py "$OUT/eval.json"
