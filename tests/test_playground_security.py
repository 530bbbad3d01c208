"""The playground against hostile requests, through a real uvicorn server on loopback.

Each test starts the real app (``create_app``) on uvicorn in a background thread on
127.0.0.1 and an ephemeral port and talks to it over real sockets (``http.client``, raw
WebSocket handshakes and the ``websockets`` client), so what is checked is what a browser
or another website would meet: DNS rebinding (a foreign ``Host``), cross-site WebSockets
and POSTs, work bounded per request, capped sockets, and a hostile-input corpus (generated
here, never stored) that must answer 4xx naming the field, never 500.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import threading
import time
from contextlib import contextmanager

import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")
ws_client = pytest.importorskip("websockets.sync.client")

from bricks.playground.server import create_app  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(**app_kwargs):
    """The playground on uvicorn (127.0.0.1, a free port) for the ``with`` block."""
    port = _free_port()
    app = create_app(**app_kwargs)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            ws="auto")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="playground-security")
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield Server(port, app)
    finally:
        server.should_exit = True
        thread.join(timeout=20)


class Server:
    def __init__(self, port, app):
        self.port = port
        self.app = app
        self.host = f"127.0.0.1:{port}"
        self.origin = f"http://{self.host}"

    def request(self, method, path, body=None, headers=None, timeout=30):
        """(status, parsed JSON or text) of one request; ``headers`` may replace Host."""
        h = {"Host": self.host}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            raw = r.read()
        finally:
            conn.close()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, raw.decode("utf-8", "replace")

    def new(self, config=None):
        status, body = self.request("POST", "/api/sessions",
                                    {"config": config} if config else {})
        assert status == 201, body
        return body["id"]

    def handshake(self, path, headers=None):
        """The status line of a raw WebSocket upgrade request (101 when accepted)."""
        h = {"Host": self.host, "Upgrade": "websocket", "Connection": "Upgrade",
             "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
             "Sec-WebSocket-Version": "13"}
        h.update(headers or {})
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            text = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
            sock.sendall((text + "\r\n").encode())
            reply = b""
            while b"\r\n" not in reply:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
        return int(reply.split(b" ", 2)[1])

    def ws(self, sid, origin="same"):
        origin = self.origin if origin == "same" else origin
        return ws_client.connect(f"ws://{self.host}/ws/{sid}", origin=origin,
                                 open_timeout=10, close_timeout=2)


@pytest.fixture
def srv():
    with running(max_sessions=6, grace=0.3) as s:
        yield s


def sessions(srv):
    return srv.request("GET", "/api/sessions")[1]["sessions"]


# ------------------------------------------------------------------ 3. DNS rebinding

@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:80",
                                  "127.0.0.1.attacker.example", "localhost.evil", ""])
def test_foreign_host_is_refused(srv, host):
    sid = srv.new()
    for method, path, body in [("GET", "/", None), ("GET", "/api/sessions", None),
                               ("GET", f"/api/sessions/{sid}/export/data", None),
                               ("POST", "/api/sessions", {}),
                               ("PATCH", f"/api/sessions/{sid}/config", {"seed": 3})]:
        status, reply = srv.request(method, path, body, {"Host": host})
        assert status == 400, (method, path, status, reply)
        assert "host" in str(reply).lower()
    assert srv.handshake(f"/ws/{sid}", {"Host": host}) == 400
    assert srv.request("GET", f"/api/sessions/{sid}/config")[1]["seed"] == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"])
def test_loopback_host_names_are_served(srv, host):
    status, reply = srv.request("GET", "/api/health", headers={"Host": f"{host}:{srv.port}"})
    assert status == 200 and reply["ok"]


def test_the_bound_host_is_allowed_too():
    with running(allowed_hosts=["192.0.2.7"]) as s:
        assert s.request("GET", "/api/health", headers={"Host": "192.0.2.7:80"})[0] == 200
        assert s.request("GET", "/api/health", headers={"Host": "192.0.2.8"})[0] == 400


# ---------------------------------------------------- 4. cross-site WebSocket hijacking

@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1",
                                    "https://127.0.0.1", "file://"])
def test_websocket_from_a_foreign_origin_is_refused(srv, origin):
    sid = srv.new()
    assert srv.handshake(f"/ws/{sid}", {"Origin": origin}) == 403
    # Nothing reached the session: not played, not reconfigured.
    assert srv.request("GET", f"/api/sessions/{sid}")[1]["status"] == "paused"


def test_websocket_from_the_page_origin_works(srv):
    sid = srv.new({"fps": 20})
    assert srv.handshake(f"/ws/{sid}", {"Origin": srv.origin}) == 101
    with srv.ws(sid) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "data"
        ws.send(json.dumps({"type": "config", "config": {"lr": 0.1}}))
        deadline = time.monotonic() + 10
        while json.loads(ws.recv(timeout=10)).get("lr") != 0.1:
            assert time.monotonic() < deadline


# ------------------------------------------------------------- 5. cross-site POSTs

def test_cross_site_simple_posts_are_refused(srv):
    before = sessions(srv)
    sid = srv.new()
    cases = [
        ("POST", "/api/sessions", b"{}", {"Content-Type": "text/plain"}, 415),
        ("POST", "/api/sessions", b"{}", {"Content-Type": "application/x-www-form-urlencoded"},
         415),
        ("POST", "/api/sessions", b"{}", {"Content-Type": "multipart/form-data; boundary=x"},
         415),
        ("POST", "/api/sessions", b"{}", {}, 415),
        ("POST", f"/api/sessions/{sid}/play", None, {}, 415),
        ("POST", f"/api/sessions/{sid}/step", b'{"epochs": 5}', {"Content-Type": "text/plain"},
         415),
        ("POST", f"/api/sessions/{sid}/upload", b"1,1,0\n2,2,1\n",
         {"Content-Type": "text/plain"}, 415),
        ("POST", "/api/sessions", b"{}", {"Content-Type": "application/json",
                                          "Origin": "http://evil.example"}, 403),
        ("POST", "/api/sessions", b"{}", {"Content-Type": "application/json",
                                          "Origin": "null"}, 403),
        ("POST", f"/api/sessions/{sid}/play", b"{}", {"Content-Type": "application/json",
                                                      "Sec-Fetch-Site": "cross-site"}, 403),
        ("POST", f"/api/sessions/{sid}/play", b"{}", {"Content-Type": "application/json",
                                                      "Sec-Fetch-Site": "same-site"}, 403),
        ("DELETE", f"/api/sessions/{sid}", None, {"Origin": "http://evil.example"}, 403),
        ("PATCH", f"/api/sessions/{sid}/config", b'{"seed": 4}',
         {"Content-Type": "application/json", "Origin": "http://evil.example"}, 403),
    ]
    for method, path, body, headers, status in cases:
        got, reply = srv.request(method, path, body, headers)
        assert got == status, (method, path, headers, got, reply)
        assert isinstance(reply, dict) and reply["error"], reply
    info = srv.request("GET", f"/api/sessions/{sid}")[1]
    assert (info["status"], info["epoch"], info["config"]["seed"]) == ("paused", 0, 0)
    assert sorted(sessions(srv)) == sorted(before + [sid])
    # The page's own requests pass: same origin, JSON.
    same = {"Origin": srv.origin, "Sec-Fetch-Site": "same-origin"}
    status, reply = srv.request("POST", f"/api/sessions/{sid}/step", {"epochs": 2},
                                headers=same)
    assert status == 200 and reply["epoch"] == 2, reply
    assert srv.request("DELETE", f"/api/sessions/{sid}", headers=same)[0] == 204


def test_socketless_sessions_are_freed_sooner():
    # The default no longer keeps an unclaimed session for 30 minutes.
    with running() as s:
        assert s.app.state.manager.idle_timeout <= 120
    with running(idle_timeout=0.5) as s:
        sid = s.new()
        time.sleep(1.6)
        assert s.request("GET", f"/api/sessions/{sid}")[0] == 404


# ------------------------------------------------------- 10. bounded, interruptible work

BIG = {"max_layers": 10, "max_neurons": 64, "hidden": [64] * 10, "n_points": 2000,
       "train_ratio": 90, "batch_size": 1}


def _timed(fn):
    t = time.monotonic()
    out = fn()
    return out, time.monotonic() - t


def test_a_long_step_is_bounded_and_pause_state_delete_stay_responsive():
    with running(step_timeout=4.0) as s:
        sid = s.new(BIG)
        results = {}

        def long_step():
            results["step"] = _timed(lambda: s.request("POST", f"/api/sessions/{sid}/step",
                                                       {"epochs": 1000}, timeout=60))
        t = threading.Thread(target=long_step)
        t.start()
        time.sleep(0.5)
        (status, frame), took = _timed(lambda: s.request("GET", f"/api/sessions/{sid}/state"))
        assert status == 200 and frame["status"] == "stepping" and took < 2.5, took
        (status, _), took = _timed(lambda: s.request("GET", f"/api/sessions/{sid}"))
        assert status == 200 and took < 2.5, took
        t.join(timeout=30)
        (status, reply), took = results["step"]
        assert status == 200 and reply["truncated"] and reply["epochs_done"] < 1000, reply
        assert took < 4.0 + 3.0, took
        # Pause interrupts a step at once; DELETE too.
        t = threading.Thread(target=long_step)
        t.start()
        time.sleep(0.5)
        (status, reply), took = _timed(lambda: s.request("POST", f"/api/sessions/{sid}/pause",
                                                         {}))
        assert status == 200 and reply["status"] == "paused" and took < 2.5, took
        t.join(timeout=30)
        assert results["step"][1] < 3.0 and results["step"][0][1]["truncated"]
        t = threading.Thread(target=long_step)
        t.start()
        time.sleep(0.5)
        (status, _), took = _timed(lambda: s.request("DELETE", f"/api/sessions/{sid}"))
        assert status == 204 and took < 2.5, took
        t.join(timeout=30)
        assert results["step"][1] < 3.0


@pytest.mark.slow
def test_many_long_steps_do_not_starve_other_sessions():
    with running(step_timeout=3.0, max_sessions=16) as s:
        ids = [s.new({**BIG, "seed": k}) for k in range(6)]
        threads = []
        for sid in ids:
            for _ in range(8):  # 48 requests: more than the server's 40 worker threads
                threads.append(threading.Thread(target=s.request, args=(
                    "POST", f"/api/sessions/{sid}/step", {"epochs": 1000}), kwargs={
                    "timeout": 60}))
        for t in threads:
            t.start()
        time.sleep(0.5)
        other = s.new()
        (status, reply), took = _timed(lambda: s.request("POST", f"/api/sessions/{other}/step",
                                                         {"epochs": 3}))
        assert status == 200 and reply["epoch"] == 3 and took < 10, (reply, took)
        t0 = time.monotonic()
        for t in threads:
            t.join(timeout=60)
        # Each session's steps replace one another; every one ends within its bound.
        assert time.monotonic() - t0 < 8 * 3.0 + 10


def test_websockets_are_capped_per_session_and_in_total():
    with running(max_sockets_per_session=2, max_sockets=3) as s:
        a, b = s.new(), s.new()
        with s.ws(a) as w1, s.ws(a) as w2:
            w1.recv(timeout=10), w2.recv(timeout=10)
            with s.ws(a) as w3:
                with pytest.raises(Exception) as err:
                    while True:
                        w3.recv(timeout=10)
                assert getattr(err.value, "rcvd", None) is not None
                assert err.value.rcvd.code == 4429 and "per session" in err.value.rcvd.reason
            with s.ws(b) as w4:
                w4.recv(timeout=10)
                with s.ws(b) as w5:
                    with pytest.raises(Exception) as err:
                        while True:
                            w5.recv(timeout=10)
                    assert err.value.rcvd.code == 4429 and "at most 3" in err.value.rcvd.reason


# ------------------------------------------------- 13. hostile input: 4xx, never 500

HUGE = "9" * 400
NUMERIC_FIELDS = ["n_classes", "n_points", "noise", "train_ratio", "seed", "momentum",
                  "lr", "reg_rate", "batch_size", "target_loss", "max_epochs",
                  "max_layers", "max_neurons", "heatmap_size", "fps"]


def test_hostile_corpus_is_4xx_naming_the_field(srv):
    sid = srv.new()
    corpus = []
    for field in NUMERIC_FIELDS:
        for sign in ("", "-"):
            body = f'{{"{field}": {sign}{HUGE}}}'.encode()
            corpus.append(("PATCH", f"/api/sessions/{sid}/config", body, field))
            corpus.append(("POST", "/api/sessions", b'{"config": ' + body + b"}", field))
    corpus += [
        ("PATCH", f"/api/sessions/{sid}/config", f'{{"hidden": [{HUGE}]}}'.encode(),
         "hidden[0]"),
        ("PATCH", f"/api/sessions/{sid}/config", f'{{"dropout": [{HUGE}]}}'.encode(),
         "dropout"),
        ("POST", f"/api/sessions/{sid}/step", f'{{"epochs": {HUGE}}}'.encode(), "epochs"),
        ("PUT", f"/api/sessions/{sid}/weights",
         f'{{"layer": {HUGE}, "i": 0, "j": 0, "value": 1}}'.encode(), "layer"),
        ("PUT", f"/api/sessions/{sid}/weights",
         f'{{"layer": 0, "i": 0, "j": 0, "value": {HUGE}}}'.encode(), "value"),
        ("POST", f"/api/sessions/{sid}/points",
         f'{{"points": [{{"x1": {HUGE}, "x2": 0, "label": 0}}]}}'.encode(), "points[0].x1"),
        ("POST", f"/api/sessions/{sid}/points",
         f'{{"points": [{{"x1": 0, "x2": 0, "label": {HUGE}}}]}}'.encode(), "label"),
        ("PATCH", f"/api/sessions/{sid}/config", b"[" * 100_000 + b"]" * 100_000, "body"),
        ("PATCH", f"/api/sessions/{sid}/config", b'{"a": ' * 50_000 + b"1" + b"}" * 50_000,
         "body"),
        ("POST", "/api/sessions", b'{"config": ' + b"[" * 5000 + b"]" * 5000 + b"}",
         "body"),
    ]
    for method, path, body, field in corpus:
        status, reply = srv.request(method, path, body, {"Content-Type": "application/json"})
        assert 400 <= status < 500, (method, path, body[:60], status, reply)
        assert field in reply["error"], (field, reply)
    # CSV: a field over 128 KiB, a NUL, a deep quote.
    for text, field in [(b"1,1," + b"7" * 200_000 + b"\n", "row 1"),
                        (b'1,1,0\n2,2,"' + b"x" * 140_000 + b'"\n', "row 2"),
                        (b"1,1,\x000\n", "row 1")]:
        status, reply = srv.request("POST", f"/api/sessions/{sid}/upload", text,
                                    {"Content-Type": "text/csv"})
        assert 400 <= status < 500 and field in reply["error"], (status, reply)
    # Static paths: NUL bytes, very deep or long paths.
    for path in ["/static/%00", "/static/app.js%00.png", "/static/" + "a/" * 3000 + "b",
                 "/static/" + "x" * 5000, "/static/" + "../" * 500 + "etc/passwd",
                 "/static/%2e%2e/%2e%2e/server.py"]:
        status, reply = srv.request("GET", path)
        assert status == 404, (path[:40], status, reply)
    assert srv.request("GET", "/api/health")[1]["ok"]


def test_stepping_a_failed_session_is_409_with_its_reason(srv):
    # Batch norm cannot train on one training point: the session fails with that reason.
    sid = srv.new({"dataset": "custom", "batch_norm": True})
    status, _ = srv.request("POST", f"/api/sessions/{sid}/points", {"points": [
        {"x1": 1, "x2": 1, "label": 1}, {"x1": 2, "x2": 2, "label": 0, "split": "test"}]})
    assert status == 200
    for _ in range(2):  # failing, and then stepping the failed session
        status, reply = srv.request("POST", f"/api/sessions/{sid}/step", {"epochs": 1})
        assert status == 409, (status, reply)
        assert "batch_norm" in reply["error"] and "reset" in reply["error"], reply
    info = srv.request("GET", f"/api/sessions/{sid}")[1]
    assert info["status"] == "stopped"
    status, reply = srv.request("POST", f"/api/sessions/{sid}/play", {})
    assert status == 409 and "batch_norm" in reply["error"], reply
    # A config change that fixes it (no batch norm) frees the session again.
    status, _ = srv.request("PATCH", f"/api/sessions/{sid}/config", {"batch_norm": False})
    assert status == 200
    status, reply = srv.request("POST", f"/api/sessions/{sid}/step", {"epochs": 1})
    assert status == 200 and reply["epoch"] == 1, reply


def test_upload_warns_about_one_class_and_names_the_limits(srv):
    sid = srv.new()
    status, reply = srv.request("POST", f"/api/sessions/{sid}/upload", b"1,1,0\n2,2,0\n" * 10,
                                {"Content-Type": "text/csv"})
    assert status == 200 and "every label is class 0" in reply["warning"], reply
    status, reply = srv.request("POST", f"/api/sessions/{sid}/upload", b"1,1,0\n" * 5001,
                                {"Content-Type": "text/csv"})
    assert status == 413 and "at most 5000 rows" in reply["error"], reply
    status, reply = srv.request("POST", f"/api/sessions/{sid}/upload", b"1,1,0\n" * 200_000,
                                {"Content-Type": "text/csv"})
    assert status == 413 and "at most 1000000 bytes" in reply["error"], reply


@pytest.mark.slow
def test_bench_playground_quick_runs_over_a_real_server():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_playground.py"
    spec = importlib.util.spec_from_file_location("bench_playground", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    table = bench.main(["--quick"])
    for row in ("train only", "live, binary heatmaps", "live, JSON frames"):
        assert row in table
    assert "2.5 KiB" in table  # a binary 50x50 heatmap frame


def test_hostile_websocket_messages_get_errors_naming_the_field(srv):
    sid = srv.new()
    with srv.ws(sid) as ws:
        cases = [(f'{{"type": "config", "config": {{"lr": {HUGE}}}}}',
                  "lr"),
                 (f'{{"type": "step", "epochs": {HUGE}}}', "epochs"),
                 ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
                 ('{"type": "config", "config": ' + "[" * 5000 + "]" * 5000 + "}",
                  "nested too deeply")]
        for text, words in cases:
            ws.send(text)
            deadline = time.monotonic() + 10
            while True:
                msg = ws.recv(timeout=10)
                if isinstance(msg, str) and '"error"' in msg:
                    break
                assert time.monotonic() < deadline
            error = json.loads(msg)["error"]
            assert words in error and "internal error" not in error, error
    assert srv.request("GET", f"/api/sessions/{sid}")[1]["status"] == "paused"
