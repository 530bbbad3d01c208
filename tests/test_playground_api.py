"""The playground server: every endpoint and WebSocket message, good and bad input."""

import inspect
import io
import json
import struct
import time

import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

from starlette.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

import bricks.io  # noqa: E402
from bricks.playground import playground_main  # noqa: E402
from bricks.playground.server import create_app, serve  # noqa: E402


def make_client(app):
    """A TestClient as the page talks: to a loopback host name, with a JSON content type
    (the server refuses other hosts and non-JSON commands, see test_playground_security)."""
    return TestClient(app, base_url="http://127.0.0.1",
                      headers={"Content-Type": "application/json"})


@pytest.fixture
def client():
    with make_client(create_app(max_sessions=4, grace=0.2)) as c:
        yield c


def new(client, config=None, **body):
    if config is not None:
        body["config"] = config
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def error_of(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


def test_page_health_options(client):
    r = client.get("/")
    assert r.status_code == 200 and "html" in r.headers["content-type"]
    assert client.get("/api/health").json() == {"ok": True, "sessions": 0, "max_sessions": 4}
    opts = client.get("/api/options").json()
    assert {d["name"] for d in opts["datasets"]} >= {"circle", "xor", "gauss", "spiral",
                                                     "plane", "multi_gauss", "custom"}
    assert {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam",
            "lbfgs"} <= {o["name"] for o in opts["optimizers"]}
    menu = {o["name"]: o for o in opts["optimizers"]}  # from bricks.optim.OPTIMIZERS
    assert menu["lbfgs"] == {"name": "lbfgs", "label": "L-BFGS (full batch)",
                             "full_batch": True, "momentum": False}
    assert menu["nesterov"]["label"] == "SGD with Nesterov momentum"
    assert [o["name"] for o in opts["optimizers"] if o["momentum"]] == ["momentum", "nesterov"]
    assert "relu" in opts["activations"] and "xavier_uniform" in opts["initializers"]
    assert opts["defaults"]["hidden"] == [4, 2] and opts["limits"]["max_layers_cap"] == 10
    assert [f["name"] for f in opts["features"]] == ["x1", "x2", "x1sq", "x2sq", "x1x2",
                                                     "sinx1", "sinx2"]


def test_static_files_and_traversal(client, tmp_path):
    (tmp_path / "index.html").write_text("<html>page</html>")
    (tmp_path / "app.js").write_text("let x = 1;")
    (tmp_path.parent / "secret.txt").write_text("no")
    with make_client(create_app(static_dir=tmp_path)) as c:
        assert c.get("/").text == "<html>page</html>"
        assert c.get("/static/app.js").text == "let x = 1;"
        assert "not found" in error_of(c.get("/static/missing.js"), 404)
        assert c.get("/static/..%2Fsecret.txt").status_code == 404


def test_create_get_list_delete(client):
    sid = new(client, {"dataset": "xor", "hidden": [3]})
    info = client.get(f"/api/sessions/{sid}").json()
    assert info["config"]["dataset"] == "xor" and info["config"]["activation"] == ["tanh"]
    assert info["status"] == "paused" and info["epoch"] == 0
    assert sid in client.get("/api/sessions").json()["sessions"]
    assert client.get(f"/api/sessions/{sid}/config").json()["hidden"] == [3]
    assert client.delete(f"/api/sessions/{sid}").status_code == 204
    assert "not found" in error_of(client.get(f"/api/sessions/{sid}"), 404)
    error_of(client.delete(f"/api/sessions/{sid}"), 404)


@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 400, ["malformed JSON"]),
    (b"[1, 2]", 400, ["expected an object"]),
    (b'{"config": 5}', 400, ["config", "object"]),
    (b'{"config": {"hidden": [4, 2, 2, 2, 2, 2, 2]}}', 400, ["hidden", "at most 6"]),
    (b'{"config": {"hidden": [65]}}', 400, ["hidden[0]", "64"]),
    (b'{"config": {"hidden": [9]}}', 400, ["hidden[0]", "at most 8", "max_neurons"]),
    (b'{"config": {"max_layers": 11}}', 400, ["max_layers", "10"]),
    (b'{"config": {"lr": 0}}', 400, ["lr", "(0, 10"]),
    (b'{"config": {"lr": "fast"}}', 400, ["lr", "number", "string"]),
    (b'{"config": {"n_points": 2001}}', 400, ["n_points", "2000"]),
    (b'{"config": {"batch_size": 0}}', 400, ["batch_size"]),
    (b'{"config": {"batch_size": 600}}', 400, ["batch_size", "500"]),
    (b'{"config": {"dataset": "moon"}}', 400, ["dataset", "circle"]),
    (b'{"config": {"features": []}}', 400, ["features"]),
    (b'{"config": {"features": ["x1", "x3"]}}', 400, ["features[1]"]),
    (b'{"config": {"activation": ["tanh", "nope"]}}', 400, ["activation[1]"]),
    (b'{"config": {"zero_init": 1}}', 400, ["zero_init", "true or false"]),
    (b'{"config": {"dropout": 0.95}}', 400, ["dropout", "0.9"]),
    (b'{"config": {"noise": -1}}', 400, ["noise"]),
    (b'{"config": {"seed": 1.5}}', 400, ["seed", "integer"]),
    (b'{"config": {"rate": 0.1}}', 400, ["unknown key 'rate'"]),
    (b'{"config": {"lr": 0.1, "learning_rate": 0.3}}', 400, ["'learning_rate' is the old name "
                                                             "of 'lr'", "0.1", "0.3"]),
    (b'{"config": {"optimizer": "nesterov", "momentum": 0}}', 400, ["momentum: must be > 0",
                                                                    "nesterov"]),
    (b'{"config": {"optimizer": "bfgs"}}', 400, ["optimizer: must be one of"]),
    (b'{"config": {"dataset": "plane", "loss": "cross_entropy"}}', 400, ["cross_entropy"]),
    (b'{"nonsense": 1}', 400, ["unknown key"]),
    (b'{"compare_with": "nope"}', 404, ["not found"]),
    (b'{"config": {"lr": NaN}}', 400, ["lr"]),
])
def test_create_rejects_bad_input(client, body, status, words):
    msg = error_of(client.post("/api/sessions", content=body), status)
    for w in words:
        assert w in msg
    assert client.get("/api/health").json()["ok"]  # the server keeps serving


