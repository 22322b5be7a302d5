#!/usr/bin/env bash
# Two robots of two suites in one policy, in the shared spaces (issue 17 items 2-3): one l1-effnet trained on both
# suites' demonstrations (`vlastack data embody`: shared actions in metres and radians per step, the shared state, camera
# slots), against a shared-space policy trained on each suite alone (same steps, same demonstrations). Success per task
# and policy, one table. benchmarks/sawyer_anchor.sh runs it for Meta-World's and robosuite's Sawyer (its defaults).
#
#   A_TASKS=reach-v3,push-v3,pick-place-v3 A_CAMERAS=corner2 B_SUITE=fetch B_TASKS=fetch-reach,fetch-push,fetch-pickplace \
#     B_CAMERAS=external_camera_0 SLOTS=front DATA=runs/mw_fetch/data OUT=runs/mw_fetch/l1_effnet bash benchmarks/shared_space_pair.sh
#   ... EPISODES=2 STEPS=20 EVAL_EPISODES=1 MAX_STEPS=40 DATA=/tmp/pair_data OUT=/tmp/pair_run   # dry run
#
# Stages, each skipping what exists (re-run the same command to resume; STAGES=train,eval runs some):
#   collect  A_TASKS and B_TASKS x EPISODES, scripted experts behind each robot's own safety spec (the collect default),
#            seeds 0, 1, ..., into DATA/<A_SUITE> and DATA/<B_SUITE> at IMAGE_SIZE px; `vlastack collect` resumes.
#   embody   both into one dataset DATA/embodied in the shared spaces (`vlastack data embody`; resumes if stopped).
#   train    (a) joint: one policy on both suites' episodes; (b) one policy per suite on that suite's episodes of the
#            same dataset (train.tasks=...), the same STEPS: half the joint policy's data, its own statistics.
#   eval     `vlastack eval` (each robot behind its own safety spec, seeds 100000+, EVAL_EPISODES each): the joint
#            policy on every task, each suite's policy on its own tasks; the report directories log every episode.
#   table    one markdown table, task x policy: successes / episodes.
# Training: l1-effnet (frozen EfficientNet-Lite0 trunk, maps cached once per frame and camera: train.feature_cache),
# the camera SLOTS, batch 64, one torch thread; state 4 (hand position from the table centre in the shared frame,
# gripper opening), action 11 (the shared action; entries a robot does not use are 0).
# Evaluation maps each task's observations into the shared layout and each chunk back to the robot's own action
# (vlastack.embodiments.adapter). MAX_STEPS: Meta-World's protocol 500; robosuite and Fetch tasks stop at their own.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin}
A_SUITE=${A_SUITE:-metaworld}
A_TASKS=${A_TASKS:-pick-place-v3}                          # Meta-World's Sawyer
A_CAMERAS=${A_CAMERAS:-corner2,gripperPOV}
B_SUITE=${B_SUITE:-robosuite}
B_TASKS=${B_TASKS:-rs-lift-sawyer}                         # robosuite's Sawyer
B_CAMERAS=${B_CAMERAS:-agentview,robot0_eye_in_hand}
SLOTS=${SLOTS:-front,wrist}                                # camera slots (vlastack.embodiments.observation.CAMERA_SLOTS)
DATA=${DATA:-runs/anchor/data}                             # DATA/<A_SUITE>, DATA/<B_SUITE>, DATA/embodied
OUT=${OUT:-runs/anchor/l1_effnet}
EPISODES=${EPISODES:-50}                                   # demonstrations per task
STEPS=${STEPS:-3000}                                       # optimizer steps of each policy (batch 64)
EVAL_EPISODES=${EVAL_EPISODES:-20}                         # evaluation episodes per (policy, task)
MAX_STEPS=${MAX_STEPS:-500}                                # evaluation step limit (robosuite and Fetch tasks stop at their own)
IMAGE_SIZE=${IMAGE_SIZE:-96}                               # recorded camera side, pixels, both suites (l1-effnet sees 96)
WORKERS=${WORKERS:-2}                                      # simulator processes (collect, eval)
THREADS=${THREADS:-1}                                      # torch threads of a training process
STAGES=${STAGES:-collect,embody,train,eval,table}
export MUJOCO_GL=${MUJOCO_GL:-egl}
# This checkout's code, whichever virtual environment runs it (a worktree's venv may install another checkout).
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
VLA=("$PY/python" -m vlastack)

EMB="$DATA/embodied"
mkdir -p "$OUT" "$DATA"
TIMES="$OUT/timings.tsv"  # stage, what, wall seconds; appended by every run
source benchmarks/stages.sh  # want, timed, final, eval_run

