"""Fuzz the policy server with malformed messages; count what was tried and check it still answers.

    python benchmarks/serving_fuzz.py --count 10000 --duration 40

The server runs in its own process (fake policy). One connection sends mutated messages back to
back, in these families, round robin:

- ``random``: random bytes of random length (0-4 KiB)
- ``truncated``: a valid observation cut at a random byte
- ``bitflip``: a valid observation with 1-8 random bytes changed (half the time only in headers, state and prompt);
  a change inside the pixels leaves a valid message, answered with actions
- ``structure``: random msgpack values (nested maps and lists, strings, numbers, bin, arrays of random dtype/shape)
- ``semantic``: a valid message with one key dropped, added, reshaped, recast, NaN-filled, resized, or given a lying array header
- ``text``: a text frame instead of a binary one

Every message must get a reply (an error reply, or actions when a mutation happens to stay valid);
a closed connection is counted, and reopened. Less often, on fresh connections: ``oversize``
(a message over the limit: must close with 1009), ``disconnect`` (close right after sending), and
``tcp`` (non-websocket bytes on a raw socket). Afterwards a good request must still be answered and
the process must be alive. Stops after ``--count`` messages or ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import msgpack
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving_load import ServerProcess, observation  # noqa: E402

from vlastack.serving import msgpack_numpy  # noqa: E402
from vlastack.serving.client import PolicyClient  # noqa: E402

LIMIT = 256 * 1024


def random_value(rng: np.random.Generator, depth: int = 0):
    kind = rng.integers(0, 9 if depth < 4 else 6)
    if kind == 0:
        return int(rng.integers(-(2**63), 2**63 - 1))
    if kind == 1:
        return float(rng.normal() * 10.0 ** int(rng.integers(-5, 30)))
    if kind == 2:
        return "".join(chr(int(c)) for c in rng.integers(32, 0x2FF, rng.integers(0, 20)))
    if kind == 3:
        return rng.bytes(int(rng.integers(0, 64)))
    if kind == 4:
        return [None, True, False][int(rng.integers(0, 3))]
    if kind == 5:
        dtype = rng.choice(["<f4", "<f8", "|u1", "<i8", "|O", "<c8", "|V4", "nonsense", "<U3"])
        shape = [int(x) for x in rng.integers(-2, 40, rng.integers(0, 5))]
        return {b"__ndarray__": True, b"data": rng.bytes(int(rng.integers(0, 256))), b"dtype": str(dtype), b"shape": shape}
    if kind == 6:
        return [random_value(rng, depth + 1) for _ in range(rng.integers(0, 5))]
    keys = ["observation.state", "observation.images.corner2", "prompt", "reset", "x", ""]
    return {
        str(rng.choice(keys)) + ("" if rng.random() < 0.7 else str(rng.integers(9))): random_value(rng, depth + 1)
        for _ in range(rng.integers(0, 5))
    }


def semantic(rng: np.random.Generator, good: dict) -> dict:
    obs = dict(good)
    key = str(rng.choice(list(good)))
    op = int(rng.integers(0, 7))
    if op == 0:
        obs.pop(key)
    elif op == 1:
        obs[f"extra.{rng.integers(100)}"] = np.zeros(3, np.float32)
    elif op == 2 and isinstance(good[key], np.ndarray):
        obs[key] = np.zeros(tuple(int(x) for x in rng.integers(1, 70, rng.integers(1, 4))), good[key].dtype)
    elif op == 3 and isinstance(good[key], np.ndarray):
        obs[key] = good[key].astype(rng.choice([np.float64, np.int32, np.uint16, np.bool_]))
    elif op == 4:
        obs["observation.state"] = np.array([np.nan, np.inf, 0, 1], np.float32)[rng.permutation(4)]
    elif op == 5:
        obs["observation.images.corner2"] = np.zeros((int(rng.integers(1, 100)), int(rng.integers(1, 100)), 3), np.uint8)
    else:
        obs[key] = {b"__ndarray__": True, b"data": rng.bytes(int(rng.integers(0, 64))), b"dtype": "<f4", b"shape": [4]}
    return obs


def mutate(family: str, rng: np.random.Generator, good: dict, packed: bytes):
    if family == "random":
        return rng.bytes(int(rng.integers(0, 4096)))
    if family == "truncated":
        return packed[: int(rng.integers(0, len(packed)))]
    if family == "bitflip":
        data = bytearray(packed)
        # half the time only in the first 64 and last 128 bytes: map and array headers, state, prompt (not pixels)
        spots = np.r_[0:64, len(data) - 128 : len(data)] if rng.random() < 0.5 else np.arange(len(data))
        for i in rng.choice(spots, rng.integers(1, 9)):
            data[int(i)] = int(rng.integers(0, 256))
        return bytes(data)
    if family == "structure":
        return msgpack.packb(random_value(rng), use_bin_type=True)
    if family == "semantic":
        return msgpack_numpy.packb(semantic(rng, good))
    return "".join(chr(int(c)) for c in rng.integers(32, 127, rng.integers(0, 200)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--count", type=int, default=10000, help="Malformed messages to send on the main connection (upper bound).")
    p.add_argument("--duration", type=float, default=40.0, help="Seconds (upper bound).")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    families = ["random", "truncated", "bitflip", "structure", "semantic", "text"]
    tried: Counter[str] = Counter()
    outcome: dict[str, Counter[str]] = defaultdict(Counter)
    with ServerProcess({"delay_s": 0.0}, {"max_message_bytes": LIMIT}) as server:
        client = PolicyClient(server.url)
        good = observation(client.spec, 0)
        packed = msgpack_numpy.packb(good)
        deadline = time.perf_counter() + args.duration
        i = 0
        while i < args.count and time.perf_counter() < deadline:
            family = families[i % len(families)]
            payload = mutate(family, rng, good, packed)
            tried[family] += 1
            try:
                client._ws.send(payload)
                reply = msgpack_numpy.unpackb(client._ws.recv(timeout=10))
                outcome[family]["error reply" if "error" in reply else "actions" if "actions" in reply else "other"] += 1
            except Exception as err:
                code = getattr(getattr(err, "rcvd", None), "code", None)  # 1009: the mutation made it too big
                outcome[family][f"closed with {code}" if code else f"failed ({type(err).__name__})"] += 1
                client = PolicyClient(server.url)
            i += 1
            if i % 100 == 0:  # the rarer, connection-level cases
                for extra in ("oversize", "disconnect", "tcp"):
                    tried[extra] += 1
                    if extra == "tcp":
                        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                            sock.sendall(os.urandom(int(rng.integers(1, 2048))))
                        outcome[extra]["sent, socket closed"] += 1
                        continue
                    side = PolicyClient(server.url)
                    side._ws.send(rng.bytes(LIMIT + 1) if extra == "oversize" else packed)
                    if extra == "oversize":
                        try:
                            side._ws.recv(timeout=10)
                            outcome[extra]["answered"] += 1
                        except Exception as err:
                            code = getattr(getattr(err, "rcvd", None), "code", None)
                            outcome[extra][f"closed with {code}"] += 1
                    else:
                        outcome[extra]["closed before the reply"] += 1
                    side._ws.close()
        with PolicyClient(server.url) as check:
            ok = check.infer(good)["actions"].shape == tuple(check.metadata["action"]["shape"])
        alive = server.alive()
    total = sum(tried.values())
    print(f"Serving fuzz: seed {args.seed}; {total} malformed inputs tried in {args.duration:g} s at most; message limit {LIMIT} bytes\n")
    print("| family | tried | outcomes |")
    print("|---|---:|---|")
    for fam in families + ["oversize", "disconnect", "tcp"]:
        print(f"| {fam} | {tried[fam]} | " + ", ".join(f"{k}: {v}" for k, v in sorted(outcome[fam].items())) + " |")
    print(f"\nAfterwards: server process alive: {alive}; a good request answered with actions: {ok}")
    if not (alive and ok):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
