"""The policy server: websockets + msgpack, openpi's wire protocol (see :mod:`vlastack.serving.protocol`).

    server = PolicyServer(CheckpointRunner("runs/x"), ServerConfig(port=8000, token="s3cret"))
    server.run()                                    # blocks; Ctrl-C stops it
    with ServerThread(PolicyServer(FakeRunner())) as t:   # tests: a background thread, free port
        PolicyClient(t.url)

Each connection is served by its own asyncio task: one request at a time, replies in order.
Inference runs in a thread pool, so a slow client or a slow request never blocks the event loop
or the other connections. Every problem with a request (bad msgpack, wrong keys, shapes, dtypes,
NaNs, a failing policy) is answered with ``{"error": "..."}`` and logged, and the connection stays
open; a message over ``max_message_bytes`` closes that connection with code 1009 (websockets
enforces the limit while reading, before buffering the whole message). Nothing a client sends can
stop the server.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from vlastack import keys
from vlastack.serving import msgpack_numpy
from vlastack.serving.protocol import (ACTIONS, ERROR, POLICY_INFO, PROTOCOL_VERSION, RESET, SAFETY, TIMING,
                                       ObservationError)
from vlastack.serving.runners import PolicyRunner
from vlastack.serving.session import ChunkSafety, Session

log = logging.getLogger("vlastack.serving")
HEALTH_PATH = "/healthz"


@dataclass(frozen=True)
class ServerConfig:
    """How the server listens and what it allows."""

    host: str = "127.0.0.1"
    """Interface to bind; loopback by default (use 0.0.0.0 deliberately, with a token)."""
    port: int = 8000
    """TCP port; 0 picks a free one (see ``PolicyServer.port``)."""
    token: str | None = None
    """Shared secret; clients send ``Authorization: Api-Key <token>`` (openpi's ``api_key``) or ``Bearer <token>``."""
    max_message_bytes: int = 8 * 2**20
    """Largest accepted message; a larger one closes the connection with code 1009."""
    workers: int = 4
    """Inference threads (connections served at the same time)."""
    max_clients: int = 64
    """Connections beyond this are refused with HTTP 503."""
    safety: Any = None
    """A safety spec (preset name, JSON path or SafetySpec) applied to every chunk; None for none."""

    def __post_init__(self) -> None:
        if self.max_message_bytes < 1024 or self.workers < 1 or self.max_clients < 1 or not 0 <= self.port < 65536:
            raise ValueError(f"invalid server config: {self}")


class PolicyServer:
    """Serves one :class:`PolicyRunner` to many clients."""

    def __init__(self, runner: PolicyRunner, config: ServerConfig | None = None) -> None:
        self.runner = runner
        self.config = config or ServerConfig()
        self.sessions: dict[int, Session] = {}
        self.stats = {"connections": 0, "refused": 0, "requests": 0, "errors": 0}
        self.port: int | None = None
        if self.config.safety is not None:  # fail at start, not on the first request
            state = next((a.shape[0] for a in runner.spec.arrays if a.key == keys.STATE), None)
            ChunkSafety(self.config.safety).check_fits(runner.action_spec.shape[1], state)
        self._digest = hashlib.sha256(self.config.token.encode()).digest() if self.config.token else None
        self._pool = ThreadPoolExecutor(self.config.workers, thread_name_prefix="vlastack-infer")
        self._metadata = msgpack_numpy.packb(self.metadata())
        self._stop: asyncio.Future | None = None

    def metadata(self) -> dict[str, Any]:
        """What a client receives on connect: the observation keys, the action, the policy, the limits."""
        safety = ChunkSafety(self.config.safety).spec.name if self.config.safety is not None else None
        return {
            "server": "vlastack", "protocol_version": PROTOCOL_VERSION, **self.runner.spec.to_metadata(),
            "action": {"key": ACTIONS, **self.runner.action_spec.to_dict()}, "policy": self.runner.metadata(),
            "reply": {ACTIONS: "float32 [H, D]", TIMING: "ms: decode, queue, infer, safety, total",
                      SAFETY: "what the safety layer changed (when on)", POLICY_INFO: "policy details", ERROR: "instead of all else"},
            "max_message_bytes": self.config.max_message_bytes, "safety": safety, "auth": "token" if self._digest else "none",
        }

    # ---- running -------------------------------------------------------------------------------
    def run(self) -> None:
        """Serve until interrupted."""
        try:
            asyncio.run(self.serve())
        except KeyboardInterrupt:
            log.info("interrupted; stopping")

    async def serve(self, ready: threading.Event | None = None) -> None:
        """Serve until :meth:`stop`; sets ``ready`` once listening (``self.port`` is then known)."""
        self._stop = asyncio.get_running_loop().create_future()
        async with serve(self._handler, self.config.host, self.config.port, process_request=self._check_request,
                         max_size=self.config.max_message_bytes, max_queue=2, compression=None) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            log.info("serving on ws://%s:%s (token %s, safety %s)", self.config.host, self.port,
                     "required" if self._digest else "off", self.config.safety)
            if ready is not None:
                ready.set()
            await self._stop
        self._pool.shutdown(wait=False, cancel_futures=True)

    def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Stop serving (thread-safe, from any thread, given the loop ``serve`` runs on)."""
        loop.call_soon_threadsafe(lambda: self._stop is not None and not self._stop.done() and self._stop.set_result(None))

    # ---- connections ---------------------------------------------------------------------------
    def _check_request(self, connection: ServerConnection, request: Any) -> Any:
        """Before the websocket handshake: health check, token, capacity."""
        if request.path == HEALTH_PATH:
            return connection.respond(http.HTTPStatus.OK, "OK\n")
        if self._digest is not None:
            header = request.headers.get("Authorization", "")
            scheme, _, given = header.partition(" ")
            ok = scheme.lower() in ("api-key", "bearer") and hmac.compare_digest(
                hashlib.sha256(given.strip().encode()).digest(), self._digest)
            if not ok:
                self.stats["refused"] += 1
                log.warning("refused %s: missing or wrong token", connection.remote_address)
                return connection.respond(http.HTTPStatus.UNAUTHORIZED, "missing or wrong token: send 'Authorization: Api-Key <token>'\n")
        if len(self.sessions) >= self.config.max_clients:
            self.stats["refused"] += 1
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, f"server full ({self.config.max_clients} clients)\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        safety = ChunkSafety(self.config.safety) if self.config.safety is not None else None
        session = Session(peer=str(ws.remote_address), safety=safety)
        self.sessions[session.id] = session
        self.stats["connections"] += 1
        log.info("client %d (%s) connected", session.id, session.peer)
        try:
            await ws.send(self._metadata)
            async for message in ws:
                reply = await self._answer(session, message)
                try:
                    data = msgpack_numpy.packb(reply)
                except (TypeError, ValueError) as err:  # e.g. a policy info value msgpack cannot carry
                    data = msgpack_numpy.packb(self._error(session, f"the reply could not be encoded: {err}"))
                await ws.send(data)
        except ConnectionClosed as err:
            if err.sent is not None and err.sent.code == 1009:
                log.warning("client %d sent a message over the %d-byte limit; closed its connection (1009: %s)",
                            session.id, self.config.max_message_bytes, err.sent.reason)
            else:
                code = err.rcvd.code if err.rcvd is not None else None
                log.info("client %d disconnected (close code %s)", session.id, code)
        except Exception:  # a bug of ours must not take the server down
            log.exception("client %d: unexpected error; closing its connection", session.id)
        finally:
            self.sessions.pop(session.id, None)
            log.info("client %d gone after %d requests (%d errors)", session.id, session.requests, session.errors)

    async def _answer(self, session: Session, message: str | bytes) -> dict[str, Any]:
        start = time.perf_counter()
        session.requests += 1
        self.stats["requests"] += 1
        try:
            if isinstance(message, str):
                raise ObservationError("text frames are not accepted: send a msgpack-encoded map as a binary frame")
            obs = self.runner.spec.validate(msgpack_numpy.unpackb(message))
            decoded = time.perf_counter()
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(self._pool, self._infer, session, obs, decoded)
            reply[TIMING]["decode_ms"] = (decoded - start) * 1e3
            reply[TIMING]["total_ms"] = (time.perf_counter() - start) * 1e3
            return reply
        except (ObservationError, msgpack_numpy.DecodeError) as err:
            return self._error(session, f"bad request: {err}")
        except Exception as err:
            log.exception("client %d: inference failed", session.id)
            return self._error(session, f"inference failed: {type(err).__name__}: {err}"[:500])

    def _error(self, session: Session, text: str) -> dict[str, Any]:
        session.errors += 1
        self.stats["errors"] += 1
        log.warning("client %d request %d: %s", session.id, session.requests, text)
        return {ERROR: text}

    def _infer(self, session: Session, obs: dict[str, Any], queued: float) -> dict[str, Any]:
        """In a worker thread: reset if asked, run the policy, check its output, apply safety."""
        began = time.perf_counter()
        if obs.pop(RESET, False):
            session.reset()
        out = self.runner.infer(obs, session.state)
        inferred = time.perf_counter()
        actions = np.asarray(out[ACTIONS])
        want = self.runner.action_spec
        if actions.shape != want.shape:
            raise RuntimeError(f"the policy returned actions of shape {list(actions.shape)}, expected {list(want.shape)}")
        actions = actions.astype(np.float32, copy=False)
        reply: dict[str, Any] = {POLICY_INFO: out.get("info", {})}
        if session.safety is not None:
            actions, reply[SAFETY] = session.safety.filter_chunk(actions, obs)
        elif not np.all(np.isfinite(actions)):
            raise RuntimeError("the policy returned non-finite actions (NaN or inf)")
        done = time.perf_counter()
        reply[ACTIONS] = actions
        reply[TIMING] = {"queue_ms": (began - queued) * 1e3, "infer_ms": (inferred - began) * 1e3,
                         "safety_ms": (done - inferred) * 1e3}
        return reply


class ServerThread:
    """Run a :class:`PolicyServer` on a background thread (tests, benchmarks): ``with ServerThread(s) as t: t.url``."""

    def __init__(self, server: PolicyServer, timeout_s: float = 10.0) -> None:
        self.server = server
        self.timeout_s = timeout_s
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, name="vlastack-server", daemon=True)

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self.server.serve(self._ready))
        except BaseException as err:  # e.g. the port is taken: report it to __enter__
            self._failure = err
            self._ready.set()
        finally:
            self._loop.close()

    @property
    def url(self) -> str:
        return f"ws://{self.server.config.host}:{self.server.port}"

    def __enter__(self) -> "ServerThread":
        self._thread.start()
        if not self._ready.wait(self.timeout_s):
            raise RuntimeError("the server did not start in time")
        if self._failure is not None:
            raise RuntimeError(f"the server could not start: {self._failure}") from self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            try:
                self.server.stop(self._loop)
            except RuntimeError:  # the loop already ended
                pass
        self._thread.join(self.timeout_s)
