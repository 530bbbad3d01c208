"""The playground's web server: a Starlette app with a JSON API and a WebSocket per session.

``create_app()`` builds the app (the page, ``/api/...`` and ``/ws/{id}``, as specified in
docs/playground-protocol.md); ``serve()`` runs it on uvicorn, on loopback by default. The
CPU work (training, snapshots) runs in worker threads so one busy session never blocks the
event loop; each :class:`~bricks.playground.session.Session` serializes its own commands.
Every error reaches the page as ``{"error": "..."}`` with a 4xx status, and the server keeps
serving.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import socket
import struct
import threading
import time
import webbrowser
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bricks.optim import OPTIMIZERS
from bricks.playground import schema
from bricks.playground.export import DOWNLOADS
from bricks.playground.model import uses_momentum
from bricks.playground.schema import SchemaError
from bricks.playground.session import Session

__all__ = ["create_app", "serve", "SessionManager", "STATIC_DIR", "LOOPBACK_HOSTS"]

STATIC_DIR = Path(__file__).resolve().parent / "static"

# Host names a loopback server answers to. Anything else is DNS rebinding (a website whose
# name resolves to 127.0.0.1 would otherwise be "same origin" with the playground).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

# A static path: plain names, at most a few folders deep (no NUL, no "..", no 5000 levels).
_STATIC_PATH = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]"
                          r"{0,99}){0,3}")
# Content types a cross-site page cannot send without a CORS preflight (which the server
# never grants): JSON for every command, CSV for an upload.
_JSON_TYPES = ("application/json",)
_CSV_TYPES = ("text/csv", "application/vnd.ms-excel")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Binary heatmap frames a second at most (a display's rate); JSON frames follow `fps`.
HEATMAP_RATE = 60

_PLACEHOLDER = """<!doctype html><meta charset="utf-8"><title>bricks playground</title>
<p>The bricks playground server is running, but its page
(<code>bricks/playground/static/index.html</code>) is missing.
The API is at <a href="/api/options">/api/options</a>.</p>"""


class _Entry:
    __slots__ = ("session", "last_seen", "sockets", "delete_at", "compare_with")

    def __init__(self, session, compare_with=None):
        self.session = session
        self.last_seen = time.monotonic()
        self.sockets = 0
        self.delete_at = None
        self.compare_with = compare_with


class SessionManager:
    """The live sessions, capped in number and freed when idle or when their tab closes.

    Args:
        max_sessions: more sessions than this at once get 429.
        idle_timeout: seconds without a request or an open WebSocket before a session is
            deleted (a page keeps its session alive through its WebSocket, so this only
            frees sessions nobody watches).
        grace: seconds a session outlives its last WebSocket (a reload reconnects in time).
        max_sockets_per_session: WebSockets open on one session at once.
        max_sockets: WebSockets open on the server at once.
    """

    def __init__(self, max_sessions: int = 16, idle_timeout: float = 120.0,
                 grace: float = 10.0, max_sockets_per_session: int = 4,
                 max_sockets: int = 64):
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self.grace = grace
        self.max_sockets_per_session = max_sockets_per_session
        self.max_sockets = max_sockets
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._entries)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def sweep(self) -> None:
        """Delete sessions past their grace period or idle for ``idle_timeout`` seconds."""
        now = time.monotonic()
        with self._lock:
            dead = [sid for sid, e in self._entries.items()
                    if (e.delete_at is not None and now >= e.delete_at)
                    or (e.sockets == 0 and now - e.last_seen > self.idle_timeout)]
            entries = [self._entries.pop(sid) for sid in dead]
        for e in entries:
            e.session.close()

    def create(self, config=None, compare_with: str | None = None) -> tuple[str, Session]:
        self.sweep()
        with self._lock:
            if len(self._entries) >= self.max_sessions:
                raise SchemaError(f"sessions: at most {self.max_sessions} sessions at once; "
                                  f"close a tab or DELETE /api/sessions/{{id}}", 429)
        if compare_with is not None:
            if not isinstance(compare_with, str):
                raise SchemaError("compare_with: expected a session id (string)")
            base = self.get(compare_with)
            if config is not None and not isinstance(config, dict):
                raise SchemaError(f"config: expected an object, got "
                                  f"{type(config).__name__}")
            data_keys = [k for k in (config or {}) if k in schema.DATA_KEYS]
            if data_keys:
                raise SchemaError(f"config: {data_keys[0]!r} is a data key; a compare "
                                  f"session trains on the same data as {compare_with}")
            with base.lock:
                cfg = schema.validate_config(config or {}, base.config)
            session = Session(cfg, data=base.data_tuple())
        else:
            session = Session(config or {})
        sid = secrets.token_urlsafe(12)
        with self._lock:
            if len(self._entries) >= self.max_sessions:
                raise SchemaError(f"sessions: at most {self.max_sessions} sessions at once",
                                  429)
            self._entries[sid] = _Entry(session, compare_with)
        return sid, session

    def entry(self, sid: str) -> _Entry:
        self.sweep()
        with self._lock:
            e = self._entries.get(sid)
        if e is None:
            raise SchemaError(f"session {sid!r} not found (it may have been closed or timed "
                              f"out)", 404)
        e.last_seen = time.monotonic()
        return e

    def get(self, sid: str) -> Session:
        return self.entry(sid).session

    def delete(self, sid: str) -> None:
        with self._lock:
            e = self._entries.pop(sid, None)
        if e is None:
            raise SchemaError(f"session {sid!r} not found", 404)
        e.session.close()

    def close_all(self) -> None:
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
        for e in entries:
            e.session.close()

    def socket_opened(self, sid: str) -> None:
        """Count a new WebSocket on ``sid``; 429 past the per-session or total cap."""
        e = self.entry(sid)
        with self._lock:
            total = sum(x.sockets for x in self._entries.values())
            if e.sockets >= self.max_sockets_per_session:
                raise SchemaError(f"sockets: at most {self.max_sockets_per_session} per "
                                  f"session", 429)
            if total >= self.max_sockets:
                raise SchemaError(f"sockets: at most {self.max_sockets} on the server", 429)
            e.sockets += 1
            e.delete_at = None

    def socket_closed(self, sid: str) -> None:
        with self._lock:
            e = self._entries.get(sid)
        if e is None:
            return
        with self._lock:
            e.sockets = max(0, e.sockets - 1)
            e.last_seen = time.monotonic()
            if e.sockets == 0:
                e.delete_at = time.monotonic() + self.grace

    def alive(self, sid: str, session: Session) -> bool:
        with self._lock:
            e = self._entries.get(sid)
        return e is not None and e.session is session


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class SameOriginMiddleware:
    """Refuse what another website can make a browser send (CSRF, WebSocket hijacking).

    On every WebSocket handshake and every state-changing request (POST, PUT, PATCH,
    DELETE): an ``Origin`` header, when present, must be the server's own origin
    (``http://`` + the ``Host`` the request was sent to; ``null`` is refused), and a
    ``Sec-Fetch-Site`` header, when present, must be ``same-origin`` or ``none``.
    Browsers always send them, so a page on another site is refused; tools such as curl
    send neither and pass. POST, PUT and PATCH must also carry a JSON content type (CSV
    for an upload): a cross-site page can only send those after a CORS preflight, which
    this server never grants. Runs after :class:`TrustedHostMiddleware`, so ``Host`` is
    already a trusted name.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind not in ("http", "websocket") or (
                kind == "http" and scope["method"] in _SAFE_METHODS):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        problem, status = self._problem(scope, headers), 403
        if problem is None and kind == "http" and scope["method"] in ("POST", "PUT", "PATCH"):
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            wanted = _CSV_TYPES if scope["path"].endswith("/upload") else _JSON_TYPES
            if ctype not in wanted:
                problem, status = (f"content type: expected {wanted[0]}, got "
                                   f"{ctype or 'none'} ({scope['method']} {scope['path']})"), 415
        if problem is None:
            await self.app(scope, receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": problem[:120]})
        else:
            await _error(problem, status)(scope, receive, send)

    @staticmethod
    def _problem(scope, headers):
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return f"cross-site request refused (Sec-Fetch-Site: {site})"
        origin = headers.get("origin")
        if origin is None:
            return None
        secure = scope.get("scheme") in ("https", "wss")
        own = f"{'https' if secure else 'http'}://{headers.get('host', '')}".lower()
        if origin.lower().rstrip("/") != own:
            return f"cross-origin request refused (Origin: {origin[:60]})"
        return None


def _api(handler):
    """Wrap an endpoint so every failure is a JSON ``{"error": ...}`` response."""
    async def endpoint(request: Request):
        try:
            return await handler(request)
        except SchemaError as err:
            return _error(str(err), err.status)
        except Exception as err:  # a bug must not take the server down
            return _error(f"internal error: {type(err).__name__}: {err}", 500)
    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


async def _read_body(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise SchemaError(f"body: at most {limit} bytes, got {length}", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise SchemaError(f"body: at most {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


async def _json(request: Request, allow_empty: bool = True):
    body = await _read_body(request, schema.LIMITS["max_body_bytes"])
    return schema.parse_json(body, allow_empty=allow_empty)


def _optimizer_option(name: str) -> dict:
    """An optimizer of the menu, from its entry in bricks.optim.OPTIMIZERS."""
    spec = OPTIMIZERS[name]
    return {"name": name, "label": spec.title + (" (full batch)" if spec.full_batch else ""),
            "full_batch": spec.full_batch, "momentum": uses_momentum(name)}


def _options() -> dict:
    datasets = [{"name": name,
                 "task": "regression" if name in schema.REGRESSION_DATASETS
                 else "classification",
                 "multiclass": name in schema.MULTICLASS_DATASETS or name == "custom"}
                for name in schema.DATASETS]
    return {
        "datasets": datasets,
        "features": [{"name": k, "label": v} for k, v in schema.FEATURES.items()],
        "activations": list(schema.ACTIVATIONS),
        "initializers": list(schema.INITIALIZERS),
        "optimizers": [_optimizer_option(name) for name in schema.OPTIMIZERS],
        "losses": list(schema.LOSSES),
        "regularizations": list(schema.REGULARIZATIONS),
        "limits": dict(schema.LIMITS),
        "defaults": schema.default_config(),
    }


def create_app(max_sessions: int = 16, idle_timeout: float = 120.0, grace: float = 10.0,
               static_dir: str | Path | None = None, allowed_hosts=(),
               step_timeout: float = 10.0, max_sockets_per_session: int = 4,
               max_sockets: int = 64) -> Starlette:
    """The playground as an ASGI app (Starlette).

    Args:
        max_sessions: sessions alive at once (one per browser tab); one more gets 429.
        idle_timeout: seconds without requests or sockets before a session is freed.
        grace: seconds a session outlives its last WebSocket.
        static_dir: the page's folder (default: ``bricks/playground/static``).
        allowed_hosts: host names besides loopback's (``LOOPBACK_HOSTS``) that requests
            may be addressed to (the address ``serve`` binds); any other ``Host`` gets 400.
        step_timeout: seconds of training one step command may take (it then stops and
            answers with ``"truncated": true``).
        max_sockets_per_session: WebSockets on one session at once (one more is closed
            with code 4429).
        max_sockets: WebSockets on the server at once.

    Returns:
        The app; ``app.state.manager`` is its :class:`SessionManager`.
    """
    manager = SessionManager(max_sessions, idle_timeout, grace, max_sockets_per_session,
                             max_sockets)
    static = Path(static_dir) if static_dir is not None else STATIC_DIR
    hosts = list(LOOPBACK_HOSTS) + [h.lower() for h in allowed_hosts
                                    if h.lower() not in LOOPBACK_HOSTS]

    async def index(request: Request):
        page = static / "index.html"
        if page.is_file():
            return FileResponse(page, headers={"Cache-Control": "no-cache"})
        return HTMLResponse(_PLACEHOLDER)

    async def static_file(request: Request):
        rel = request.path_params["path"]
        missing = _error(f"static file {rel[:80]!r} not found", 404)
        if not _STATIC_PATH.fullmatch(rel):
            return missing
        root = static.resolve()
        try:
            target = (root / rel).resolve()
            if root not in target.parents or not target.is_file():
                return missing
        except (OSError, ValueError):
            return missing
        return FileResponse(target, headers={"Cache-Control": "no-cache"})

    @_api
    async def health(request: Request):
        manager.sweep()
        return JSONResponse({"ok": True, "sessions": len(manager),
                             "max_sessions": manager.max_sessions})

    @_api
    async def options(request: Request):
        return JSONResponse(_options())

    @_api
    async def sessions_list(request: Request):
        manager.sweep()
        return JSONResponse({"sessions": manager.ids()})

    @_api
    async def sessions_create(request: Request):
        body = await _json(request)
        if not isinstance(body, dict):
            raise SchemaError("body: expected an object like {\"config\": {...}}")
        unknown = [k for k in body if k not in ("config", "compare_with")]
        if unknown:
            raise SchemaError(f"body: unknown key {unknown[0]!r} (expected config, "
                              f"compare_with)")
        config = body.get("config")
        if config is not None and not isinstance(config, dict):
            raise SchemaError(f"config: expected an object, got {type(config).__name__}")
        sid, session = await run_in_threadpool(manager.create, config,
                                               body.get("compare_with"))
        return JSONResponse({"id": sid, "config": session.config}, status_code=201)

    def _sid(request):
        return request.path_params["id"]

    @_api
    async def session_get(request: Request):
        e = manager.entry(_sid(request))
        s = e.session
        return JSONResponse({"id": _sid(request), "config": s.config, "status": s.status,
                             "epoch": s.epoch, "compare_with": e.compare_with})

    @_api
    async def session_delete(request: Request):
        await run_in_threadpool(manager.delete, _sid(request))
        return Response(status_code=204)

    @_api
    async def config_get(request: Request):
        return JSONResponse(manager.get(_sid(request)).config)

    @_api
    async def config_patch(request: Request):
        s = manager.get(_sid(request))
        body = await _json(request, allow_empty=False)
        reset = await run_in_threadpool(s.update_config, body)
        return JSONResponse({"config": s.config, "reset": reset})

    @_api
    async def play(request: Request):
        s = manager.get(_sid(request))
        await _json(request)
        await run_in_threadpool(s.play)
        return JSONResponse(s.summary())

    @_api
    async def pause(request: Request):
        s = manager.get(_sid(request))
        await run_in_threadpool(s.pause)
        return JSONResponse(s.summary())

    @_api
    async def step(request: Request):
        s = manager.get(_sid(request))
        epochs = schema.validate_step(await _json(request))
        start = s.epoch
        target = await run_in_threadpool(s.start_step, epochs, step_timeout)
        # Wait without holding a worker thread: many long steps cannot starve the others.
        thread = s.training_thread
        while thread is not None and thread.is_alive():
            await anyio.sleep(0.01)
        s._check_failed("step")
        reply = s.summary()
        done = max(0, min(target, reply["epoch"]) - start)
        reply.update(epochs_done=done, truncated=done < epochs)
        return JSONResponse(reply)

    @_api
    async def reset(request: Request):
        s = manager.get(_sid(request))
        await run_in_threadpool(s.reset)
        return JSONResponse(s.summary())

    @_api
    async def state(request: Request):
        s = manager.get(_sid(request))
        return JSONResponse(await run_in_threadpool(s.snapshot))

    @_api
    async def data(request: Request):
        s = manager.get(_sid(request))
        return JSONResponse(await run_in_threadpool(s.data_message))

    def _counts(s):
        with s.lock:
            return {"n_train": len(s.y_train), "n_test": len(s.y_test), "config": s.config}

    @_api
    async def points_add(request: Request):
        s = manager.get(_sid(request))
        body = await _json(request, allow_empty=False)
        points = schema.validate_points(body, s.task)
        await run_in_threadpool(s.add_points, points)
        return JSONResponse(_counts(s))

    @_api
    async def points_clear(request: Request):
        s = manager.get(_sid(request))
        await run_in_threadpool(s.clear_points)
        return JSONResponse(_counts(s))

    @_api
    async def upload(request: Request):
        s = manager.get(_sid(request))
        body = await _read_body(request, schema.LIMITS["max_upload_bytes"])
        rows, task, has_split = schema.parse_csv(body)
        await run_in_threadpool(s.load_rows, rows, task, has_split)
        reply = _counts(s)
        classes = sorted({r[2] for r in rows}) if task == "classification" else None
        if classes is not None and len(classes) == 1:
            reply["warning"] = (f"upload: every label is class {classes[0]}; the network "
                                f"learns nothing and accuracy is meaningless")
        elif reply["n_test"] == 0:
            reply["warning"] = "upload: no test points; the test loss and accuracy stay empty"
        return JSONResponse(reply)

    @_api
    async def weights_put(request: Request):
        s = manager.get(_sid(request))
        body = await _json(request, allow_empty=False)
        layer, i, j, value = schema.validate_weight_edit(body, s.weight_shapes())
        await run_in_threadpool(s.set_weight, layer, i, j, value)
        return JSONResponse({"layer": layer, "i": i, "j": j, "value": value})

    @_api
    async def download(request: Request):
        s = manager.get(_sid(request))
        kind = request.path_params["kind"]
        body = await run_in_threadpool(s.export, kind)
        _, media_type, filename = DOWNLOADS[kind]
        return Response(body, media_type=media_type, headers={
            "Content-Disposition": f'attachment; filename="{filename}"'})

    async def websocket(ws: WebSocket):
        sid = ws.path_params["id"]
        try:
            session = manager.get(sid)
        except SchemaError:
            await ws.close(code=4404)
            return
        binary = ws.query_params.get("heatmap") == "binary"
        await ws.accept()
        try:
            manager.socket_opened(sid)
        except SchemaError as err:
            await ws.close(code=4429 if err.status == 429 else 4404, reason=str(err)[:120])
            return
        send_lock = anyio.Lock()

        async def send(message):
            async with send_lock:
                await ws.send_text(json.dumps(message))

        async def send_bytes(blob):
            async with send_lock:
                await ws.send_bytes(blob)

        async def sender(cancel):
            # JSON state frames at most `fps` a second; with ?heatmap=binary the heatmap
            # leaves them and goes as a small binary frame at up to HEATMAP_RATE a second,
            # whenever it changed, so the page repaints it at display rate.
            sent_data, sent_version, heat_version, last_heat = -1, -1, -1, b""
            last_state = 0.0
            while manager.alive(sid, session):
                started = time.monotonic()
                if session.data_version != sent_data:
                    sent_data = session.data_version
                    await send(await run_in_threadpool(session.data_message))
                version = session.version
                if binary and version != heat_version:
                    heat_version = version
                    blob = await run_in_threadpool(session.heatmap_frame)
                    if blob != last_heat:
                        if struct.unpack_from("<I", blob, 8)[0] != sent_data:
                            data = await run_in_threadpool(session.data_message)
                            sent_data = data["version"]
                            await send(data)
                        last_heat = blob
                        await send_bytes(blob)
                if version != sent_version and \
                        started - last_state >= 1.0 / session.config["fps"] - 1e-3:
                    frame = await run_in_threadpool(session.snapshot, not binary)
                    sent_version, last_state = version, started
                    if frame["data_version"] != sent_data:
                        # The data changed while the frame was built: the page gets the
                        # points a frame refers to before the frame itself.
                        data = await run_in_threadpool(session.data_message)
                        sent_data = data["version"]
                        await send(data)
                    await send(frame)
                rate = HEATMAP_RATE if binary else session.config["fps"]
                await anyio.sleep(max(0.0, 1.0 / rate - (time.monotonic() - started)))
            await ws.close(code=4410)
            cancel.cancel()

        async def command(msg):
            if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
                raise SchemaError("message: expected an object with a \"type\"")
            kind = msg["type"]
            manager.entry(sid)  # touch (and 404 if it was deleted)
            if kind == "ping":
                await send({"type": "pong"})
            elif kind == "play":
                await run_in_threadpool(session.play)
            elif kind == "pause":
                await run_in_threadpool(session.pause)
            elif kind == "step":
                # Asynchronous: the socket keeps reading (a pause stops the step at once).
                await run_in_threadpool(session.start_step, schema.validate_step(msg),
                                        step_timeout)
            elif kind == "reset":
                await run_in_threadpool(session.reset)
            elif kind == "config":
                extra = [k for k in msg if k not in ("type", "config")]
                if extra:
                    raise SchemaError(f"config message: unknown key {extra[0]!r}")
                await run_in_threadpool(session.update_config, msg.get("config"))
            else:
                raise SchemaError(f"message: unknown type {kind!r} (expected play, pause, "
                                  f"step, reset, config, ping)")

        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(sender, tg.cancel_scope)
                while True:
                    try:
                        text = await ws.receive_text()
                    except (WebSocketDisconnect, RuntimeError, KeyError):
                        break
                    try:
                        if len(text) > schema.LIMITS["max_body_bytes"]:
                            raise SchemaError("message: too large")
                        await command(schema.parse_json(text.encode(), allow_empty=False))
                    except SchemaError as err:
                        await send({"type": "error", "error": str(err)})
                    except Exception as err:  # a bug must not close everyone's socket
                        await send({"type": "error",
                                    "error": f"internal error: {type(err).__name__}: {err}"})
                tg.cancel_scope.cancel()
        except Exception:  # the socket went away while sending
            pass
        finally:
            manager.socket_closed(sid)

    async def http_error(request: Request, exc: HTTPException):
        return _error(f"{exc.detail or 'error'}: {request.method} {request.url.path}",
                      exc.status_code)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async def janitor():
            while True:
                await anyio.sleep(1.0)
                await run_in_threadpool(manager.sweep)

        async with anyio.create_task_group() as tg:
            tg.start_soon(janitor)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()
                await run_in_threadpool(manager.close_all)

    s = "/api/sessions/{id}"
    routes = [
        Route("/", index),
        Route("/static/{path:path}", static_file),
        Route("/api/health", health),
        Route("/api/options", options),
        Route("/api/sessions", sessions_list, methods=["GET"]),
        Route("/api/sessions", sessions_create, methods=["POST"]),
        Route(s, session_get, methods=["GET"]),
        Route(s, session_delete, methods=["DELETE"]),
        Route(s + "/config", config_get, methods=["GET"]),
        Route(s + "/config", config_patch, methods=["PATCH"]),
        Route(s + "/play", play, methods=["POST"]),
        Route(s + "/pause", pause, methods=["POST"]),
        Route(s + "/step", step, methods=["POST"]),
        Route(s + "/reset", reset, methods=["POST"]),
        Route(s + "/state", state, methods=["GET"]),
        Route(s + "/data", data, methods=["GET"]),
        Route(s + "/points", points_add, methods=["POST"]),
        Route(s + "/points", points_clear, methods=["DELETE"]),
        Route(s + "/upload", upload, methods=["POST"]),
        Route(s + "/weights", weights_put, methods=["PUT"]),
        Route(s + "/export/{kind}", download, methods=["GET"]),
        WebSocketRoute("/ws/{id}", websocket),
    ]
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=hosts, www_redirect=False),
                  Middleware(SameOriginMiddleware)]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error},
                    lifespan=lifespan, middleware=middleware)
    app.state.manager = manager
    return app


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def serve(host: str = "127.0.0.1", port: int = 0, open_browser: bool = True, **app_kwargs):
    """Run the playground on uvicorn until Ctrl+C.

    Args:
        host: the address to bind; loopback by default (the playground has no login).
        port: the port; 0 picks a free one.
        open_browser: open the page in the default browser once the server is up.
        **app_kwargs: passed to :func:`create_app`.
    """
    import uvicorn

    if port == 0:
        port = _free_port(host)
    url = f"http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/"
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: the playground has no login and is reachable on {host}"
              + ("; it answers only requests addressed to a loopback name (bind one "
                 "address to be reached by it)" if host in ("0.0.0.0", "::", "") else ""))
    print(f"bricks playground at {url} (Ctrl+C to stop)", flush=True)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    if host not in ("0.0.0.0", "::", ""):
        bound = f"[{host}]" if ":" in host else host
        app_kwargs.setdefault("allowed_hosts", [bound])
    config = uvicorn.Config(create_app(**app_kwargs), host=host, port=port,
                            log_level="warning", ws="auto")
    uvicorn.Server(config).run()
