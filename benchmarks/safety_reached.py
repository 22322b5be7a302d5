"""Where the arm actually ends up: drive straight at every face of a keep-out box (and at the
workspace walls the simulator lets the arm reach) and measure how far the *measured* hand gets in.

    python benchmarks/safety_reached.py --out runs/safety_reached.json

Meta-World ``reach-v3`` (no cameras), ``metaworld_sawyer`` spec plus one keep-out box, 10 cm on a
side, centred at (0, 0.70, 0.20) m. For each face: the arm is brought (through the layer, without
the box) to a point 10 cm outside the face's centre and left to settle; then the box is switched
on and the arm is driven at the face along its normal with a constant action of magnitude
``--magnitudes`` (action units; 1.0 = 1 cm per 12.5 ms step) for 160 steps, then for 20 steps
diagonally (still pressing on the face, and along it), then for 20 steps straight away from it.
Reported per face and magnitude: the deepest the measured hand (``state[:3]``) got past the face
(mm; 0 = never touched it), the same for Meta-World's mocap target (the controller's set point,
read from the simulator for this measurement only; the layer never sees it), the gap left to the
face when the straight drive ends (mm; how conservative the stop is), how far the hand slid along
the face and backed away from it, and the stuck steps: steps of the last two phases on which the
layer let no translation through at all. Workspace walls: every face, driven from 10 cm inside
outwards (Meta-World clips its own target at x +-0.5 and the table stops the hand above the
floor, so on those faces the simulator stops the hand before the wall). ``--track-walls`` turns
``tracking.workspace`` on for a spec that has it off.
The bar (issue 18): at most 2 mm of penetration of the measured hand.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from vlastack.envs import make_env
from vlastack.safety import SAFETY_INFO_KEY, SafeActuator, load_spec
from vlastack.safety.faults import with_keep_out
from vlastack.safety.spec import Box

CENTER = np.array([0.0, 0.70, 0.20])
HALF = 0.05
START_M = 0.10  # start this far from the face, metres
DRIVE_STEPS = 160  # at magnitude 0.1 (1 mm per step) this still covers the 10 cm to the face
SLIDE_STEPS = 20  # short enough (at most 14 cm along the face) not to run into the next wall


def depth_inside(p: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Metres ``p`` is inside the box (distance to its nearest face), 0 outside."""
    if np.any(p < low) or np.any(p > high):
        return 0.0
    return float(min(np.min(p - low), np.min(high - p)))


def move_to(actuator: SafeActuator, obs, goal: np.ndarray, steps: int = 200):
    for i in range(steps):
        p = np.asarray(obs.state[:3], dtype=np.float64)
        a = np.clip((goal - p) * 30.0, -1, 1) if i < steps - 40 else np.zeros(3)  # then settle
        obs, *_ = actuator.step(np.r_[a, -1.0].astype(np.float32))
    return obs


