#!/usr/bin/env bash
# Issue 14 item 3, arm (b): latent-action pretraining (LAPA-style) on every demonstration of MT10 (50 per task, their
# actions never read), then alignment on the first DEMOS per task with their actions; l1-effnet, STAGE1_STEPS +
# STAGE2_STEPS = 6,000 steps like the other arms: (a) imitation on the 5 (runs/wm14/effnet_demo5), (c) 5 labelled + 45
# pseudo-labelled (runs/wm14/effnet_pseudo5), (d) all 50 labelled.
#
#   bash benchmarks/latent_pretraining.sh
#   DATA=/root/runs/wm14b/lapa_smoke/data OUT=/root/runs/wm14b/lapa_smoke/lapa DEMOS=1 LAM_STEPS=100 STAGE1_STEPS=40 \
#     STAGE2_STEPS=20 SAVE_EVERY=20 EVAL_TASKS=reach-v3,drawer-open-v3 EVAL_EPISODES=1 bash benchmarks/latent_pretraining.sh  # smoke
#
# Stages, each skipped when its output exists (re-run the same command to resume; STAGES=stage2,eval runs some):
#   strip   DATA without its action column (videos and metadata hard-linked): what the latent-action model sees.
#   lam     `vlastack wm latent` on that copy, the frozen encoder ENCODER (the MT10 l1 policy): inverse dynamics
#           (z(t), z(t+LAM_GAP)) -> FSQ code with levels LAM_LEVELS, and the forward model that must use the code;
#           every LAM_HELD_OUT_EVERY-th episode of each task held out of its training (1000: none, all 50 train it).
#   label   `vlastack wm latent-label`: DATA with each frame's latent action (len(LAM_LEVELS) values in [-1, 1]) as
#           its action. It encodes DATA's frames with ENCODER once (the LAM's cached embeddings are keyed on the
#           stripped copy's path), and is given DATA's feature caches (hard links), so stage 1 computes no trunk map.
#   stage1  l1-effnet on the latent-labelled copy (policy.action_dim = the latent dimension), every episode.
#   stage2  l1-effnet on DATA's first DEMOS episodes per task with their actions, from stage 1's last checkpoint:
#           --init-from with train.init_partial=true loads every tensor whose name and shape match (all but the
#           action head's output layer; the action normaliser is the new data's), run.json lists the fresh ones.
#           Both stages use the preset's schedule (lr 1e-3, 500 warm-up steps, cosine to 1e-4) over their own steps.
#   eval    the protocol as for arms (a) and (c): 10 episodes per task, behind the safety layer, 4 actions per chunk.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin}
DATA=${DATA:-runs/mt10_50b}                 # MT10 x 50 scripted demonstrations, corner2 at 128 px
OUT=${OUT:-runs/wm14b/lapa}
ENCODER=${ENCODER:-runs/mt10_l1_shipped}    # the LAM's frozen encoder (its image_features)
DEMOS=${DEMOS:-5}                           # labelled demonstrations per task for stage 2
LAM_STEPS=${LAM_STEPS:-3000}
LAM_GAP=${LAM_GAP:-8}                       # k, steps between the two frames a latent action explains
LAM_LEVELS=${LAM_LEVELS:-[5,5,5]}           # FSQ levels: 125 codes, a 3-d latent action
LAM_HELD_OUT_EVERY=${LAM_HELD_OUT_EVERY:-1000}
STAGE1_STEPS=${STAGE1_STEPS:-4000}
STAGE2_STEPS=${STAGE2_STEPS:-2000}
SAVE_EVERY=${SAVE_EVERY:-2000}
EVAL_TASKS=${EVAL_TASKS:-mt10}
EVAL_EPISODES=${EVAL_EPISODES:-10}
WORKERS=${WORKERS:-2}                       # simulator processes of the evaluation
THREADS=${THREADS:-1}                       # torch threads of each command
STAGES=${STAGES:-strip,lam,label,stage1,stage2,eval}
export MUJOCO_GL=${MUJOCO_GL:-egl} OMP_NUM_THREADS=$THREADS
# This checkout's code, whichever virtual environment runs it (a worktree's venv may install another checkout).
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
VLA=("$PY/python" -m vlastack)
STRIPPED="$OUT/data_noaction" LAM="$OUT/lam" LATENT="$OUT/data_latent" STAGE1="$OUT/stage1" STAGE2="$OUT/stage2"
mkdir -p "$OUT"
TIMES="$OUT/timings.tsv"  # stage, wall seconds; appended by every run
want() { [[ ",$STAGES," == *",$1,"* ]]; }
timed() {  # timed STAGE COMMAND...: run it, log its wall time
  local stage=$1 t0 rc=0; shift; t0=$(date +%s.%N)
  "$@" || rc=$?
  awk -v s="$stage" -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%s\t%.1f\n", s, t1 - t0 }' >> "$TIMES"
  return $rc
}
final() { printf '%s/checkpoints/step_%08d' "$1" "$2"; }  # the checkpoint a finished run of N steps leaves
TRAIN=(train --preset l1-effnet --num-workers 1 --cpu --frames memmap --set train.feature_cache=true --no-progress --resume
  --save-every "$SAVE_EVERY")
