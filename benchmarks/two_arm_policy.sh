#!/usr/bin/env bash
# Issue 17 item 4, the policy half: one l1-effnet policy trained on both two-arm robosuite tasks (rs_two_arm:
# rs-twoarmlift-panda, rs-handover-panda; 50 scripted-expert demonstrations each, recorded behind each task's
# two-arm safety spec), then evaluated closed loop, 10 episodes per task (seeds 100000+, each task's 250-step
# limit), twice: behind the two-arm safety layer (--safety embodiment, the default) and without it (--safety
# none). It measures per task: success, success within the spec's limits, the layer's interventions
# (safety_interventions, safety_by_limit: which arm, which rule, e.g. arm0.keep_out.min_distance_m), and
# arm-arm contacts (MuJoCo contacts between the two robots' geoms, summed over steps; episodes with any).
#
#   bash benchmarks/two_arm_policy.sh
#   PY=/work/main/.venv/bin OUT=runs/two_arm bash benchmarks/two_arm_policy.sh   # another venv or run directory
#   EPISODES=2 STEPS=50 EVAL_EPISODES=1 MAX_STEPS=30 WORKERS=1 DATA=/tmp/d OUT=/tmp/r bash benchmarks/two_arm_policy.sh  # dry run
#
# Inputs: agentview + robot0_eye_in_hand at 128 px (the robosuite default cameras), the 16-entry two-arm state
# (per arm: hand xyz, quaternion, gripper opening); no wrist force-torque (the preset's default). The presets are
# sized for Meta-World (state 4, action 4), hence the two --set policy.*_dim below (14 = 7 per arm).
# Every stage resumes: collect continues a partial dataset, train --resume continues from the last checkpoint
# (same schedule), eval --resume keeps the episodes its report directory logged; re-run the same command.
# Estimated wall time, scaled from a dry run (2 + 2 demonstrations, 50 steps, 1 + 1 episodes; 2026-12-07) on 2 CPU
# cores that another job kept busy, so an idle machine should do better: collection ~10 frames/s per process,
# ~8,600 frames (mean lengths 48 and 124 steps) plus dropped Handover seeds: 10-20 min; the trunk's feature cache
# ~14 camera frames/s, 17,200 frames: ~20 min (once, inside the first training process); training ~60 samples/s at
# batch 64, about 1 step/s: 6,000 steps ~1.7 h; evaluation ~17 steps/s per worker, at most 5,000 steps per setting:
# 5-10 min each. In all about 2.5 h.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin}
DATA=${DATA:-runs/rs_two_arm_50}
OUT=${OUT:-runs/two_arm/l1_effnet}
STEPS=${STEPS:-6000}
EPISODES=${EPISODES:-50}            # demonstrations per task
EVAL_EPISODES=${EVAL_EPISODES:-10}  # evaluation episodes per task
MAX_STEPS=${MAX_STEPS:-250}         # evaluation step limit (each robosuite task's own limit is 250)
WORKERS=${WORKERS:-2}
export MUJOCO_GL=${MUJOCO_GL:-egl}
# This checkout's code, whichever virtual environment runs it (a worktree's venv may install another checkout).
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
VLA=("$PY/python" -m vlastack)

# 1. Demonstrations: 50 per task, behind each task's two-arm spec (the default --safety-spec embodiment; the
#    Handover expert loses about 1 in 10 seeds behind it, and a failed seed is dropped and the next one tried).
"${VLA[@]}" collect --tasks rs_two_arm --episodes "$EPISODES" --out "$DATA" --workers "$WORKERS" --image-size 128
"${VLA[@]}" dataset info "$DATA"

# 2. Training: the frozen EfficientNet-Lite0 trunk's maps cached once per frame (train.feature_cache), both cameras.
mkdir -p "$(dirname "$OUT")"
logs=("$OUT"_part*.log)  # none yet: the pattern itself (nullglob is off), hence the -e test
part=$(( ${#logs[@]} + 1 )); [ -e "${logs[0]}" ] || part=1  # one log per training process (with /usr/bin/time)
OMP_NUM_THREADS=${THREADS:-1} /usr/bin/time -v "${VLA[@]}" train --preset l1-effnet --dataset "$DATA" --out "$OUT" --steps "$STEPS" \
  --save-every 500 --cpu --no-progress --resume --frames memmap --cameras agentview,robot0_eye_in_hand \
  --set train.feature_cache=true --set policy.state_dim=16 --set policy.action_dim=14 > "${OUT}_part$part.log" 2>&1
ckpt=$(ls -d "$OUT"/checkpoints/step_* | tail -n 1)

# 3. Evaluation, behind the two-arm layer and without it; --json prints the summary (per task: success,
#    safety_interventions, arm_arm_contacts, ...), the report directory holds every episode (results.json).
for safety in embodiment none; do
  /usr/bin/time -v "${VLA[@]}" eval --checkpoint "$ckpt" --tasks rs_two_arm --episodes "$EVAL_EPISODES" --workers "$WORKERS" \
    --max-steps "$MAX_STEPS" --safety "$safety" \
    --json --no-progress --resume --report "$OUT/report_${ckpt##*/}_$safety" > "$OUT/eval_$safety.json" 2> "$OUT/eval_$safety.err"
done
"$PY/python" - "$OUT" <<'EOF'
import json, sys
pct = lambda x: "-" if x is None else f"{x:.0%}"  # noqa: E731  (None: an episode was not audited, e.g. it crashed)
for safety in ("embodiment", "none"):
    s = json.load(open(f"{sys.argv[1]}/eval_{safety}.json"))
    for task, v in s["per_task"].items():
        print(f"{safety:10s} {task:20s} success {pct(v['success'])} within limits {pct(v['success_within_limits'])} "
              f"interventions {v.get('safety_interventions', '-')} arm-arm contacts {v['arm_arm_contacts']} "
              f"(episodes {v['episodes_with_arm_arm_contact']})")
EOF