def drive(spec, box_on, axis: int, sign: int, magnitude: float, start: np.ndarray, plane: float, inside_is) -> dict:
    """Drive at the face, then along it (pressing on), then away from it; the reached position every step."""
    env = make_env("reach-v3", cameras=(), image_size=16, max_steps=500)
    raw = env._env  # read-only, to report the controller's target; the layer never sees it
    actuator = SafeActuator(env, spec)
    obs, _ = actuator.reset(seed=0)
    obs = move_to(actuator, obs, start)
    actuator.layer.spec = box_on  # the same layer (its memory of the motion so far), now with the box
    towards = np.zeros(3)
    towards[axis] = -sign  # towards the face
    along = np.zeros(3)  # a direction in the face's plane, towards the farther workspace wall
    t_axis = (axis + 1) % 3
    wl, wh = np.asarray(spec.workspace.low), np.asarray(spec.workspace.high)
    along[t_axis] = 1.0 if wh[t_axis] - start[t_axis] >= start[t_axis] - wl[t_axis] else -1.0
    hand, target, stuck = 0.0, 0.0, 0
    phases = [(towards, DRIVE_STEPS), ((towards + along) / np.sqrt(2.0), SLIDE_STEPS), (-towards, SLIDE_STEPS)]
    marks = []
    for direction, steps in phases:
        marks.append(np.asarray(obs.state[:3], dtype=np.float64))
        for _ in range(steps):
            proposed = np.r_[direction * magnitude, -1.0].astype(np.float32)
            obs, _, _, _, info = actuator.step(proposed)
            sent = np.asarray(info[SAFETY_INFO_KEY]["action"][:3], dtype=np.float64)
            if direction is not towards and not np.any(sent != 0.0):
                stuck += 1  # a motion with a part that leads away from the face, and none of it let through
            hand = max(hand, inside_is(np.asarray(obs.state[:3], dtype=np.float64)))
            target = max(target, inside_is(raw.data.mocap_pos[0].copy()))
    gap = sign * (float(marks[1][axis]) - plane)
    end = np.asarray(obs.state[:3], dtype=np.float64)
    env.close()
    return {
        "hand_mm": 1000 * hand,
        "target_mm": 1000 * target,
        "gap_mm": 1000 * gap,
        "slid_mm": 1000 * abs(marks[2][t_axis] - marks[1][t_axis]),
        "backed_out_mm": 1000 * sign * (end[axis] - marks[2][axis]),
        "stuck_steps": stuck,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="metaworld_sawyer")
    parser.add_argument("--magnitudes", default="0.1,0.25,0.5,0.75,1.0")
    parser.add_argument(
        "--track-walls",
        action="store_true",
        help="also keep the controller's target inside the workspace (tracking.workspace = true) for a spec that has it off",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/safety_reached.json"))
    args = parser.parse_args()
    spec = load_spec(args.spec)
    if args.track_walls:
        spec = dataclasses.replace(spec, tracking=dataclasses.replace(spec.tracking, workspace=True))
    magnitudes = [float(m) for m in args.magnitudes.split(",")]
    low, high = CENTER - HALF, CENTER + HALF
    box_spec = with_keep_out(spec, Box(tuple(low), tuple(high), name="probe"))
    rows = []
    for axis in range(3):
        for sign in (-1, 1):
            plane = (high if sign > 0 else low)[axis]
            start = CENTER.copy()
            start[axis] = plane + sign * START_M
            for m in magnitudes:
                r = drive(spec, box_spec, axis, sign, m, start, plane, lambda p: depth_inside(p, low, high))
                rows.append({"wall": f"keep-out {'+' if sign > 0 else '-'}{'xyz'[axis]} face", "magnitude": m, **r})
                print(rows[-1], flush=True)
    wl, wh = np.array(spec.workspace.low), np.array(spec.workspace.high)
    for axis in range(3):  # every workspace wall: approach from 10 cm inside, drive outwards
        for sign in (-1, 1):
            plane = (wh if sign > 0 else wl)[axis]
            start = np.array([0.0, 0.70, 0.25])
            start[axis] = plane - sign * START_M

            def beyond(p, axis=axis, plane=plane, sign=sign):
                return max(0.0, sign * float(p[axis] - plane))

            for m in magnitudes:
                r = drive(spec, spec, axis, -sign, m, start, plane, beyond)
                rows.append({"wall": f"workspace {'xyz'[axis]} {'high' if sign > 0 else 'low'}", "magnitude": m, **r})
                print(rows[-1], flush=True)
    worst = max(r["hand_mm"] for r in rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"spec": spec.name, "tracking": dataclasses.asdict(spec).get("tracking"), "rows": rows, "max_hand_mm": worst}, indent=1)
    )
    print(
        "\n| wall | magnitude | hand beyond the face (mm) | mocap target beyond (mm) | gap left (mm) | slid along (mm) "
        "| backed out (mm) | stuck steps |\n|---|---|---|---|---|---|---|---|"
    )
    for r in rows:
        print(
            f"| {r['wall']} | {r['magnitude']} | {r['hand_mm']:.1f} | {r['target_mm']:.1f} | {r['gap_mm']:.1f} "
            f"| {r['slid_mm']:.0f} | {r['backed_out_mm']:.0f} | {r['stuck_steps']} |"
        )
    print(f"\nmax penetration of the measured hand: {worst:.1f} mm (bar: 2 mm)")


if __name__ == "__main__":
    main()