train_run() {  # train_run STAGE RUN_DIR STEPS ARGS...: skipped when RUN_DIR holds its final checkpoint
  local stage=$1 run=$2 steps=$3; shift 3
  if [ -d "$(final "$run" "$steps")" ]; then echo "$run: done (step $steps)"; return; fi
  mkdir -p "$run"
  echo "$run: training to step $steps (log $run/train.log)"
  timed "$stage" "${VLA[@]}" "${TRAIN[@]}" --out "$run" --steps "$steps" "$@" >> "$run/train.log" 2>&1 \
    || { tail -n 30 "$run/train.log" >&2; exit 1; }
}

if want strip && [ ! -f "$STRIPPED/meta/info.json" ]; then
  timed strip "${VLA[@]}" wm strip-actions --dataset "$DATA" --out "$STRIPPED"
fi
if want lam && [ ! -d "$(final "$LAM" "$LAM_STEPS")" ]; then
  timed lam "${VLA[@]}" wm latent --dataset "$STRIPPED" --encoder "$ENCODER" --out "$LAM" --resume \
    --held-out-every "$LAM_HELD_OUT_EVERY" --set "steps=$LAM_STEPS" --set "gap=$LAM_GAP" --set "levels=$LAM_LEVELS"
fi
if want label && [ ! -f "$LATENT/meta/info.json" ]; then
  timed label "${VLA[@]}" wm latent-label --latent "$(final "$LAM" "$LAM_STEPS")" --dataset "$DATA" --out "$LATENT"
fi
if want stage1; then
  dim=$("$PY/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["features"]["action"]["shape"][0])' "$LATENT/meta/info.json")
  train_run stage1 "$STAGE1" "$STAGE1_STEPS" --dataset "$LATENT" --set "policy.action_dim=$dim"
fi
if want stage2; then
  [ -d "$(final "$STAGE1" "$STAGE1_STEPS")" ] || { echo "stage2: stage 1 ($(final "$STAGE1" "$STAGE1_STEPS")) is not trained yet" >&2; exit 1; }
  train_run stage2 "$STAGE2" "$STAGE2_STEPS" --dataset "$DATA" --set "train.episodes_per_task=$DEMOS" \
    --init-from "$(final "$STAGE1" "$STAGE1_STEPS")" --set train.init_partial=true
fi
if want eval && [ ! -f "$OUT/eval.json" ]; then
  timed eval "${VLA[@]}" eval --checkpoint "$(final "$STAGE2" "$STAGE2_STEPS")" --tasks "$EVAL_TASKS" --episodes "$EVAL_EPISODES" \
    --workers "$WORKERS" --execute-steps 4 --json --no-progress --videos 0 --report "$OUT/report" --resume > "$OUT/eval.json.tmp"
  mv "$OUT/eval.json.tmp" "$OUT/eval.json"
  "$PY/python" -c 'import json, sys; s = json.load(open(sys.argv[1])); print({k: s[k] for k in ("avg", "per_group", "episodes", "crashed_episodes")})' "$OUT/eval.json"
fi
echo "wall time of each command (stage, seconds), every run: $TIMES"; cat "$TIMES"
