#!/usr/bin/env bash
# Issue 17 item 3's anchor pair: Meta-World's Sawyer and robosuite's Sawyer, one policy trained on both suites'
# demonstrations in the shared action space, against a shared-space policy trained on each suite alone (same steps,
# same demonstrations). The stages, knobs and table are benchmarks/shared_space_pair.sh's; this names the pair.
#
#   bash benchmarks/sawyer_anchor.sh
#   EPISODES=2 STEPS=20 EVAL_EPISODES=1 MAX_STEPS=40 DATA=/tmp/anchor_data OUT=/tmp/anchor_run bash benchmarks/sawyer_anchor.sh   # dry run
set -euo pipefail
cd "$(dirname "$0")/.."
export A_SUITE=metaworld A_TASKS=${MW_TASK:-pick-place-v3} A_CAMERAS=corner2,gripperPOV
export B_SUITE=robosuite B_TASKS=${RS_TASK:-rs-lift-sawyer} B_CAMERAS=agentview,robot0_eye_in_hand
export SLOTS=front,wrist DATA=${DATA:-runs/anchor/data} OUT=${OUT:-runs/anchor/l1_effnet}
exec bash benchmarks/shared_space_pair.sh
