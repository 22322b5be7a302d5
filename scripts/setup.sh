#!/usr/bin/env bash
# Set up vlastack on a fresh Debian/Ubuntu machine: system libraries for headless MuJoCo rendering
# (EGL) and video, then a virtual environment in .venv with the package and its extras.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: EGL and Mesa for offscreen rendering on a CPU, and Chromium, in which the tests
# open the evaluation report (playwright drives it; it downloads no browser). Installed only where missing.
need=()
for pkg in libegl1 libegl-mesa0 libgl1 libgles2 libopengl0 chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip=".venv/bin/python -m pip"
$pip install -q --upgrade pip >/dev/null
# Torch first and pinned: a looser requirement resolved first would pull a CUDA build of several GB.
# Where 2.13.0 is not available (GPU machines ship 2.11), set TORCH_SPEC, e.g. TORCH_SPEC=torch==2.11.0.
$pip install -q "${TORCH_SPEC:-torch==2.13.0}"
$pip install -q -e ".[sim,lang,serve,train,dev]"
# openpi-client pins numpy<2 in its metadata but runs on numpy 2; install it without its pins so it
# does not downgrade numpy under pandas (it is only used to test wire compatibility).
$pip install -q --no-deps "openpi-client==0.1.2" "dm-tree>=0.1.8" "wrapt>=1.14"
# robosuite (issue 17), an optional extra installed by default; VLASTACK_ROBOSUITE=0 skips it (its tests
# then skip). robosuite 1.5.2 pins numpy<2 through mink 0.0.5 but runs on numpy 2, so both go in without
# their pins, then their other dependencies (the [robosuite] extra), all under scripts/constraints.txt so
# that nothing moves numpy or the mujoco version metaworld needs.
if [ "${VLASTACK_ROBOSUITE:-1}" != "0" ]; then
  $pip install -q -c scripts/constraints.txt --no-deps "robosuite==1.5.2" "mink==0.0.5"
  $pip install -q -c scripts/constraints.txt -e ".[robosuite]"
fi
# Fetch (issue 17: gymnasium-robotics 1.4.2's Fetch Reach, Push and PickAndPlace), an optional extra installed by
# default; VLASTACK_FETCH=0 skips it (its tests then skip). Its dependencies move no pin (it adds only PettingZoo),
# so it installs normally, under scripts/constraints.txt all the same.
if [ "${VLASTACK_FETCH:-1}" != "0" ]; then
  $pip install -q -c scripts/constraints.txt -e ".[fetch]"
fi
echo "vlastack is set up in .venv"
