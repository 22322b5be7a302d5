"""``vlastack eval`` of a debug checkpoint through the real CLI, in subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "vlastack"]
ENV = {**os.environ, "MUJOCO_GL": "egl"}


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=ENV, timeout=600)


@pytest.fixture(scope="module")
def debug_checkpoint(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("debug")
    data, out = tmp / "ds", tmp / "run"
    r = run("collect", "--tasks", "reach-v3", "--episodes", "1", "--out", str(data), "--image-size", "32",
            "--cameras", "corner2")
    assert r.returncode == 0, r.stderr
    r = run("train", "--preset", "debug", "--dataset", str(data), "--out", str(out), "--steps", "2", "--no-progress")
    assert r.returncode == 0, r.stderr
    ckpts = sorted((out / "checkpoints").iterdir())
    assert ckpts, "training wrote no checkpoint"
    return ckpts[-1]


def test_eval_debug_checkpoint_writes_json_and_report(tmp_path, debug_checkpoint):
    r = run("eval", "--checkpoint", str(debug_checkpoint), "--tasks", "reach-v3", "--episodes", "1", "--max-steps", "10",
            "--json", "--report", str(tmp_path / "report"))
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


def test_eval_against_a_policy_server(tmp_path, debug_checkpoint):
    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen([*CLI, "serve", "--checkpoint", str(debug_checkpoint), "--port", str(port)],
                              env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:  # wait until the server listens (it loads the checkpoint first)
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                time.sleep(0.5)
        r = run("eval", "--server", f"ws://127.0.0.1:{port}", "--tasks", "reach-v3", "--episodes", "1",
                "--max-steps", "5", "--json")
        assert r.returncode == 0, r.stderr
        summary = json.loads(r.stdout)
        assert summary["episodes"] == 1 and summary["crashed_episodes"] == 0, summary
        assert summary["per_task"]["reach-v3"]["mean_length"] == 5 and summary["latency_ms"]["calls"] >= 1
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_demo_runs_a_checkpoint_with_a_chosen_executor(tmp_path, debug_checkpoint):
    r = run("demo", "--checkpoint", str(debug_checkpoint), "--executor", "async", "--tasks", "reach-v3",
            "--episodes", "1", "--max-steps", "10", "--out", str(tmp_path / "demo"))
    assert r.returncode == 0, r.stderr
    assert "| reach-v3 | easy |" in r.stdout
    saved = json.loads((tmp_path / "demo" / "report" / "results.json").read_text())
    assert saved["summary"]["config"]["executor"] == "async" and saved["summary"]["crashed_episodes"] == 0


def test_demo_runs_the_shipped_policy_by_default(tmp_path):
    from vlastack.assets import DEMO_POLICY
    from vlastack.policies import load_policy

    size = sum(p.stat().st_size for p in DEMO_POLICY.rglob("*") if p.is_file())
    assert 0 < size <= 20e6, f"the shipped demo policy is {size / 1e6:.1f} MB; the limit is 20 MB"
    assert not (DEMO_POLICY / "training").exists()  # exported: no optimizer or RNG state
    policy = load_policy(DEMO_POLICY)
    assert policy.data_info["image_size"][0] >= policy.config.image_size[0]
    r = run("demo", "--tasks", "reach-v3", "--episodes", "1", "--max-steps", "16", "--out", str(tmp_path / "demo"))
    assert r.returncode == 0, r.stderr
    assert "shipped demo policy" in r.stdout and "| reach-v3 | easy |" in r.stdout
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
    args = [*CLI, "eval", "--checkpoint", str(debug_checkpoint), "--tasks", "reach-v3,push-v3", "--episodes", "6",
            "--max-steps", "40", "--workers", "2", "--json", "--report", str(report)]
    proc = subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = report / "episodes.jsonl"
    deadline = time.time() + 300
    while time.time() < deadline and (not log.exists() or len(log.read_text().splitlines()) < 3):
        time.sleep(0.2)
    workers = _children(proc.pid)
    proc.terminate()  # SIGTERM, as `kill PID` stops a background run
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "--resume" in err, err
    time.sleep(1)
    assert workers and not {w for w in workers if _running(w)}, "evaluation workers outlived the evaluation"
    logged = len(log.read_text().splitlines()) - 1
    assert 2 <= logged < 12
    r = run(*args[3:], "--resume")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["episodes"] == 12 and summary["crashed_episodes"] == 0
    assert len(log.read_text().splitlines()) == 13
