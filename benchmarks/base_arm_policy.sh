#!/usr/bin/env bash
# Issue 17 item 5, the learned half: a learned policy on the wheeled PandaOmron alone against the same policy with the
# base-arm layer under it (execution/base_arm_layer.py: each step it splits the hand motion the policy asks for
# between base and arm, so the arm stays in reach), on rs-reachfar-pandaomron (the cube starts ~1 m from the arm's
# mount, beyond its reach: the base must drive). Two l1-effnet policies: P_in, trained on rs-lift-pandaomron (the
# cube in reach; the expert holds the base still, so P_in never saw the base move), and P_far, trained on
# rs-reachfar-pandaomron demonstrations by the Lift expert under the layer (the recorded actions are the layer's,
# base commands included). Each is evaluated alone and + layer on the far task; P_in also on the in-reach task, where
# the layer should cost nothing. Fairness caveat: P_far learns to drive its base from demonstrations the layer
# produced, so "P_far alone" is the layer distilled into a policy, not a policy that found driving by itself; and
# "P_far + layer" is a mismatched pair: the layer discards the base command P_far learned and reads its arm command,
# which the demonstrations already stripped of the base's share, as the whole hand motion. The clean comparison is
# P_in alone against P_in + layer (one policy, one training set, the layer the only difference); P_far says what
# the same demonstrations teach a policy that must drive itself.
# P_in + layer measured 0/10 on the far task (2026-12-07): P_in never heads for a cube that far, so the layer has no
# hand motion towards it to split. Hence a third policy, P_want: trained on the far task's demonstrations recorded
# over the layer with `vlastack collect --base-arm-layer` (the arm-only expert's hand motion, not the split; DATA_WANT),
# so it learns the motion and leaves the base to the layer: P_want + layer against P_far alone is the model-based
# layer under a learned policy against a learned policy that drives its own base, from the same expert and seeds.
#
#   bash benchmarks/base_arm_policy.sh
#   PY=/work/main/.venv/bin OUT=runs/base_arm_policy bash benchmarks/base_arm_policy.sh   # another venv or run directory
#   EPISODES=2 STEPS=30 EVAL_EPISODES=1 MAX_STEPS=40 DATA_IN=/tmp/bap_in DATA_FAR=/tmp/bap_far OUT=/tmp/bap \
#     bash benchmarks/base_arm_policy.sh   # dry run
#
# Stages, each skipping what exists (re-run the same command to resume; STAGES=eval,table runs some):
#   collect  EPISODES scripted demonstrations of rs-lift-pandaomron into DATA_IN and of rs-reachfar-pandaomron (expert
#            + layer) into DATA_FAR (the split recorded) and DATA_WANT (--base-arm-layer: the hand motion recorded),
#            seeds 0, 1, ...; no safety layer (--no-safety: these datasets predate robosuite_pandaomron, the wheeled
#            robot's spec of 2026-12-07; keeping them unfiltered keeps a resumed run comparable);
#            `vlastack collect` resumes a partial dataset.
#   train    P_in on DATA_IN, P_far on DATA_FAR, P_want on DATA_WANT, STEPS each (train --resume continues a partial run).
#   eval     `vlastack eval --safety none`, EVAL_EPISODES per (policy, layer, task), seeds 100000+ (the protocol's),
#            MAX_STEPS: P_in, P_far and P_want alone and + layer on the far task, P_in alone and + layer on the in-reach
#            one; the report directories log every episode (--resume).
#   table    success per (policy, layer) and task, and the layer's mean commanded base travel (m) where it ran.
# Training: the frozen EfficientNet-Lite0 trunk's maps cached once per frame and camera per dataset
# (train.feature_cache), both cameras at IMAGE_SIZE px (the policy sees 96), batch 64; state 12 (hand xyz,
# quaternion, gripper opening, mount xyz and yaw), action 11 (hand translation and rotation deltas, gripper, base
# forward, side, yaw, torso): envs/robosuite_env.feature_names; the preset is sized for Meta-World, hence the --set.
# Estimated wall time of the defaults, scaled from the dry run above and a calibration (8 demonstrations a task, 300
# steps, 2 episodes of 250 steps per evaluation; 2026-12-07, the 2-core VM under nice 19 at load 2-3 from another job):
#   collect  ~13-15 frames/s with 2 workers; 50 x ~42 in-reach + 50 x ~72 far frames, ~5,700 frames: ~7 min
#   train    feature caches ~11,400 camera frames, ~2 min; ~1,400 samples/s at batch 64 (22 steps/s): 2 x 3,000, ~5 min
#   eval     ~150 ms per control step per worker; 80 episodes of at most 250 steps (successes end early): 15-25 min
#   in all   about 30-45 min (measured 2026-12-07 without P_want: 12 min); what the policies achieve decides the evaluation's share.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin}
DATA_IN=${DATA_IN:-runs/base_arm_policy/rs_lift_pandaomron}      # in-reach demonstrations (expert alone)
DATA_FAR=${DATA_FAR:-runs/base_arm_policy/rs_reachfar_pandaomron}  # far demonstrations (expert + layer)
DATA_WANT=${DATA_WANT:-runs/base_arm_policy/rs_reachfar_pandaomron_wanted}  # the same, recorded as the hand motion asked for
OUT=${OUT:-runs/base_arm_policy/l1_effnet}
EPISODES=${EPISODES:-50}            # demonstrations per task
STEPS=${STEPS:-3000}                # optimizer steps of each policy (batch 64)
EVAL_EPISODES=${EVAL_EPISODES:-10}  # evaluation episodes per (policy, layer, task)
MAX_STEPS=${MAX_STEPS:-250}         # evaluation step limit, control steps at 20 Hz (Lift's own limit: 250)
IMAGE_SIZE=${IMAGE_SIZE:-96}        # recorded camera side, pixels
WORKERS=${WORKERS:-2}               # simulator processes (collect, eval)
THREADS=${THREADS:-1}               # torch threads of a training process (more ran slower on the shared 2-core VM)
STAGES=${STAGES:-collect,train,eval,table}
export MUJOCO_GL=${MUJOCO_GL:-egl}
# This checkout's code, whichever virtual environment runs it (a worktree's venv may install another checkout).
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
VLA=("$PY/python" -m vlastack)
IN=rs-lift-pandaomron
FAR=rs-reachfar-pandaomron

