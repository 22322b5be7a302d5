"""Kill a real ``vlastack collect`` at random moments; after each kill the dataset must read and resume.

Each round records a small dataset (one easy task, 64 px images, one camera, a few episodes). The
collection is started, SIGKILLed after a random delay, checked, and started again (a resume) until
it finishes on its own; then the next round starts in a fresh directory. After every kill:

- ``vlastack dataset info DIR --json`` runs as a subprocess. Once any episode is committed (its
  meta/episodes file exists: the writer's commit point) a failure counts as an *unreadable dataset*.
- Every episode seen committed before (index -> seed) must still be there with the same seed;
  each one missing or changed counts as a *lost committed episode*.

Each kill comes a random delay after the run's writer opened the dataset (meta/info.json written
by this run: a fresh dataset's first write, or a resume's rewrite), uniform in [0, E * R], where R
is one more than the number of episodes the run still has to record and E the time per episode a
calibration run took, updated from every run that finishes and raised after a kill that left no
new episode (the machine's load changes). So the kills land while episodes are simulated and written, not during the
imports, and some runs finish, so that rounds end and new datasets (first commits) come often.
Bars: 0 unreadable datasets, 0 lost committed episodes.

    MUJOCO_GL=egl nice .venv/bin/python benchmarks/crash_kill_at_random.py --kills 120
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "vlastack"]


def collect_args(out: Path, a: argparse.Namespace) -> list[str]:
    return [
        *CLI,
        "collect",
        "--tasks",
        a.task,
        "--episodes",
        str(a.episodes),
        "--out",
        str(out),
        "--image-size",
        str(a.image_size),
        "--cameras",
        "corner2",
        "--no-touch",
    ]


def committed_files(out: Path) -> int:
    """Episodes past their commit point (files under meta/episodes), counted without reading them."""
    return len(list((out / "meta" / "episodes").glob("chunk-*/file-*.parquet")))


def seeds(out: Path) -> dict[int, int]:
    """Committed episode index -> its reset seed, as the reader sees them."""
    from vlastack.episodes.reader import DatasetReader

    rows = DatasetReader(out).episodes.to_dict("records")
    return {int(r["episode_index"]): int(r["vlastack/seed"]) for r in rows}


def wait_until_open(out: Path, proc: subprocess.Popen, started_ns: int, limit_s: float = 300.0) -> None:
    """Until this run has written meta/info.json (its writer is open), or it has ended."""
    info = out / "meta" / "info.json"
    deadline = time.monotonic() + limit_s
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            if info.stat().st_mtime_ns >= started_ns:
                return
        except FileNotFoundError:
            pass
        time.sleep(0.01)


def calibrate(out: Path, a: argparse.Namespace, env: dict) -> tuple[float, float]:
    """Seconds until the dataset directory exists, and until a whole uninterrupted run ends."""
    start = time.monotonic()
    proc = subprocess.Popen(collect_args(out, a), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = None
    while proc.poll() is None:
        if first is None and (out / "meta" / "info.json").exists():
            first = time.monotonic() - start
        time.sleep(0.02)
    total = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"calibration run failed with exit code {proc.returncode}")
    return (first if first is not None else 0.0), total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kills", type=int, default=120, help="SIGKILLs to deliver in all.")
    p.add_argument("--episodes", type=int, default=4, help="Episodes per round's dataset.")
    p.add_argument("--task", default="reach-v3", help="Meta-World task (an easy one keeps rounds short).")
    p.add_argument("--image-size", type=int, default=64, help="Square image side in pixels.")
    p.add_argument("--seed", type=int, default=0, help="Seed of the random kill delays.")
    p.add_argument("--workdir", type=Path, default=None, help="Where datasets go (default: a temporary directory).")
    p.add_argument("--json", type=Path, default=None, help="Also write the summary here.")
    a = p.parse_args()

    rng = random.Random(a.seed)
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    work = a.workdir or Path(tempfile.mkdtemp(prefix="vlastack-crash-"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    ready_s, run_s = calibrate(work / "calibration", a, env)
    per_episode_s = max((run_s - ready_s) / max(a.episodes - 1, 1), 0.1)
    print(
        f"calibration: dataset exists after {ready_s:.2f} s, a whole run takes {run_s:.2f} s; kills come "
        f"uniform in [0, {per_episode_s:.2f} s x (episodes still to record + 1)] after each run opens the dataset",
        flush=True,
    )

    kills = unreadable = lost = other = rounds = 0
    after_commit = 0  # kills that landed with at least one episode committed
    failures: list[str] = []
    while kills < a.kills:
        rounds += 1
        out = work / f"round-{rounds:03d}"
        known: dict[int, int] = {}
        while True:
            started_ns = time.time_ns() - 10_000_000  # file times are coarser than the clock: allow 10 ms
            err_path = work / "collect-stderr.txt"  # a file, not a pipe: nothing can block on a full pipe
            with open(err_path, "wb") as err_file:
                proc = subprocess.Popen(collect_args(out, a), env=env, stdout=subprocess.DEVNULL, stderr=err_file)
            wait_until_open(out, proc, started_ns)
            opened = time.monotonic()
            before = len(known)
            delay = rng.uniform(0.0, per_episode_s * (a.episodes - len(known) + 1))
            try:
                proc.wait(timeout=delay)
                finished, ended = True, time.monotonic()
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                finished = False
                kills += 1
                if kills % 10 == 0:
                    print(f"  {kills} kills, {after_commit} after a commit so far; unreadable {unreadable}, lost {lost}", flush=True)
            if finished and proc.returncode != 0:
                other += 1
                failures.append(f"{out}: collect exited {proc.returncode}: {err_path.read_text(errors='replace')[-500:]}")
            n_committed = committed_files(out) if out.exists() else 0
            after_commit += int(not finished and n_committed > 0)
            if n_committed:
                info = subprocess.run([*CLI, "dataset", "info", str(out), "--json"], env=env, capture_output=True, text=True, timeout=120)
                if info.returncode != 0:
                    unreadable += 1
                    failures.append(f"{out} after kill {kills}: dataset info failed: {info.stderr.strip()[-300:]}")
                else:
                    now = seeds(out)
                    gone = [e for e, s in known.items() if now.get(e) != s]
                    lost += len(gone)
                    if gone:
                        failures.append(f"{out} after kill {kills}: lost committed episodes {gone}")
                    known.update(now)
            # Follow the machine's speed (other jobs come and go): from runs that finish, and longer
            # after a kill that left no new episode, so that rounds keep moving on.
            if finished and not proc.returncode and len(known) > before:
                per_episode_s = 0.5 * per_episode_s + 0.5 * (ended - opened) / (len(known) - before)
            elif not finished and len(known) == before:
                per_episode_s *= 1.15
            if finished or kills >= a.kills:
                break
        if finished and len(known) != a.episodes:
            other += 1
            failures.append(f"{out}: finished with {len(known)} episodes, wanted {a.episodes}")
        print(f"round {rounds}: {kills} kills so far, {after_commit} after a commit; unreadable {unreadable}, lost {lost}", flush=True)
        shutil.rmtree(out, ignore_errors=True)

    summary = {
        "kills": kills,
        "kills_after_a_commit": after_commit,
        "rounds": rounds,
        "unreadable_datasets": unreadable,
        "lost_committed_episodes": lost,
        "other_failures": other,
        "seconds_per_episode": round(per_episode_s, 3),
        "minutes": round((time.monotonic() - t0) / 60, 1),
    }
    for f in failures:
        print("FAIL:", f)
    print(json.dumps(summary, indent=2))
    if a.json:
        a.json.write_text(json.dumps(summary, indent=2))
    if a.workdir is None:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