def test_oversized_body_is_413(client):
    sid = new(client)
    big = b'{"config": {"seed": 1}, "x": "' + b"a" * 1_100_000 + b'"}'
    error_of(client.patch(f"/api/sessions/{sid}/config", content=big), 413)
    assert client.get(f"/api/sessions/{sid}").status_code == 200


def test_user_limits_raise_the_bounds(client):
    sid = new(client, {"max_layers": 8, "max_neurons": 16,
                       "hidden": [16, 16, 16, 16, 16, 16, 16, 16]})
    cfg = client.get(f"/api/sessions/{sid}/config").json()
    assert len(cfg["hidden"]) == 8 and len(cfg["activation"]) == 8


def test_patch_config(client):
    sid = new(client)
    client.post(f"/api/sessions/{sid}/step", json={"epochs": 2})
    r = client.patch(f"/api/sessions/{sid}/config", json={"lr": 0.3})
    assert r.json()["reset"] == "none" and r.json()["config"]["lr"] == 0.3
    # The old name still works (links and scripts from before), the reply uses the new one.
    r = client.patch(f"/api/sessions/{sid}/config", json={"learning_rate": 0.1})
    assert r.json()["config"]["lr"] == 0.1 and "learning_rate" not in r.json()["config"]
    assert client.get(f"/api/sessions/{sid}").json()["epoch"] == 2
    r = client.patch(f"/api/sessions/{sid}/config", json={"hidden": [5]})
    assert r.json()["reset"] == "model" and r.json()["config"]["hidden"] == [5]
    assert client.get(f"/api/sessions/{sid}").json()["epoch"] == 0
    r = client.patch(f"/api/sessions/{sid}/config", json={"dataset": "spiral"})
    assert r.json()["reset"] == "data"
    msg = error_of(client.patch(f"/api/sessions/{sid}/config", json={"hidden": [5, 100]}),
                   400)
    assert "hidden[1]" in msg
    assert client.get(f"/api/sessions/{sid}/config").json()["hidden"] == [5]
    error_of(client.patch(f"/api/sessions/{sid}/config", content=b""), 400)
    error_of(client.patch(f"/api/sessions/{sid}/config", json=[1]), 400)
    error_of(client.patch("/api/sessions/nope/config", json={}), 404)