mkdir -p "$OUT"
TIMES="$OUT/timings.tsv"  # stage, what, wall seconds; appended by every run (collect always: ~1 s once complete)
source benchmarks/stages.sh  # want, timed, final, eval_run

# ---- demonstrations ----------------------------------------------------------------------------------------------
if want collect; then
  for pair in "$IN:$DATA_IN" "$FAR:$DATA_FAR"; do
    timed collect "${pair%%:*} x $EPISODES" "${VLA[@]}" collect --tasks "${pair%%:*}" --episodes "$EPISODES" --out "${pair#*:}" \
      --workers "$WORKERS" --image-size "$IMAGE_SIZE" --no-safety
  done
  timed collect "$FAR x $EPISODES, wanted" "${VLA[@]}" collect --tasks "$FAR" --episodes "$EPISODES" --out "$DATA_WANT" \
    --workers "$WORKERS" --image-size "$IMAGE_SIZE" --no-safety --base-arm-layer
fi

# ---- training ----------------------------------------------------------------------------------------------------
COMMON=(--preset l1-effnet --cpu --no-progress --resume --frames memmap --cameras agentview,robot0_eye_in_hand
  --set train.feature_cache=true --set policy.state_dim=12 --set policy.action_dim=11)
train_run() {  # train_run NAME DATASET: skipped when $OUT/NAME holds its final checkpoint
  local name=$1 data=$2 run="$OUT/$1"
  if [ -d "$(final "$run" "$STEPS")" ]; then echo "$run: done (step $STEPS)"; return; fi
  # Evaluations of an earlier checkpoint here are stale (eval --resume would refuse their logs): start them afresh.
  rm -rf "$OUT/eval_${name}_"* "$OUT/report_${name}_"*
  mkdir -p "$run"
  echo "$run: training to step $STEPS (log $run/train.log)"
  timed train "$name" env OMP_NUM_THREADS="$THREADS" "${VLA[@]}" train "${COMMON[@]}" --dataset "$data" --out "$run" \
    --steps "$STEPS" --save-every "$(( STEPS < 500 ? STEPS : 500 ))" >> "$run/train.log" 2>&1 || { tail -n 30 "$run/train.log" >&2; exit 1; }
}
if want train; then
  train_run p_in "$DATA_IN"
  train_run p_far "$DATA_FAR"
  train_run p_want "$DATA_WANT"
fi

# ---- evaluation --------------------------------------------------------------------------------------------------
# eval_run: benchmarks/stages.sh (every run here without a safety layer: --safety none)
if want eval; then
  for p in in far want; do
    eval_run "p_${p}_alone_far" "$(final "$OUT/p_$p" "$STEPS")" "$FAR" --safety none
    eval_run "p_${p}_layer_far" "$(final "$OUT/p_$p" "$STEPS")" "$FAR" --safety none --base-arm-layer
  done
  eval_run p_in_alone_in "$(final "$OUT/p_in" "$STEPS")" "$IN" --safety none
  eval_run p_in_layer_in "$(final "$OUT/p_in" "$STEPS")" "$IN" --safety none --base-arm-layer
fi

# ---- the table ---------------------------------------------------------------------------------------------------
if want table; then
  "$PY/python" - "$OUT" "$FAR" "$IN" <<'EOF'
import json, sys
from pathlib import Path
out, far, near = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

def cell(name: str, task: str) -> tuple[str, str]:
    """(successes/episodes, mean base travel commanded by the layer in m) of run ``name`` ("?": not run yet)."""
    path = out / f"eval_{name}.json"
    if not path.is_file():
        return "?", "?"
    t = json.loads(path.read_text())["per_task"][task]
    k, n = round(t["success"] * t["episodes"]), t["episodes"]
    crashed = f", {len(t['crashed'])} crashed" if t["crashed"] else ""
    travel = t.get("base_travel_m_mean")
    return f"{k}/{n}{crashed}", "-" if travel is None else f"{travel:.3f}"

print(f"| policy | layer | {far} (far) success | base travel (m) | {near} (in reach) success | base travel (m) |")
print("|---|---|---|---|---|---|")
for p, label in (
    ("in", f"P_in (trained on {near})"),
    ("far", f"P_far (trained on {far}, expert + layer, the split recorded)"),
    ("want", f"P_want (trained on {far}, expert + layer, the hand motion recorded)"),
):
    for layer in ("alone", "layer"):
        cells = [*cell(f"p_{p}_{layer}_far", far), *(cell(f"p_{p}_{layer}_in", near) if p == "in" else ("-", "-"))]
        print(f"| {label} | {'+ layer' if layer == 'layer' else 'alone'} | " + " | ".join(cells) + " |")
EOF
  echo; echo "wall time of each command (stage, what, seconds), every run: $TIMES"; cat "$TIMES"
fi
