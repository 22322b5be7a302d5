"""Load on the policy server over loopback: N concurrent clients, throughput, latency, errors.

    python benchmarks/serving_load.py                              # fake policy, 10 ms per chunk
    python benchmarks/serving_load.py --delay-ms 0 --clients 1,4,16
    python benchmarks/serving_load.py --checkpoint runs/debug      # a real checkpoint (CPU)
    python benchmarks/serving_load.py --debug-checkpoint --safety metaworld_sawyer   # an untrained debug-preset one

The server runs in its own process (as in deployment); the clients are threads of this process,
each with its own connection, sending one observation and waiting for the reply, back to back.
Each level stops after ``--requests`` per client or ``--duration`` seconds, whichever comes first,
so the script always ends. Latency is measured at the client (send to reply decoded); the server's
own ``infer_ms`` and ``queue_ms`` are reported beside it. Errors (error replies, exceptions) must be 0.
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import threading
import time
from typing import Any

import numpy as np


def _serve(queue: Any, runner_spec: dict, config: dict) -> None:
    """Child process: build the runner and the server, report the port, serve until killed."""
    import asyncio
    import logging

    logging.basicConfig(level=logging.ERROR)
    from vlastack.serving.runners import FakeRunner
    from vlastack.serving.server import PolicyServer, ServerConfig

    if runner_spec.get("checkpoint"):
        import torch

        from vlastack.serving.checkpoint import CheckpointRunner

        torch.set_num_threads(runner_spec.get("threads", 1))
        runner = CheckpointRunner(runner_spec["checkpoint"])
    else:
        runner = FakeRunner(delay_s=runner_spec.get("delay_s", 0.0), horizon=16)
    server = PolicyServer(runner, ServerConfig(port=0, **config))

    class Ready:
        def set(self) -> None:
            queue.put(server.port)

    asyncio.run(server.serve(Ready()))  # type: ignore[arg-type]


class ServerProcess:
    """``with ServerProcess(runner_spec, config) as s: s.url``; the process is killed on exit."""

    def __init__(self, runner_spec: dict, config: dict | None = None, timeout_s: float = 120.0) -> None:
        ctx = mp.get_context("spawn")
        self.queue = ctx.Queue()
        self.process = ctx.Process(target=_serve, args=(self.queue, runner_spec, config or {}), daemon=True)
        self.timeout_s = timeout_s

    def __enter__(self) -> ServerProcess:
        import queue

        self.process.start()
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                self.port = self.queue.get(timeout=0.5)
                break
            except queue.Empty:
                if not self.process.is_alive() or time.monotonic() > deadline:
                    self.process.kill()
                    raise RuntimeError(
                        f"the server process did not start (exit code {self.process.exitcode}); see its traceback above"
                    ) from None
        self.url = f"ws://127.0.0.1:{self.port}"
        return self

    def alive(self) -> bool:
        return self.process.is_alive()

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.join(10)


def debug_checkpoint(directory: str) -> str:
    """Save an untrained debug-preset policy (32 px, horizon 4; stats and tokenizer fitted on fake samples) for timing."""
    from vlastack.policies import PRESETS
    from vlastack.policies.untrained import untrained_policy

    policy = untrained_policy(PRESETS.get("debug").policy)
    return str(policy.save_pretrained(directory))


def observation(spec: Any, seed: int) -> dict:
    """A valid observation for the server's announced spec."""
    rng = np.random.default_rng(seed)
    obs: dict[str, Any] = {}
    for a in spec.arrays:
        if a.dtype == "uint8":
            obs[a.key] = rng.integers(0, 256, a.shape, dtype=np.uint8)
        else:
            obs[a.key] = (
                np.array([0.0, 0.6, 0.2, 1.0] * 8)[: a.shape[0]]
                if a.key == "observation.state" and len(a.shape) == 1
                else rng.uniform(0, 1, a.shape)
            ).astype(a.dtype)
    obs["prompt"] = "reach the goal"
    return obs