def test_play_pause_step_reset(client):
    sid = new(client)
    r = client.post(f"/api/sessions/{sid}/step")
    assert r.json() == {"status": "paused", "epoch": 1, "stop_reason": None, "epochs_done": 1,
                        "truncated": False}
    assert client.post(f"/api/sessions/{sid}/step", json={"epochs": 3}).json()["epoch"] == 4
    assert "epochs" in error_of(client.post(f"/api/sessions/{sid}/step",
                                            json={"epochs": 1001}), 400)
    assert "epochs" in error_of(client.post(f"/api/sessions/{sid}/step",
                                            json={"epochs": "2"}), 400)
    assert client.post(f"/api/sessions/{sid}/play").json()["status"] == "playing"
    time.sleep(0.3)
    r = client.post(f"/api/sessions/{sid}/pause").json()
    assert r["status"] == "paused" and r["epoch"] > 4
    assert client.post(f"/api/sessions/{sid}/reset").json() == {"status": "paused",
                                                                "epoch": 0,
                                                                "stop_reason": None}
    error_of(client.get(f"/api/sessions/{sid}/play"), 405)
    assert "Not Found" in error_of(client.post(f"/api/sessions/{sid}/jump"), 404)


def test_state_and_data(client):
    sid = new(client, {"dataset": "spiral", "n_classes": 3, "loss": "cross_entropy"})
    client.post(f"/api/sessions/{sid}/step")
    f = client.get(f"/api/sessions/{sid}/state").json()
    for key in ("epoch", "status", "train_loss", "test_loss", "train_accuracy",
                "test_accuracy", "confusion", "history", "layers", "heatmap", "neurons",
                "formulas", "weights", "grad_norms", "data_version", "lr"):
        assert key in f
    assert f["type"] == "state" and f["epoch"] == 1 and f["layers"] == [2, 4, 2, 3]
    assert len(f["heatmap"]["values"]) == 50 * 50 and len(f["heatmap"]["labels"]) == 2500
    assert len(f["weights"][0]["w"]) == 4 and len(f["weights"][0]["w"][0]) == 2
    d = client.get(f"/api/sessions/{sid}/data").json()
    assert d["type"] == "data" and d["n_classes"] == 3 and d["domain"] == [-6, 6]
    assert len(d["train"]["x"]) == 250 and len(d["test"]["y"]) == 250
    assert d["version"] == f["data_version"]


def test_points_add_and_clear(client):
    sid = new(client)
    r = client.delete(f"/api/sessions/{sid}/points").json()
    assert (r["n_train"], r["n_test"], r["config"]["dataset"]) == (0, 0, "custom")
    assert "no training points" in error_of(client.post(f"/api/sessions/{sid}/play"), 400)
    pts = [{"x1": 1, "x2": 2, "label": 1}, {"x1": -1, "x2": -2, "label": 0},
           {"x1": 0.5, "x2": 0.5, "label": 1, "split": "test"}]
    r = client.post(f"/api/sessions/{sid}/points", json={"points": pts}).json()
    assert (r["n_train"], r["n_test"]) == (2, 1)
    assert client.post(f"/api/sessions/{sid}/step").json()["epoch"] == 1
    for bad, words in [({"points": []}, ["points"]),
                       ({"points": [{"x1": 7, "x2": 0, "label": 0}]}, ["points[0].x1", "6"]),
                       ({"points": [{"x1": 0, "x2": 0, "label": 9}]}, ["label", "7"]),
                       ({"points": [{"x1": 0, "x2": 0, "label": 0, "split": "val"}]},
                        ["split"]),
                       ({"points": [{"x1": 0, "x2": 0}]}, ["label"]),
                       ({"points": [{"x1": 0, "x2": 0, "label": 0}] * 2001}, ["2000"])]:
        msg = error_of(client.post(f"/api/sessions/{sid}/points", json=bad), 400)
        assert all(w in msg for w in words), msg
    assert client.get(f"/api/sessions/{sid}/data").json()["test"]["y"] == [1]


