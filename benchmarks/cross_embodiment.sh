#!/usr/bin/env bash
# Issue 17 item 3, the cross-embodiment experiment on robosuite Lift: one l1-effnet policy trained on several arms
# (ARMS) against one policy per arm (same steps, same demonstrations), then an arm left out of training entirely
# (HELD_OUT): the joint policy as it is (0 of its demonstrations), the joint policy fine-tuned on 10 and on 50 of
# them, and, for scale, a policy trained on those 50 alone from scratch. Success per arm and policy, one table.
#
#   bash benchmarks/cross_embodiment.sh
#   ARMS=panda,sawyer HELD_OUT=xarm7 OUT=runs/xemb_b PY=/work/main/.venv/bin bash benchmarks/cross_embodiment.sh  # others
#   ARMS=panda,ur5e HELD_OUT=jaco EPISODES=2 HELD_DEMOS="1 2" SCRATCH_DEMOS=2 STEPS=20 FT_STEPS=10 EVAL_EPISODES=1 \
#     MAX_STEPS=40 DATA=/tmp/xemb_data OUT=/tmp/xemb_run bash benchmarks/cross_embodiment.sh   # dry run (~2 min)
#
# Stages, each skipping what exists (re-run the same command to resume; STAGES=joint,eval runs some):
#   collect  rs-lift-<arm> x EPISODES for ARMS into DATA, and the held-out arm's demonstrations (the most HELD_DEMOS
#            and SCRATCH_DEMOS ask for) into its own dataset DATA_HELD; scripted experts behind each arm's own safety
#            spec (the collect default), seeds 0, 1, ... per arm; `vlastack collect` resumes a partial dataset.
#   joint    one policy on every arm of ARMS (--set train.tasks=...: the episodes of those arms only, and their stats).
#   per_arm  one policy per arm of ARMS, on that arm's episodes of the same dataset (train.tasks=rs-lift-<arm>),
#            the same STEPS: it sees 1/len(ARMS) of the joint policy's data, as the issue's comparison means.
#   held     the held-out arm, N demonstrations for each N in HELD_DEMOS: the joint policy's last checkpoint
#            fine-tuned (--init-from; it keeps the joint policy's normalisation statistics) for FT_STEPS steps at FT_LR
#            on the first N held-out episodes (train.episodes_per_task=N). Fine-tuning, not retraining on the mixture:
#            `vlastack train` reads one dataset, and fine-tuning is the adaptation a deployed policy would get.
#            For each N in SCRATCH_DEMOS, a policy trained from scratch on N held-out episodes alone (STEPS steps):
#            what the joint policy's other arms are worth against that arm's own demonstrations.
#   eval     `vlastack eval` (behind each arm's safety spec, seeds 100000+): the joint policy on every arm and the
#            held-out one (the 0-demonstration result), each per-arm policy on its own arm, each held-out variant
#            on the held-out arm; the report directories log every episode (--resume).
#   table    one markdown table, arm x policy: successes / episodes.
# Training: the frozen EfficientNet-Lite0 trunk's maps cached once per frame and camera per dataset
# (train.feature_cache), both cameras, batch 64; state 8 (hand xyz, quaternion, gripper opening), action 7 (hand
# translation and rotation deltas, gripper), the same layout on every arm (envs/robosuite_env.py). Images are
# recorded at IMAGE_SIZE px (the policy sees 96 px: l1-effnet's image_size).
#
# Estimated wall time of the defaults, scaled from the dry run above (2026-12-07, the
# 2-core VM under nice 19 while another job kept it at load 4-5, so an idle machine should do better):
#   collect  ~19 frames/s with 2 workers; 5 x 50 Lift episodes (~50 frames) + 50 Jaco (~83): ~16,700 frames, ~15 min
#   caches   ~120 camera frames/s, inside the first training process on each dataset: 33,400 frames, ~5 min
#   train    1,300-1,600 samples/s at batch 64, one thread (20-25 steps/s): 6 x 3,000 + 2 x 1,000 steps, ~15 min
#   eval     ~70 ms per control step per worker; 280 episodes (joint 6 x 20, per arm 5 x 20, held-out 3 x 20) of
#            45-85 steps when they succeed, 250 when not: 8-40 min with 2 workers
#   in all   about 45-75 min; what the policies achieve decides the evaluation's share.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin}
ARMS=${ARMS:-panda,sawyer,ur5e,kinova3,iiwa}  # training arms (robosuite_tasks.LIFT_ARMS keys)
HELD_OUT=${HELD_OUT:-jaco}                    # the arm never trained on
DATA=${DATA:-runs/xemb/rs_lift_train}         # training arms' dataset
DATA_HELD=${DATA_HELD:-${DATA}_heldout_$HELD_OUT}  # the held-out arm's dataset
OUT=${OUT:-runs/xemb/l1_effnet}
EPISODES=${EPISODES:-50}                      # demonstrations per training arm
HELD_DEMOS=${HELD_DEMOS:-"10 50"}             # held-out demonstrations the joint policy is fine-tuned on (space-separated)
SCRATCH_DEMOS=${SCRATCH_DEMOS:-"50"}          # held-out demonstrations a from-scratch policy is trained on ("" = none)
STEPS=${STEPS:-3000}                          # optimizer steps of the joint and every per-arm policy (batch 64)
FT_STEPS=${FT_STEPS:-1000}                    # optimizer steps of each fine-tune (the same for every N)
FT_LR=${FT_LR:-3e-4}                          # peak learning rate of a fine-tune (the preset's is 1e-3)
EVAL_EPISODES=${EVAL_EPISODES:-20}            # evaluation episodes per (policy, arm)
MAX_STEPS=${MAX_STEPS:-250}                   # evaluation step limit, control steps at 20 Hz (Lift's own limit: 250)
IMAGE_SIZE=${IMAGE_SIZE:-96}                  # recorded camera side, pixels
WORKERS=${WORKERS:-2}                         # simulator processes (collect, eval)
THREADS=${THREADS:-1}                         # torch threads of a training process (2 ran 15x slower on the shared 2-core VM)
STAGES=${STAGES:-collect,joint,per_arm,held,eval,table}
export MUJOCO_GL=${MUJOCO_GL:-egl}
# This checkout's code, whichever virtual environment runs it (a worktree's venv may install another checkout).
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
VLA=("$PY/python" -m vlastack)

