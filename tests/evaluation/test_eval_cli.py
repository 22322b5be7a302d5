"""``vlastack eval`` of a debug checkpoint through the real CLI, in subprocesses."""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time

import pytest

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "vlastack"]
ENV = {**os.environ, "MUJOCO_GL": "egl"}
HANG_GUARD_S = 300
"""Seconds before a wait that should end is declared hung (a guard against hanging CI, not a speed check)."""


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=ENV, timeout=600)


@pytest.fixture(scope="module")
def debug_checkpoint(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("debug")
    data, out = tmp / "ds", tmp / "run"
    r = run("collect", "--tasks", "reach-v3", "--episodes", "1", "--out", str(data), "--image-size", "32", "--cameras", "corner2")
    assert r.returncode == 0, r.stderr
    r = run("train", "--preset", "debug", "--dataset", str(data), "--out", str(out), "--steps", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    ckpts = sorted((out / "checkpoints").iterdir())
    assert ckpts, "training wrote no checkpoint"
    return ckpts[-1]


def test_eval_debug_checkpoint_writes_json_and_report(tmp_path, debug_checkpoint):
    r = run(
        "eval",
        "--checkpoint",
        str(debug_checkpoint),
        "--tasks",
        "reach-v3",
        "--episodes",
        "1",
        "--max-steps",
        "10",
        "--json",
        "--report",
        str(tmp_path / "report"),
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    saved = json.loads((tmp_path / "report" / "results.json").read_text())
    assert summary["episodes"] == 1 and summary["crashed_episodes"] == 0, saved["episodes"]
    assert summary["per_task"]["reach-v3"]["mean_length"] == 10  # a 2-step model does not solve reach in 10 steps
    assert set(summary["per_group"]) == {"easy"} and 0.0 <= summary["avg"] <= 1.0
    assert summary["latency_ms"]["calls"] >= 1
    assert saved["summary"]["avg"] == summary["avg"] and len(saved["episodes"]) == 1
    assert "<svg" in (tmp_path / "report" / "report.html").read_text()
    assert (tmp_path / "report" / "reach-v3.mp4").stat().st_size > 0
    assert len((tmp_path / "report" / "episodes.jsonl").read_text().splitlines()) == 2  # settings + 1 episode


def test_eval_rejects_a_directory_that_is_not_a_checkpoint(tmp_path):
    r = run("eval", "--checkpoint", str(tmp_path), "--tasks", "reach-v3", "--episodes", "1")
    assert r.returncode == 2 and "config.json" in r.stderr and "Traceback" not in r.stderr
    r = run("eval", "--checkpoint", str(tmp_path), "--tasks", "reach-v4")
    assert r.returncode == 2 and "Did you mean 'reach-v3'" in r.stderr
    r = run("eval", "--checkpoint", str(tmp_path), "--tasks", "reach-v3", "--resume")
    assert r.returncode == 2 and "give --report" in r.stderr and "Traceback" not in r.stderr


def _served_url(server: subprocess.Popen) -> str:
    """The ``ws://`` address a ``vlastack serve --port 0`` process logs once it listens (the OS picks the port)."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:  # keeps draining the pipe after the address is found, so the server never blocks on it
        for line in server.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen = []
    while True:
        line = lines.get(timeout=HANG_GUARD_S)  # it loads the checkpoint first
        assert line is not None, "server exited before listening:\n" + "".join(seen)
        seen.append(line)
        found = re.search(r"serving on (ws://127\.0\.0\.1:\d+)", line)
        if found:
            return found.group(1)


def test_eval_against_a_policy_server(tmp_path, debug_checkpoint):
    server = subprocess.Popen(
        [*CLI, "serve", "--checkpoint", str(debug_checkpoint), "--port", "0"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = _served_url(server)
        assert not url.endswith(":0")
        r = run("eval", "--server", url, "--tasks", "reach-v3", "--episodes", "1", "--max-steps", "5", "--json")
        assert r.returncode == 0, r.stderr
        summary = json.loads(r.stdout)
        assert summary["episodes"] == 1 and summary["crashed_episodes"] == 0, summary
        assert summary["per_task"]["reach-v3"]["mean_length"] == 5 and summary["latency_ms"]["calls"] >= 1
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_checkpoint_with_corrupt_weights_fails_loudly(tmp_path, debug_checkpoint):
    broken = tmp_path / "broken"
    shutil.copytree(debug_checkpoint, broken)
    (broken / "model.safetensors").write_bytes(b"these bytes are not a safetensors file")
    args = ("eval", "--checkpoint", str(broken), "--tasks", "reach-v3", "--episodes", "2", "--max-steps", "5", "--json", "--no-progress")
    for flag, status in (("--strict", 3), ("--no-strict", 0), (None, 3)):  # None: the default is strict
        report = tmp_path / f"report{flag}"
        r = run(*args, "--report", str(report), *([flag] if flag else []))
        assert r.returncode == status, (flag, r.returncode, r.stderr)
        assert "EVALUATION CRASHED: 2 of 2 episodes crashed (reach-v3 2)" in r.stderr, r.stderr
        first = re.search(r"First error \(reach-v3, seed 100000\): (.+)", r.stderr)
        assert first and "Traceback" not in r.stderr, r.stderr
        # The results are still written, and they carry the same error.
        saved = json.loads((report / "results.json").read_text())
        assert saved["summary"]["crashed_episodes"] == 2 and json.loads(r.stdout)["crashed_episodes"] == 2
        assert [e["error"] for e in saved["episodes"]] == [first.group(1)] * 2
        assert saved["summary"]["per_task"]["reach-v3"]["success"] == 0.0


def test_a_clean_run_prints_no_crash_summary(tmp_path, debug_checkpoint):
    r = run("eval", "--checkpoint", str(debug_checkpoint), "--tasks", "reach-v3", "--episodes", "1", "--max-steps", "3", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert "CRASHED" not in r.stderr and re.search(r"reach-v3 +easy ", r.stdout)


def test_demo_runs_a_checkpoint_with_a_chosen_executor(tmp_path, debug_checkpoint):
    r = run(
        "demo",
        "--checkpoint",
        str(debug_checkpoint),
        "--executor",
        "async",
        "--tasks",
        "reach-v3",
        "--episodes",
        "1",
        "--max-steps",
        "10",
        "--out",
        str(tmp_path / "demo"),
    )
    assert r.returncode == 0, r.stderr
    assert re.search(r"reach-v3 +easy ", r.stdout)
    saved = json.loads((tmp_path / "demo" / "report" / "results.json").read_text())
    assert saved["summary"]["config"]["executor"] == "async" and saved["summary"]["crashed_episodes"] == 0


def test_demo_runs_the_shipped_policy_by_default(tmp_path):
    from vlastack.assets import DEMO_POLICY
    from vlastack.policies import load_policy

    size = sum(p.stat().st_size for p in DEMO_POLICY.rglob("*") if p.is_file())
    assert 0 < size <= 5e6, f"the shipped demo policy is {size / 1e6:.1f} MB; the limit is 5 MB (issue 13)"
    assert not (DEMO_POLICY / "training").exists()  # exported: no optimizer or RNG state
    policy = load_policy(DEMO_POLICY)
    assert policy.data_info["image_size"][0] >= policy.config.image_size[0]
    r = run("demo", "--tasks", "reach-v3", "--episodes", "1", "--max-steps", "16", "--out", str(tmp_path / "demo"))
    assert r.returncode == 0, r.stderr
    assert "shipped demo policy" in r.stdout and re.search(r"reach-v3 +easy ", r.stdout)
    assert r.stdout.rstrip().endswith(str(tmp_path / "demo" / "report" / "report.html"))  # the summary ends with the report
    saved = json.loads((tmp_path / "demo" / "report" / "results.json").read_text())
    assert saved["summary"]["crashed_episodes"] == 0 and saved["summary"]["config"]["checkpoint"] == str(DEMO_POLICY)
    assert (tmp_path / "demo" / "report" / "reach-v3.mp4").stat().st_size > 0


def test_demo_can_still_record_expert_demonstrations(tmp_path):
    r = run("demo", "--experts", "--tasks", "reach-v3", "--episodes", "1", "--image-size", "32", "--out", str(tmp_path / "demo"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "demo" / "dataset" / "meta" / "info.json").is_file()
    assert (tmp_path / "demo" / "reach-v3.mp4").stat().st_size > 0


def _children(pid: int) -> set[int]:
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.add(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except OSError:
        return False


def test_a_killed_evaluation_stops_its_workers_and_resumes(tmp_path, debug_checkpoint):
    report = tmp_path / "report"
    args = [
        *CLI,
        "eval",
        "--checkpoint",
        str(debug_checkpoint),
        "--tasks",
        "reach-v3,push-v3",
        "--episodes",
        "6",
        "--max-steps",
        "40",
        "--workers",
        "2",
        "--json",
        "--report",
        str(report),
    ]
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = report / "episodes.jsonl"
    # Until two episodes are logged (settings line + 2); it cannot finish first: 12 episodes of 40 steps take longer.
    while proc.poll() is None and (not log.exists() or len(log.read_text().splitlines()) < 3):
        time.sleep(0.2)
    workers = _children(proc.pid)
    proc.terminate()  # SIGTERM, as `kill PID` stops a background run
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "--resume" in err, err
    # The kernel ends the workers (PR_SET_PDEATHSIG) when their parent exits; wait for that, bounded only
    # against a hang, rather than assume it takes less than some fixed time.
    assert workers
    alive = {w for w in workers if _running(w)}
    for _ in range(HANG_GUARD_S * 10):
        if not alive:
            break
        time.sleep(0.1)
        alive = {w for w in alive if _running(w)}
    assert not alive, "evaluation workers outlived the evaluation"
    logged = len(log.read_text().splitlines()) - 1
    assert 2 <= logged < 12
    r = run(*args[3:], "--resume")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["episodes"] == 12 and summary["crashed_episodes"] == 0
    assert len(log.read_text().splitlines()) == 13