def run_level(url: str, n_clients: int, requests: int, duration_s: float) -> dict:
    from vlastack.serving.client import PolicyClient

    latencies: list[list[float]] = [[] for _ in range(n_clients)]
    server_ms: list[list[tuple[float, float]]] = [[] for _ in range(n_clients)]
    errors = [0] * n_clients
    clients = [PolicyClient(url, timeout_s=60) for _ in range(n_clients)]
    barrier = threading.Barrier(n_clients + 1)
    deadline: list[float] = [0.0]

    def work(i: int) -> None:
        obs = observation(clients[i].spec, i)
        barrier.wait()
        for _ in range(requests):
            if time.perf_counter() > deadline[0]:
                break
            start = time.perf_counter()
            try:
                reply = clients[i].infer(obs)
                latencies[i].append((time.perf_counter() - start) * 1e3)
                t = reply["server_timing"]
                server_ms[i].append((t["infer_ms"], t["queue_ms"]))
            except Exception:
                errors[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    deadline[0] = time.perf_counter() + duration_s
    start = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    for c in clients:
        c.close()
    lat = np.concatenate([np.asarray(x) for x in latencies]) if any(latencies) else np.zeros(0)
    srv = np.array([x for xs in server_ms for x in xs]) if any(server_ms) else np.zeros((0, 2))
    return {
        "clients": n_clients,
        "requests": int(lat.size),
        "seconds": wall,
        "rps": lat.size / wall,
        "p50": float(np.percentile(lat, 50)) if lat.size else float("nan"),
        "p99": float(np.percentile(lat, 99)) if lat.size else float("nan"),
        "infer_p50": float(np.median(srv[:, 0])) if len(srv) else float("nan"),
        "queue_p50": float(np.median(srv[:, 1])) if len(srv) else float("nan"),
        "errors": sum(errors),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", default="1,4,16", help="Comma-separated numbers of concurrent clients.")
    p.add_argument("--requests", type=int, default=200, help="Requests per client and level (upper bound).")
    p.add_argument("--duration", type=float, default=8.0, help="Seconds per level (upper bound).")
    p.add_argument("--delay-ms", type=float, default=10.0, help="Fake policy: fixed inference time per chunk (ms).")
    p.add_argument("--checkpoint", default=None, help="Serve this checkpoint instead of the fake policy.")
    p.add_argument("--debug-checkpoint", action="store_true", help="Serve a freshly saved, untrained debug-preset checkpoint.")
    p.add_argument("--threads", type=int, default=1, help="torch threads in the server (real checkpoint).")
    p.add_argument("--workers", type=int, default=4, help="Server inference threads.")
    p.add_argument("--safety", default=None, help="Safety spec applied by the server (e.g. metaworld_sawyer).")
    args = p.parse_args()
    if args.debug_checkpoint:
        import atexit
        import shutil
        import tempfile

        args.checkpoint = debug_checkpoint(tempfile.mkdtemp(prefix="vlastack-serving-"))
        atexit.register(shutil.rmtree, args.checkpoint, True)

    runner_spec = {"checkpoint": args.checkpoint, "threads": args.threads, "delay_s": args.delay_ms / 1e3}
    what = f"checkpoint {args.checkpoint}" if args.checkpoint else f"fake policy, {args.delay_ms:g} ms per chunk (H=16, D=4)"
    with ServerProcess(runner_spec, {"workers": args.workers, "safety": args.safety}) as server:
        rows = [run_level(server.url, int(n), args.requests, args.duration) for n in args.clients.split(",")]
        alive = server.alive()
    print(
        f"Serving load: {what}; {args.workers} server workers; safety {args.safety or 'off'}; "
        f"{args.requests} requests or {args.duration:g} s per level; {platform.machine()} {os.cpu_count()} CPUs; server alive: {alive}\n"
    )
    print("| clients | requests | seconds | req/s | p50 ms | p99 ms | server infer p50 ms | server queue p50 ms | errors |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['clients']} | {r['requests']} | {r['seconds']:.1f} | {r['rps']:.1f} | {r['p50']:.1f} | {r['p99']:.1f} "
            f"| {r['infer_p50']:.1f} | {r['queue_p50']:.1f} | {r['errors']} |"
        )


if __name__ == "__main__":
    main()