IFS=, read -r -a arms <<< "$ARMS"
for a in "${arms[@]}"; do [ "$a" != "$HELD_OUT" ] || { echo "HELD_OUT=$HELD_OUT is also in ARMS=$ARMS" >&2; exit 2; }; done
task() { echo "rs-lift-$1"; }
train_tasks=$(printf 'rs-lift-%s,' "${arms[@]}"); train_tasks=${train_tasks%,}
held_task=$(task "$HELD_OUT")
held_max=$(printf '%s\n' $HELD_DEMOS $SCRATCH_DEMOS 0 | sort -n | tail -n 1)  # held-out demonstrations to collect
mkdir -p "$OUT"
TIMES="$OUT/timings.tsv"  # stage, what, wall seconds; appended by every run (collect always: ~1 s once complete)
source benchmarks/stages.sh  # want, timed, final, eval_run

# ---- (a) demonstrations --------------------------------------------------------------------------------------
if want collect; then
  timed collect "$train_tasks x $EPISODES" "${VLA[@]}" collect --tasks "$train_tasks" --episodes "$EPISODES" --out "$DATA" \
    --workers "$WORKERS" --image-size "$IMAGE_SIZE"
  [ "$held_max" -eq 0 ] || timed collect "$held_task x $held_max" "${VLA[@]}" collect --tasks "$held_task" --episodes "$held_max" --out "$DATA_HELD" \
    --workers "$WORKERS" --image-size "$IMAGE_SIZE"
fi

# ---- training ------------------------------------------------------------------------------------------------
COMMON=(--preset l1-effnet --cpu --no-progress --resume --frames memmap --cameras agentview,robot0_eye_in_hand
  --set train.feature_cache=true --set policy.state_dim=8 --set policy.action_dim=7)
train_run() {  # train_run STAGE RUN_DIR STEPS ARGS...: skipped when RUN_DIR holds its final checkpoint
  local stage=$1 run=$2 steps=$3; shift 3
  if [ -d "$(final "$run" "$steps")" ]; then echo "$run: done (step $steps)"; return; fi
  mkdir -p "$run"
  echo "$run: training to step $steps (log $run/train.log)"
  timed "$stage" "${run#"$OUT"/}" env OMP_NUM_THREADS="$THREADS" "${VLA[@]}" train "${COMMON[@]}" --out "$run" --steps "$steps" \
    --save-every "$(( steps < 500 ? steps : 500 ))" "$@" >> "$run/train.log" 2>&1 || { tail -n 30 "$run/train.log" >&2; exit 1; }
}
JOINT="$OUT/joint"
# (b) one policy on every training arm; train.episodes_per_task keeps EPISODES per arm should DATA hold more.
want joint && train_run joint "$JOINT" "$STEPS" --dataset "$DATA" --set "train.tasks=$train_tasks" \
  --set "train.episodes_per_task=$EPISODES"