def test_upload_csv(client):
    sid = new(client)
    rows = "".join(f"{(i % 10) - 4.5},{(i // 10) - 4.5},{int(i % 10 > 4)}\n"
                   for i in range(100))
    r = client.post(f"/api/sessions/{sid}/upload", content="x1,x2,label\n" + rows,
                    headers={"content-type": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.json()["n_train"] + r.json()["n_test"] == 100
    assert r.json()["config"]["dataset"] == "custom"
    r = client.post(f"/api/sessions/{sid}/upload", content="1,1,0.5,train\n2,2,1.5,test\n",
                    headers={"content-type": "text/csv; charset=utf-8"})
    assert (r.json()["n_train"], r.json()["n_test"]) == (1, 1)
    assert client.get(f"/api/sessions/{sid}/data").json()["task"] == "regression"
    cases = [
        ("1,2\n", 400, "row 1"), ("1,2,0\n1,x,0\n", 400, "row 2"),
        ("9,0,1\n", 400, "x1 must be in [-6, 6]"), ("", 400, "no data rows"),
        ("1,1,0,valid\n", 400, "split"),
        ("1,1,0\n" * 5001, 413, "5000 rows"),
        ("1,1,0\n" * 200_000, 413, "1000000 bytes"),
    ]
    for text, status, words in cases:
        msg = error_of(client.post(f"/api/sessions/{sid}/upload", content=text,
                                   headers={"content-type": "text/csv"}), status)
        assert words in msg, msg
    msg = error_of(client.post(f"/api/sessions/{sid}/upload", json={"a": 1}), 415)
    assert "text/csv" in msg
    error_of(client.post(f"/api/sessions/{sid}/upload", content=b"\xff\xfe\x00bad",
                         headers={"content-type": "text/csv"}), 400)
    assert client.get(f"/api/sessions/{sid}/data").json()["task"] == "regression"


def test_edit_weight(client):
    sid = new(client)
    r = client.put(f"/api/sessions/{sid}/weights", json={"layer": 1, "i": 1, "j": 3,
                                                          "value": -0.75})
    assert r.json() == {"layer": 1, "i": 1, "j": 3, "value": -0.75}
    client.put(f"/api/sessions/{sid}/weights", json={"layer": 0, "i": 2, "value": 0.5})
    f = client.get(f"/api/sessions/{sid}/state").json()
    assert f["weights"][1]["w"][1][3] == -0.75 and f["weights"][0]["b"][2] == 0.5
    for bad, word in [({"layer": 3, "i": 0, "j": 0, "value": 1}, "layer"),
                      ({"layer": 0, "i": 4, "j": 0, "value": 1}, "i"),
                      ({"layer": 0, "i": 0, "j": 2, "value": 1}, "j"),
                      ({"layer": 0, "i": 0, "j": 0, "value": 101}, "value"),
                      ({"layer": 0, "i": 0, "j": 0, "value": "1"}, "value"),
                      ({"layer": 0, "i": 0, "j": 0, "value": 1, "k": 0}, "weights: unknown key")]:
        assert error_of(client.put(f"/api/sessions/{sid}/weights", json=bad),
                        400).startswith(word)


def test_exports(client, tmp_path):
    sid = new(client, {"hidden": [3]})
    client.post(f"/api/sessions/{sid}/step", json={"epochs": 2})
    r = client.get(f"/api/sessions/{sid}/export/script")
    assert r.headers["content-type"].startswith("text/x-python")
    compile(r.text, "script.py", "exec")
    assert "nn.Linear(2, 3)" in r.text
    assert "optimizer = optim.create('sgd', model.parameters(), lr=LR)" in r.text
    r = client.get(f"/api/sessions/{sid}/export/weights")
    assert r.headers["content-type"] == "application/octet-stream"
    (tmp_path / "w.safetensors").write_bytes(r.content)
    state = bricks.io.load(tmp_path / "w.safetensors")
    f = client.get(f"/api/sessions/{sid}/state").json()
    w0 = state["0.weight"]
    w0 = w0.data if hasattr(w0, "data") else w0
    assert abs(float(w0[0][0]) - f["weights"][0]["w"][0][0]) < 1e-4
    r = client.get(f"/api/sessions/{sid}/export/data")
    assert r.headers["content-type"].startswith("text/csv")
    lines = io.StringIO(r.text).read().splitlines()
    assert lines[0] == "x1,x2,label,split" and len(lines) == 501
    error_of(client.get("/api/sessions/nope/export/weights"), 404)
    assert "export: unknown kind 'pickle'" in error_of(
        client.get(f"/api/sessions/{sid}/export/pickle"), 404)


def test_sessions_are_independent(client):
    a, b = new(client), new(client, {"dataset": "xor"})
    client.post(f"/api/sessions/{a}/step", json={"epochs": 3})
    client.patch(f"/api/sessions/{a}/config", json={"lr": 0.5})
    assert client.get(f"/api/sessions/{b}").json()["epoch"] == 0
    assert client.get(f"/api/sessions/{b}/config").json()["lr"] == 0.03
    assert client.get(f"/api/sessions/{a}/config").json()["dataset"] == "circle"


def test_compare_mode(client):
    a = new(client, {"dataset": "spiral", "noise": 10})
    b = new(client, {"optimizer": "adam", "activation": "relu"}, compare_with=a)
    info = client.get(f"/api/sessions/{b}").json()
    assert info["compare_with"] == a and info["config"]["optimizer"] == "adam"
    assert info["config"]["dataset"] == "spiral" and info["config"]["noise"] == 10
    da = client.get(f"/api/sessions/{a}/data").json()
    db = client.get(f"/api/sessions/{b}/data").json()
    assert da["train"] == db["train"] and da["test"] == db["test"]
    msg = error_of(client.post("/api/sessions", json={"compare_with": a,
                                                      "config": {"seed": 3}}), 400)
    assert "'seed' is a data key" in msg


def test_session_cap(client):
    ids = [new(client) for _ in range(4)]
    msg = error_of(client.post("/api/sessions", json={}), 429)
    assert "at most 4 sessions" in msg
    client.delete(f"/api/sessions/{ids[0]}")
    new(client)


def test_idle_sessions_are_freed():
    with make_client(create_app(idle_timeout=0.1)) as c:
        sid = new(c)
        time.sleep(0.3)
        assert c.get("/api/health").json()["sessions"] == 0
        error_of(c.get(f"/api/sessions/{sid}"), 404)


def test_websocket_messages(client):
    sid = new(client, {"fps": 20})
    with client.websocket_connect(f"ws://127.0.0.1/ws/{sid}") as ws:
        data = ws.receive_json()
        assert data["type"] == "data" and len(data["train"]["x"]) == 250
        state = ws.receive_json()
        assert state["type"] == "state" and state["epoch"] == 0
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
        ws.send_json({"type": "step", "epochs": 2})  # asynchronous: frames while it trains
        for _ in range(50):
            frame = ws.receive_json()
            assert frame["status"] in ("stepping", "paused") and frame["epoch"] <= 2
            if frame["status"] == "paused" and frame["epoch"] == 2:
                break
        assert (frame["status"], frame["epoch"]) == ("paused", 2)
        ws.send_json({"type": "config", "config": {"lr": 0.1}})
        assert ws.receive_json()["lr"] == 0.1
        for bad, word in [("{oops", "malformed JSON"), ('{"type": "fly"}', "unknown type"),
                          ('"play"', "type"),
                          ('{"type": "config", "config": {"hidden": [99]}}', "hidden[0]"),
                          ('{"type": "step", "epochs": 0}', "epochs")]:
            ws.send_text(bad)
            msg = ws.receive_json()
            assert msg["type"] == "error" and word in msg["error"], msg
        ws.send_json({"type": "config", "config": {"dataset": "xor"}})
        msg = ws.receive_json()
        assert msg["type"] == "data" and msg["version"] == 2  # new data first, then state
        assert ws.receive_json()["epoch"] == 0
        ws.send_json({"type": "play"})
        t0, frames, last = time.monotonic(), 0, None
        while time.monotonic() - t0 < 1.0:
            last = ws.receive_json()
            frames += 1
        assert last["status"] == "playing" and last["epoch"] > 5
        assert frames <= 22  # at most fps (20) frames a second, coalesced
        ws.send_json({"type": "pause"})
        while ws.receive_json()["status"] != "paused":
            pass
        ws.send_json({"type": "reset"})
        while ws.receive_json()["epoch"] != 0:
            pass
    assert client.get("/api/health").json()["ok"]


def test_websocket_unknown_session(client):
    with pytest.raises(WebSocketDisconnect) as err:
        with client.websocket_connect("ws://127.0.0.1/ws/nope") as ws:
            ws.receive_json()
    assert err.value.code == 4404


def test_closing_the_tab_frees_the_session(client):
    sid = new(client)
    with client.websocket_connect(f"ws://127.0.0.1/ws/{sid}") as ws:
        ws.receive_json()
        ws.send_json({"type": "play"})
        ws.receive_json()
    assert client.get(f"/api/sessions/{sid}").status_code == 200  # inside the grace period
    time.sleep(0.4)
    error_of(client.get(f"/api/sessions/{sid}"), 404)


def test_reconnect_within_grace_keeps_the_session(client):
    sid = new(client)
    with client.websocket_connect(f"ws://127.0.0.1/ws/{sid}") as ws:
        ws.receive_json()
    with client.websocket_connect(f"ws://127.0.0.1/ws/{sid}") as ws:
        ws.receive_json()
        time.sleep(0.4)
        assert client.get(f"/api/sessions/{sid}").status_code == 200


def test_delete_closes_the_socket(client):
    sid = new(client)
    with client.websocket_connect(f"ws://127.0.0.1/ws/{sid}") as ws:
        ws.receive_json()
        client.delete(f"/api/sessions/{sid}")
        with pytest.raises(WebSocketDisconnect):
            for _ in range(10):
                ws.receive_json()


def test_binds_to_loopback_by_default():
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(playground_main).parameters["host"].default == "127.0.0.1"


def test_websocket_binary_heatmap_frames(client):


    sid = new(client, {"dataset": "spiral", "n_classes": 3, "loss": "cross_entropy"})
    with client.websocket_connect(f"ws://127.0.0.1/ws/{sid}?heatmap=binary") as ws:
        kinds = {}
        for _ in range(6):
            msg = ws.receive()
            if msg.get("bytes") is not None:
                kinds["bytes"] = msg["bytes"]
            elif msg.get("text") is not None:
                body = json.loads(msg["text"])
                kinds[body["type"]] = body
            if {"bytes", "state", "data"} <= set(kinds):
                break
    blob, state = kinds["bytes"], kinds["state"]
    magic, epoch, data_version, size, flags, _, vmin, vmax = struct.unpack_from(
        "<4sIIHBBff", blob)
    assert (magic, epoch, size, flags, vmin, vmax) == (b"BKH1", 0, 50, 1, 0.0, 1.0)
    assert data_version == state["data_version"] and len(blob) == 24 + 2 * 2500
    # The JSON frame leaves the values out; the binary ones match the JSON state's to 1/255.
    assert "values" not in state["heatmap"] and state["heatmap"]["binary"] is True
    full = client.get(f"/api/sessions/{sid}/state").json()["heatmap"]
    values = [vmin + b * (vmax - vmin) / 255 for b in blob[24:24 + 2500]]
    assert max(abs(a - b) for a, b in zip(values, full["values"])) <= 0.5 / 255 + 1e-4
    assert list(blob[24 + 2500:]) == full["labels"]