# ---- demonstrations, then one dataset in the shared spaces ---------------------------------------------------
if want collect; then
  timed collect "$A_TASKS x $EPISODES" "${VLA[@]}" collect --tasks "$A_TASKS" --episodes "$EPISODES" --out "$DATA/$A_SUITE" \
    --workers "$WORKERS" --image-size "$IMAGE_SIZE" --cameras "$A_CAMERAS"
  timed collect "$B_TASKS x $EPISODES" "${VLA[@]}" collect --tasks "$B_TASKS" --episodes "$EPISODES" --out "$DATA/$B_SUITE" \
    --workers "$WORKERS" --image-size "$IMAGE_SIZE" --cameras "$B_CAMERAS"
fi
if want embody; then
  if [ -f "$EMB/meta/info.json" ]; then echo "embody: done ($EMB)"; else
    timed embody "both suites" "${VLA[@]}" data embody --datasets "$DATA/$A_SUITE,$DATA/$B_SUITE" --out "$EMB" \
      --image-size "$IMAGE_SIZE" --cameras "$SLOTS" --no-progress
  fi
fi

# ---- training ------------------------------------------------------------------------------------------------
COMMON=(--preset l1-effnet --cpu --no-progress --resume --frames memmap --cameras "$SLOTS" --no-touch
  --set train.feature_cache=true --set policy.state_dim=4 --set policy.action_dim=11)
train_run() {  # train_run RUN_DIR STEPS ARGS...: skipped when RUN_DIR holds its final checkpoint
  local run=$1 steps=$2; shift 2
  if [ -d "$(final "$run" "$steps")" ]; then echo "$run: done (step $steps)"; return; fi
  mkdir -p "$run"
  echo "$run: training to step $steps (log $run/train.log)"
  timed train "${run#"$OUT"/}" env OMP_NUM_THREADS="$THREADS" "${VLA[@]}" train "${COMMON[@]}" --dataset "$EMB" --out "$run" \
    --steps "$steps" --save-every "$(( steps < 500 ? steps : 500 ))" "$@" >> "$run/train.log" 2>&1 || { tail -n 30 "$run/train.log" >&2; exit 1; }
}
if want train; then
  train_run "$OUT/joint" "$STEPS" --set "train.tasks=$A_TASKS,$B_TASKS"  # (a) both suites
  train_run "$OUT/$A_SUITE" "$STEPS" --set "train.tasks=$A_TASKS"        # (b) each suite alone
  train_run "$OUT/$B_SUITE" "$STEPS" --set "train.tasks=$B_TASKS"
fi

# ---- evaluation ----------------------------------------------------------------------------------------------
if want eval; then
  eval_run joint "$(final "$OUT/joint" "$STEPS")" "$A_TASKS,$B_TASKS"
  eval_run "$A_SUITE" "$(final "$OUT/$A_SUITE" "$STEPS")" "$A_TASKS"
  eval_run "$B_SUITE" "$(final "$OUT/$B_SUITE" "$STEPS")" "$B_TASKS"
fi

# ---- the table -----------------------------------------------------------------------------------------------
if want table; then
  "$PY/python" - "$OUT" "$A_SUITE" "$A_TASKS" "$B_SUITE" "$B_TASKS" <<'PYEOF'
import json, sys
from pathlib import Path

from vlastack.embodiments import embodiment_for_task

out, a_suite, a_tasks, b_suite, b_tasks = Path(sys.argv[1]), *sys.argv[2:]

def cell(name: str, task: str) -> str:
    """successes/episodes of policy ``name`` on ``task`` ("-": not evaluated there, "?": not run yet)."""
    path = out / f"eval_{name}.json"
    if not path.is_file():
        return "?"
    t = json.loads(path.read_text())["per_task"].get(task)
    if t is None:
        return "-"
    k, n = round(t["success"] * t["episodes"]), t["episodes"]
    return f"{k}/{n}" + (f", {len(t['crashed'])} crashed" if t["crashed"] else "")

print("| task (robot) | joint: both suites, shared space | own suite alone, shared space |")
print("|---|---|---|")
for suite, tasks in ((a_suite, a_tasks), (b_suite, b_tasks)):
    for task in tasks.split(","):
        print(f"| {task} ({embodiment_for_task(task).id}) | {cell('joint', task)} | {cell(suite, task)} |")
PYEOF
  echo; echo "wall time of each command (stage, what, seconds), every run: $TIMES"; cat "$TIMES"
fi
