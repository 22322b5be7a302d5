"""The console's web server: the standard library's threaded HTTP server, one page, a small JSON API.

    with ConsoleServer(lambda: ConsoleSession(ConsoleConfig(experts=True)), ServerConfig(port=0, token="s3cret")) as server:
        print(server.url)               # http://127.0.0.1:PORT/?token=s3cret

Routes (every one needs the token, as ``Authorization: Bearer <token>`` or ``Api-Key <token>``, the
policy server's headers, or on a GET as ``?token=``; a missing or wrong one gets 401 and no data):

    GET  /                      the page (no network assets: inline style and script)
    GET  /api/state             ConsoleSession.state() as JSON
    GET  /api/frame/<camera>    the camera's latest image, JPEG
    POST /api/chat   {"text"}   an instruction, answer or correction; replies and the new state
    POST /api/stop | /api/resume | /api/episode     stop (hold next step), resume, next episode
    POST /api/takeover | /api/handback              the person takes the controls (holding still) or hands them back
    POST /api/operator {"action": [dx, dy, dz, gripper]}   the person's command, each in [-1, 1] (takes over)

POSTs must carry the token in a header and a JSON body: a page on another origin cannot send either
without a CORS preflight, which this server never grants, so it cannot press stop or chat for you.

One thread (the simulator thread) builds the session and steps it, paced at ``steps_per_second``; the
HTTP threads only read state and leave requests for it (MuJoCo's EGL context belongs to one thread).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from vlastack.errors import ConfigError, VlastackError

log = logging.getLogger("vlastack.console")
#: Largest accepted request body (a chat line is at most 500 characters).
MAX_BODY_BYTES = 64 * 1024
#: Hosts that only this machine can reach.
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class ServerConfig:
    """Where the console listens and how fast it steps."""

    token: str
    """Shared secret every request must carry (the page gets it from the URL it is opened with)."""
    host: str = "127.0.0.1"
    """Interface to bind; loopback by default (another one only on purpose: anyone with the token drives the robot)."""
    port: int = 8765
    """TCP port; 0 picks a free one (see ``ConsoleServer.port``)."""
    steps_per_second: float = 20.0
    """Control steps per second of wall time, so a person can follow (the simulator's own rate is 80 Hz);
    0: as fast as the machine steps."""
    poll_ms: int = 200
    """How often the page asks for the state and new camera frames, in milliseconds."""
    jpeg_quality: int = 85
    """JPEG quality of the camera frames (1-95)."""

    def __post_init__(self) -> None:
        if not isinstance(self.token, str) or len(self.token) < 8:
            raise ConfigError("console server: token must be a string of at least 8 characters")  # the value stays out
        if not isinstance(self.port, int) or not 0 <= self.port < 65536:
            raise ConfigError(f"console server: port must be an integer in [0, 65535], got {self.port!r}")
        if not self.steps_per_second >= 0:
            raise ConfigError(f"console server: steps_per_second must be >= 0, got {self.steps_per_second}")
        if not 20 <= self.poll_ms <= 10_000:
            raise ConfigError(f"console server: poll_ms must be in [20, 10000], got {self.poll_ms}")
        if not 1 <= self.jpeg_quality <= 95:
            raise ConfigError(f"console server: jpeg_quality must be in [1, 95], got {self.jpeg_quality}")


class ConsoleServer:
    """Builds the session on its simulator thread, steps it, and serves the page until :meth:`close`."""

    def __init__(self, make_session: Callable[[], Any], config: ServerConfig) -> None:
        self.config = config
        self._make_session = make_session
        self._digest = hashlib.sha256(config.token.encode()).digest()
        self._quit = threading.Event()
        self._ready = threading.Event()
        self._build_error: BaseException | None = None
        self.session: Any = None
        self._jpeg: dict[str, tuple[int, bytes]] = {}
        self._jpeg_lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # ---- life cycle --------------------------------------------------------------------------------
    def start(self) -> ConsoleServer:
        """Build the session (raises what building it raised), bind, and serve in background threads."""
        sim = threading.Thread(target=self._simulate, name="console-sim", daemon=True)
        sim.start()
        self._threads.append(sim)
        self._ready.wait()
        if self._build_error is not None:
            sim.join()
            raise self._build_error
        try:
            self._httpd = ThreadingHTTPServer((self.config.host, self.config.port), _handler(self))
        except OSError as err:
            self.close()
            raise ConfigError(f"console server: cannot listen on {self.config.host}:{self.config.port} ({err})") from err
        self._httpd.daemon_threads = True
        web = threading.Thread(target=self._httpd.serve_forever, name="console-http", daemon=True)
        web.start()
        self._threads.append(web)
        log.info("console on %s", self.base_url)
        return self

    def close(self) -> None:
        """Stop serving and stepping; the simulator thread releases the simulator."""
        self._quit.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        for t in self._threads:
            t.join(timeout=30)

    def __enter__(self) -> ConsoleServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait(self) -> None:
        """Block until interrupted (Ctrl-C) or closed."""
        while not self._quit.wait(0.5):
            pass

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start() first"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host = self.config.host if ":" not in self.config.host else f"[{self.config.host}]"
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The page's address with the token: what a person opens."""
        return f"{self.base_url}/?token={self.config.token}"

    # ---- the simulator thread ------------------------------------------------------------------------
    def _simulate(self) -> None:
        try:
            self.session = self._make_session()
        except BaseException as err:  # noqa: BLE001 - handed to start(), which raises it in the caller's thread
            self._build_error = err
            self._ready.set()
            return
        self._ready.set()
        period = 1.0 / self.config.steps_per_second if self.config.steps_per_second > 0 else 0.0
        due = time.monotonic()
        try:
            while not self._quit.is_set():
                if not self.session.step():
                    self._quit.wait(0.02)  # waiting for the operator: look again soon, cheaply
                    due = time.monotonic()
                    continue
                due += period
                delay = due - time.monotonic()
                if delay > 0:
                    self._quit.wait(delay)
                else:
                    due = time.monotonic()  # running late: do not rush to catch up
        finally:
            self.session.close()

    # ---- request helpers ---------------------------------------------------------------------------
    def authorized(self, header: str, query_token: str | None) -> bool:
        """The token from the header (``Bearer``/``Api-Key``) or, when given, the query, compared in constant time."""
        scheme, _, given = header.partition(" ")
        candidates = [given.strip()] if scheme.lower() in ("bearer", "api-key") else []
        if query_token is not None:
            candidates.append(query_token)
        ok = False
        for c in candidates:
            ok |= hmac.compare_digest(hashlib.sha256(c.encode()).digest(), self._digest)
        return ok

    def jpeg(self, camera: str) -> bytes:
        """The camera's latest frame as JPEG, encoded once per frame."""
        from PIL import Image

        frame, image = self.session.frame(camera)
        with self._jpeg_lock:
            cached = self._jpeg.get(camera)
            if cached is not None and cached[0] == frame:
                return cached[1]
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="JPEG", quality=self.config.jpeg_quality)
        data = buf.getvalue()
        with self._jpeg_lock:
            self._jpeg[camera] = (frame, data)
        return data