# (c) one policy per training arm, the same steps, that arm's episodes of the same dataset (and its feature cache).
if want per_arm; then
  for a in "${arms[@]}"; do
    train_run per_arm "$OUT/arm_$a" "$STEPS" --dataset "$DATA" --set "train.tasks=$(task "$a")" --set "train.episodes_per_task=$EPISODES"
  done
fi
# (d) the held-out arm: the joint policy fine-tuned on N of its demonstrations; a policy on N of them alone.
if want held; then
  [ -d "$(final "$JOINT" "$STEPS")" ] || { echo "held: the joint policy $(final "$JOINT" "$STEPS") is not trained yet" >&2; exit 1; }
  for n in $HELD_DEMOS; do
    train_run held "$OUT/heldout_ft$n" "$FT_STEPS" --dataset "$DATA_HELD" --init-from "$(final "$JOINT" "$STEPS")" \
      --set "train.lr=$FT_LR" --set "train.warmup_steps=$(( FT_STEPS / 10 ))" --set "train.episodes_per_task=$n"
  done
  for n in $SCRATCH_DEMOS; do
    train_run held "$OUT/heldout_scratch$n" "$STEPS" --dataset "$DATA_HELD" --set "train.episodes_per_task=$n"
  done
fi

# ---- (e) evaluation ------------------------------------------------------------------------------------------
if want eval; then
  eval_run joint "$(final "$JOINT" "$STEPS")" "$train_tasks,$held_task"
  for a in "${arms[@]}"; do eval_run "arm_$a" "$(final "$OUT/arm_$a" "$STEPS")" "$(task "$a")"; done
  for n in $HELD_DEMOS; do eval_run "heldout_ft$n" "$(final "$OUT/heldout_ft$n" "$FT_STEPS")" "$held_task"; done
  for n in $SCRATCH_DEMOS; do eval_run "heldout_scratch$n" "$(final "$OUT/heldout_scratch$n" "$STEPS")" "$held_task"; done
fi

# ---- (f) the table -------------------------------------------------------------------------------------------
if want table; then
  "$PY/python" - "$OUT" "$ARMS" "$HELD_OUT" "$HELD_DEMOS" "$SCRATCH_DEMOS" <<'EOF'
import json, sys
from pathlib import Path
out, arms, held, ft, scratch = Path(sys.argv[1]), sys.argv[2].split(","), sys.argv[3], sys.argv[4].split(), sys.argv[5].split()

def cell(name: str, arm: str) -> str:
    """successes/episodes of policy ``name`` on ``arm`` ("-": not evaluated there, "?": not run yet)."""
    path = out / f"eval_{name}.json"
    if not path.is_file():
        return "?"
    task = json.loads(path.read_text())["per_task"].get(f"rs-lift-{arm}")
    if task is None:
        return "-"
    k, n = round(task["success"] * task["episodes"]), task["episodes"]
    crashed = f", {len(task['crashed'])} crashed" if task["crashed"] else ""
    return f"{k}/{n}{crashed}"

cols = [("joint (0 held-out demos)", lambda a: cell("joint", a)), ("own arm's policy", lambda a: cell(f"arm_{a}", a) if a != held else "-")]
cols += [(f"joint + {n} held-out demos (fine-tune)", lambda a, n=n: cell(f"heldout_ft{n}", a) if a == held else "-") for n in ft]
cols += [(f"{n} held-out demos alone (scratch)", lambda a, n=n: cell(f"heldout_scratch{n}", a) if a == held else "-") for n in scratch]
print("| arm | " + " | ".join(c for c, _ in cols) + " |")
print("|---|" + "---|" * len(cols))
for arm in [*arms, held]:
    print(f"| {arm}{' (held out)' if arm == held else ''} | " + " | ".join(f(arm) for _, f in cols) + " |")
EOF
  echo; echo "wall time of each command (stage, what, seconds), every run: $TIMES"; cat "$TIMES"
fi
