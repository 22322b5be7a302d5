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

Connections cannot hold the server hostage: one that sends nothing for ``idle_timeout_s`` is
closed, any connection is closed ``session_timeout_s`` after it opened (when set), and each token
may hold at most ``max_clients_per_token`` connections, so one client's idle connections cannot
lock out the others. Refusals and rejected requests are logged at most
``log_rejections_per_minute`` times a minute per kind; the rest are counted in ``stats`` and
summarised in the log. The metadata sent on connect holds no file-system paths of the server.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http
import logging
import os
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from vlastack import keys
from vlastack.serving import msgpack_numpy
from vlastack.serving.protocol import (
    ACTIONS,
    ERROR,
    EXPLANATION_KEYS,
    POLICY_INFO,
    PROTOCOL_VERSION,
    RESET,
    SAFETY,
    TIMING,
    ObservationError,
    explanation_reply,
)
from vlastack.serving.runners import EXPLANATION, PolicyRunner
from vlastack.serving.session import ChunkSafety, Session

log = logging.getLogger("vlastack.serving")
HEALTH_PATH = "/healthz"
#: Close code and reasons for connections the server ends itself (1000: a normal closure, not an error).
TIMEOUT_CLOSE_CODE = 1000
#: Seconds over which ``log_rejections_per_minute`` counts.
LOG_WINDOW_S = 60.0


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
    tokens: tuple[str, ...] = ()
    """More shared secrets beside ``token`` (e.g. one per robot or team); each has its own connection cap."""
    max_clients_per_token: int = 16
    """Connections one token may hold at once; more get HTTP 503 for that token only. Without tokens
    (auth off) only ``max_clients`` applies."""
    idle_timeout_s: float | None = 300.0
    """Seconds a connection may wait between requests (counted from the last reply) before the
    server closes it (close code 1000); None: never. Frees the slots of clients that went quiet."""
    session_timeout_s: float | None = None
    """Seconds after it opened that a connection is closed, once its current request is answered
    (close code 1000); None: never. Clients reconnect to go on."""
    log_rejections_per_minute: int = 20
    """Warnings logged per minute for each kind of refusal or rejected request (wrong token, server
    full, bad request, failed inference); the rest are counted in ``stats`` and summarised."""

    def __post_init__(self) -> None:
        def bad(name: str, want: str) -> ValueError:
            return ValueError(f"server config: {name} must be {want}, got {getattr(self, name)!r}")

        if not isinstance(self.port, int) or not 0 <= self.port < 65536:
            raise bad("port", "an integer in [0, 65535]")
        if self.max_message_bytes < 1024:
            raise bad("max_message_bytes", ">= 1024")
        for name in ("workers", "max_clients", "max_clients_per_token"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(name, "a positive integer")
        if (
            isinstance(self.log_rejections_per_minute, bool)
            or not isinstance(self.log_rejections_per_minute, int)
            or self.log_rejections_per_minute < 0
        ):
            raise bad("log_rejections_per_minute", "a non-negative integer")
        for name in ("idle_timeout_s", "session_timeout_s"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
                raise bad(name, "a positive number of seconds or None")
        if self.token is not None and not (isinstance(self.token, str) and self.token):
            raise ValueError("server config: token must be a non-empty string or None")  # the value itself stays out
        if not isinstance(self.tokens, tuple) or not all(isinstance(t, str) and t for t in self.tokens):
            raise ValueError("server config: tokens must be a tuple of non-empty strings")

    def all_tokens(self) -> tuple[str, ...]:
        """``token`` (when set) and ``tokens``, without repeats."""
        return tuple(dict.fromkeys(([self.token] if self.token else []) + list(self.tokens)))


class RateLimitedLog:
    """Warnings by kind, at most ``limit`` per ``window_s`` seconds of ``clock``; the rest are counted.

    When a kind's window is over, its next message first logs how many were left out. Thread-safe.
    """

    def __init__(self, logger: logging.Logger, limit: int, window_s: float = LOG_WINDOW_S, clock: Any = time.monotonic) -> None:
        self.logger, self.limit, self.window_s, self.clock = logger, limit, window_s, clock
        self.suppressed_total = 0
        self._windows: dict[str, list] = {}  # kind -> [window start, logged, left out]
        self._lock = threading.Lock()

    def warning(self, kind: str, msg: str, *args: object, exc_info: bool = False) -> None:
        with self._lock:
            now = self.clock()
            window = self._windows.get(kind)
            if window is None or now - window[0] >= self.window_s:
                if window is not None and window[2]:
                    self.logger.warning("%d more %r messages were left out of the log in the last %.0f s", window[2], kind, self.window_s)
                window = self._windows[kind] = [now, 0, 0]
            if window[1] < self.limit:
                window[1] += 1
                self.logger.warning(msg, *args, exc_info=exc_info)
            else:
                window[2] += 1
                self.suppressed_total += 1


class PolicyServer:
    """Serves one :class:`PolicyRunner` to many clients."""

    def __init__(self, runner: PolicyRunner, config: ServerConfig | None = None) -> None:
        self.runner = runner
        self.config = config or ServerConfig()
        self.sessions: dict[int, Session] = {}
        self.stats = {"connections": 0, "refused": 0, "requests": 0, "errors": 0, "closed_idle": 0, "closed_session_timeout": 0}
        self.port: int | None = None
        if self.config.safety is not None:  # fail at start, not on the first request
            state = next((a.shape[0] for a in runner.spec.arrays if a.key == keys.STATE), None)
            ChunkSafety(self.config.safety).check_fits(runner.action_spec.shape[1], state)
        # Digests of the accepted tokens; a connection is charged to the index of the one it sent.
        self._digests = [hashlib.sha256(t.encode()).digest() for t in self.config.all_tokens()]
        self._digest = self._digests[0] if self._digests else None
        self._holders: weakref.WeakKeyDictionary[ServerConnection, int | None] = weakref.WeakKeyDictionary()
        self.rejections = RateLimitedLog(log, self.config.log_rejections_per_minute)
        self._pool = ThreadPoolExecutor(self.config.workers, thread_name_prefix="vlastack-infer")
        self._metadata = msgpack_numpy.packb(self.metadata())
        self._stop: asyncio.Future | None = None

    def metadata(self) -> dict[str, Any]:
        """What a client receives on connect: the observation keys, the action, the policy, the limits."""
        safety = ChunkSafety(self.config.safety).spec.name if self.config.safety is not None else None
        if safety is not None and os.path.isabs(safety):  # a spec named after its file: not the server's paths
            safety = os.path.basename(safety)
        return {
            "server": "vlastack",
            "protocol_version": PROTOCOL_VERSION,
            **self.runner.spec.to_metadata(),
            "action": {"key": ACTIONS, **self.runner.action_spec.to_dict()},
            "policy": self.runner.metadata(),
            **_embodiments(self.runner.metadata().get("embodiments")),
            "reply": {
                ACTIONS: "float32 [H, D]",
                TIMING: "ms: decode, queue, infer, safety, total",
                SAFETY: "what the safety layer changed (when on)",
                POLICY_INFO: "policy details",
                **{k: f"{v} (only from a policy that explains itself)" for k, v in EXPLANATION_KEYS.items()},
                ERROR: "instead of all else",
            },
            "max_message_bytes": self.config.max_message_bytes,
            "safety": safety,
            "auth": "token" if self._digest else "none",
            "idle_timeout_s": self.config.idle_timeout_s,
            "session_timeout_s": self.config.session_timeout_s,
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
        async with serve(
            self._handler,
            self.config.host,
            self.config.port,
            process_request=self._check_request,
            max_size=self.config.max_message_bytes,
            max_queue=2,
            compression=None,
        ) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            log.info(
                "serving on ws://%s:%s (token %s, safety %s)",
                self.config.host,
                self.port,
                "required" if self._digest else "off",
                self.config.safety,
            )
            if ready is not None:
                ready.set()
            await self._stop
        self._pool.shutdown(wait=False, cancel_futures=True)

    def stop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Stop serving (thread-safe, from any thread, given the loop ``serve`` runs on)."""
        loop.call_soon_threadsafe(lambda: self._stop is not None and not self._stop.done() and self._stop.set_result(None))

    # ---- connections ---------------------------------------------------------------------------
    def _check_request(self, connection: ServerConnection, request: Any) -> Any:
        """Before the websocket handshake: health check, token, capacity (in all and per token)."""
        if request.path == HEALTH_PATH:
            return connection.respond(http.HTTPStatus.OK, "OK\n")
        token_index: int | None = None
        if self._digests:
            header = request.headers.get("Authorization", "")
            scheme, _, given = header.partition(" ")
            digest = hashlib.sha256(given.strip().encode()).digest()
            matches = [hmac.compare_digest(digest, d) for d in self._digests]  # every one compared: no timing hint
            if scheme.lower() in ("api-key", "bearer") and any(matches):
                token_index = matches.index(True)
            else:
                return self._refuse(
                    connection, http.HTTPStatus.UNAUTHORIZED, "token", "missing or wrong token: send 'Authorization: Api-Key <token>'"
                )
        if len(self._holders) >= self.config.max_clients:
            return self._refuse(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "full", f"server full ({self.config.max_clients} clients)")
        if token_index is not None:
            held = sum(1 for i in self._holders.values() if i == token_index)
            if held >= self.config.max_clients_per_token:
                return self._refuse(
                    connection,
                    http.HTTPStatus.SERVICE_UNAVAILABLE,
                    "token cap",
                    f"this token already holds {held} connections (max_clients_per_token={self.config.max_clients_per_token})",
                )
        # Counted from now, not from the handler: handshakes in flight take their slot at once. A
        # handshake that fails drops the connection object, and with it this entry.
        self._holders[connection] = token_index
        return None

    def _refuse(self, connection: ServerConnection, status: http.HTTPStatus, kind: str, text: str) -> Any:
        self.stats["refused"] += 1
        self.rejections.warning(f"refused: {kind}", "refused %s: %s", connection.remote_address, text)
        return connection.respond(status, text + "\n")

    def _deadline(self, session: Session, last_reply_s: float) -> tuple[float | None, str]:
        """Seconds until this connection must be closed (None: no limit) and why."""
        now, limits = time.monotonic(), []
        if self.config.idle_timeout_s is not None:
            limits.append(
                (last_reply_s + self.config.idle_timeout_s - now, f"idle: no request for {self.config.idle_timeout_s:g} s (idle_timeout_s)")
            )
        if self.config.session_timeout_s is not None:
            limits.append(
                (
                    session.opened_s + self.config.session_timeout_s - now,
                    f"session open for {self.config.session_timeout_s:g} s (session_timeout_s); reconnect to go on",
                )
            )
        if not limits:
            return None, ""
        left, why = min(limits, key=lambda x: x[0])
        return max(left, 0.0), why

    async def _handler(self, ws: ServerConnection) -> None:
        safety = ChunkSafety(self.config.safety) if self.config.safety is not None else None
        session = Session(peer=str(ws.remote_address), safety=safety)
        self.sessions[session.id] = session
        self._holders.setdefault(ws, None)
        self.stats["connections"] += 1
        log.info("client %d (%s) connected", session.id, session.peer)
        try:
            await ws.send(self._metadata)
            last_reply = time.monotonic()
            while True:
                left, why = self._deadline(session, last_reply)
                try:
                    # cancelling recv() on a timeout loses no data (websockets guarantees it)
                    message = await asyncio.wait_for(ws.recv(), left) if left is not None else await ws.recv()
                except TimeoutError:
                    self.stats["closed_session_timeout" if why.startswith("session") else "closed_idle"] += 1
                    log.info("client %d closed by the server: %s", session.id, why)
                    await ws.close(TIMEOUT_CLOSE_CODE, why[:120])  # a close reason holds at most 123 bytes
                    return
                reply = await self._answer(session, message)
                try:
                    data = msgpack_numpy.packb(reply)
                except (TypeError, ValueError) as err:  # e.g. a policy info value msgpack cannot carry
                    data = msgpack_numpy.packb(self._error(session, f"the reply could not be encoded: {err}"))
                await ws.send(data)
                last_reply = time.monotonic()
        except ConnectionClosed as err:
            if err.sent is not None and err.sent.code == 1009:
                self.rejections.warning(
                    "too large",
                    "client %d sent a message over the %d-byte limit; closed its connection (1009: %s)",
                    session.id,
                    self.config.max_message_bytes,
                    err.sent.reason,
                )
            else:
                code = err.rcvd.code if err.rcvd is not None else None
                log.info("client %d disconnected (close code %s)", session.id, code)
        except Exception:  # a bug of ours must not take the server down
            log.exception("client %d: unexpected error; closing its connection", session.id)
        finally:
            self.sessions.pop(session.id, None)
            self._holders.pop(ws, None)
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
            self.rejections.warning("inference failed", "client %d: inference failed", session.id, exc_info=True)
            return self._error(session, f"inference failed: {type(err).__name__}: {err}"[:500], logged=True)

    def _error(self, session: Session, text: str, logged: bool = False) -> dict[str, Any]:
        session.errors += 1
        self.stats["errors"] += 1
        if not logged:
            self.rejections.warning("bad request", "client %d request %d: %s", session.id, session.requests, text)
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
        if out.get(EXPLANATION) is not None:  # a policy that explains itself; absent otherwise
            reply.update(explanation_reply(out[EXPLANATION]))
        reply[TIMING] = {"queue_ms": (began - queued) * 1e3, "infer_ms": (inferred - began) * 1e3, "safety_ms": (done - inferred) * 1e3}
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

    def __enter__(self) -> ServerThread:
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


def _embodiments(ids: object) -> dict[str, Any]:
    """The ``embodiments`` metadata entry: what each robot the policy was trained on takes (vlastack.embodiments),
    only for a policy that records them (an extra key: openpi's clients ignore it)."""
    if not ids:
        return {}
    from vlastack.embodiments import EMBODIMENTS
    from vlastack.embodiments import ids as known

    registered = set(known())
    return {"embodiments": [EMBODIMENTS.get(i).describe() if i in registered else {"id": str(i)} for i in ids]}