def _handler(server: ConsoleServer) -> type[BaseHTTPRequestHandler]:
    from vlastack.console.page import page_html

    page = page_html(server.config.poll_ms).encode()

    class Handler(BaseHTTPRequestHandler):
        server_version = "vlastack-console"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            log.debug("%s " + format, self.address_string(), *args)

        # ---- responses -------------------------------------------------------------------------
        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")  # the page's URL holds the token
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("X-Frame-Options", "DENY")
            if content_type.startswith("text/html"):
                self.send_header(
                    "Content-Security-Policy",
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src blob:; connect-src 'self'",
                )
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, payload: Any) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def _error(self, status: int, message: str) -> None:
            self._json(status, {"error": message})

        def _allowed(self, query: dict[str, list[str]], allow_query: bool) -> bool:
            given = query.get("token", [None])[0] if allow_query else None
            if server.authorized(self.headers.get("Authorization", ""), given):
                return True
            self.close_connection = True  # an unread body may follow: do not reuse the connection
            self._error(
                HTTPStatus.UNAUTHORIZED,
                "missing or wrong token: open the address `vlastack console` printed (it ends in ?token=...), "
                "or send 'Authorization: Bearer <token>'",
            )
            return False

        # ---- routes ----------------------------------------------------------------------------
        def do_GET(self) -> None:  # noqa: N802 - the base class's name
            url = urlsplit(self.path)
            if not self._allowed(parse_qs(url.query), allow_query=True):
                return
            try:
                if url.path in ("/", "/index.html"):
                    self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
                elif url.path == "/api/state":
                    self._json(HTTPStatus.OK, server.session.state())
                elif url.path.startswith("/api/frame/"):
                    camera = url.path[len("/api/frame/") :].removesuffix(".jpg")
                    self._send(HTTPStatus.OK, server.jpeg(camera), "image/jpeg")
                else:
                    self._error(HTTPStatus.NOT_FOUND, f"no such page {url.path!r}")
            except VlastackError as err:
                self._error(HTTPStatus.NOT_FOUND, str(err))

        def do_POST(self) -> None:  # noqa: N802 - the base class's name
            url = urlsplit(self.path)
            if not self._allowed({}, allow_query=False):
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self.close_connection = True  # the body is not read: the connection cannot be reused
                self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body over {MAX_BODY_BYTES} bytes")
                return
            raw = self.rfile.read(length) if length else b""
            if "application/json" not in self.headers.get("Content-Type", ""):
                self._error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send a JSON body with 'Content-Type: application/json'")
                return
            try:
                body = json.loads(raw or b"{}")
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
            except ValueError as err:
                self._error(HTTPStatus.BAD_REQUEST, f"bad JSON body: {err}")
                return
            session = server.session
            try:
                if url.path == "/api/chat":
                    text = body.get("text")
                    if not isinstance(text, str):
                        raise ConfigError("chat: field 'text' must be a string")
                    replies = session.chat(text)
                    self._json(HTTPStatus.OK, {"replies": [r.text for r in replies], "state": session.state()})
                elif url.path == "/api/stop":
                    session.stop()
                    self._json(HTTPStatus.OK, {"state": session.state()})
                elif url.path == "/api/resume":
                    session.resume()
                    self._json(HTTPStatus.OK, {"state": session.state()})
                elif url.path == "/api/episode":
                    session.new_episode()
                    self._json(HTTPStatus.OK, {"state": session.state()})
                elif url.path == "/api/takeover":
                    session.take_over()
                    self._json(HTTPStatus.OK, {"state": session.state()})
                elif url.path == "/api/operator":
                    session.command(body.get("action"))  # checked there: a bad one is a 400 naming the field
                    self._json(HTTPStatus.OK, {"state": session.state()})
                elif url.path == "/api/handback":
                    session.hand_back()
                    self._json(HTTPStatus.OK, {"state": session.state()})
                else:
                    self._error(HTTPStatus.NOT_FOUND, f"no such action {url.path!r}")
            except VlastackError as err:
                self._error(HTTPStatus.BAD_REQUEST, str(err))

    return Handler
