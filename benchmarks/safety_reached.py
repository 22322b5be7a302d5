"""Where the arm actually ends up: drive straight at every face of a keep-out box (and at the
workspace walls the simulator lets the arm reach) and measure how far the *measured* hand gets in.

    python benchmarks/safety_reached.py --out runs/safety_reached.json

Meta-World ``reach-v3`` (no cameras), ``metaworld_sawyer`` spec plus one keep-out box, 10 cm on a
side, centred at (0, 0.70, 0.20) m. For each face: the arm is brought (through the layer, without
the box) to a point 10 cm outside the face's centre and left to settle; then the box is switched
on and the arm is driven at the face along its normal with a constant action of magnitude
``--magnitudes`` (action units; 1.0 = 1 cm per 12.5 ms step) for 100 steps. Reported per face
and magnitude: the deepest the measured hand (``state[:3]``) got into the box (mm; 0 = never
touched it), the same for Meta-World's mocap target (the controller's set point, read from the
simulator for this measurement only; the layer never sees it), and the gap left to the face at
the end (mm; how conservative the stop is). Workspace walls: y high and z high (the others lie
beyond Meta-World's own mocap limits or under the table), from 10 cm inside; the preset keeps
only the measured position inside the workspace, ``--track-walls`` also the controller's target.
The bar (issue 18): at most 2 mm of penetration of the measured hand.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np

from vlastack.envs import make_env
from vlastack.safety import SafeActuator, load_spec
from vlastack.safety.faults import with_keep_out
from vlastack.safety.spec import Box

CENTER = np.array([0.0, 0.70, 0.20])
HALF = 0.05
START_M = 0.10  # start this far from the face, metres
DRIVE_STEPS = 100


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
    env = make_env("reach-v3", cameras=(), image_size=16, max_steps=500)
    raw = env._env  # read-only, to report the controller's target; the layer never sees it
    actuator = SafeActuator(env, spec)
    obs, _ = actuator.reset(seed=0)
    obs = move_to(actuator, obs, start)
    actuator.layer.spec = box_on  # the same layer (its memory of the motion so far), now with the box
    direction = np.zeros(3)
    direction[axis] = -sign  # towards the face
    hand, target = 0.0, 0.0
    for _ in range(DRIVE_STEPS):
        obs, *_ = actuator.step(np.r_[direction * magnitude, -1.0].astype(np.float32))
        hand = max(hand, inside_is(np.asarray(obs.state[:3], dtype=np.float64)))
        target = max(target, inside_is(raw.data.mocap_pos[0].copy()))
    for _ in range(40):  # stop and let it settle: where does it end?
        obs, *_ = actuator.step(np.array([0, 0, 0, -1.0], np.float32))
        hand = max(hand, inside_is(np.asarray(obs.state[:3], dtype=np.float64)))
    gap = sign * (float(obs.state[axis]) - plane)
    env.close()
    return {"hand_mm": 1000 * hand, "target_mm": 1000 * target, "gap_mm": 1000 * gap}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="metaworld_sawyer")
    parser.add_argument("--magnitudes", default="0.25,0.5,1.0")
    parser.add_argument(
        "--track-walls",
        action="store_true",
        help="also keep the controller's target inside the workspace (tracking.workspace = true; "
        "the metaworld_sawyer preset has it off, see safety/presets.py)",
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
    wh = np.array(spec.workspace.high)
    for axis in (1, 2):  # workspace y high and z high: approach from inside, drive outwards
        plane = wh[axis]
        start = np.array([0.0, 0.70, 0.25])
        start[axis] = plane - START_M

        def beyond(p, axis=axis, plane=plane):
            return max(0.0, float(p[axis] - plane))

        for m in magnitudes:
            r = drive(spec, spec, axis, -1, m, start, plane, beyond)
            rows.append({"wall": f"workspace {'xyz'[axis]} high", "magnitude": m, **r})
            print(rows[-1], flush=True)
    worst = max(r["hand_mm"] for r in rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"spec": spec.name, "tracking": dataclasses.asdict(spec).get("tracking"), "rows": rows, "max_hand_mm": worst}, indent=1)
    )
    print(
        "\n| wall | magnitude | hand penetration (mm) | mocap target penetration (mm) | gap left at the end (mm) |\n|---|---|---|---|---|"
    )
    for r in rows:
        print(f"| {r['wall']} | {r['magnitude']} | {r['hand_mm']:.1f} | {r['target_mm']:.1f} | {r['gap_mm']:.1f} |")
    print(f"\nmax penetration of the measured hand: {worst:.1f} mm (bar: 2 mm)")


if __name__ == "__main__":
    main()
