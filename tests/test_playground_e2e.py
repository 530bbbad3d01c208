"""End to end: the playground page in a real headless Chromium against the real server.

The server (``bricks.playground.server.create_app`` on uvicorn) runs in a background thread
on 127.0.0.1 and a free port; Playwright drives Debian's ``chromium`` (``executable_path``,
no downloaded browsers). The tests train spiral through the page until the accuracy it shows
passes 90 %, change the learning rate while it trains, reload a shared link, upload a CSV,
export the model, edit a weight, and run compare and classroom modes.

Set ``BRICKS_PLAYGROUND_SCREENSHOTS=docs/images`` to refresh the screenshots in the docs
(they are written to the test's tmp folder otherwise).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit
from urllib.request import Request, urlopen

import pytest

pytestmark = pytest.mark.slow

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)")
CHROMIUM = os.environ.get("BRICKS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set BRICKS_CHROMIUM)",
                allow_module_level=True)

import uvicorn  # noqa: E402  (after the skips: only needed when a browser exists)

from bricks.playground.server import create_app  # noqa: E402

# Debian's chromium in a closed sandbox: no GPU, no sandbox (root in CI), and no background
# networking (otherwise it keeps trying to reach update and sync servers).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1440, "height": 1000}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """The real playground app on uvicorn, loopback only, in a background thread."""
    port = _free_port()
    config = uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning",
                            ws="auto")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True, name="playground-e2e")
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def browser():
    # launch() gives Chromium a fresh temporary profile of its own.
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, server):
    """Open the page (with an optional URL hash) in a fresh context; fail on page errors."""
    contexts, errors = [], []

    def _open(hash_text: str = ""):
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda err: errors.append(f"page error: {err}"))
        page.on("console", lambda msg: errors.append(f"console: {msg.text}")
                if msg.type == "error" else None)
        page.goto(f"{server}/{'#' + hash_text if hash_text else ''}")
        page.wait_for_selector('body[data-ready="true"]', timeout=20_000)
        return page

    yield _open
    for context in contexts:
        context.close()
    assert not errors, errors


@pytest.fixture
def screenshot_dir(tmp_path):
    target = os.environ.get("BRICKS_PLAYGROUND_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        return Path(target)
    return tmp_path


def get_json(server, path):
    with urlopen(f"{server}{path}", timeout=10) as response:
        return json.loads(response.read())


def number(page, selector):
    """A number the page shows ("0.123", "97.5%"), or None while it shows a dash."""
    text = page.inner_text(selector).strip().replace(",", "")
    if not text or text in ("\u2013", "-"):
        return None
    return float(text.rstrip("%")) / (100 if text.endswith("%") else 1)


def wait_until(predicate, timeout, what, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def wait_config(page, js_condition, timeout=10_000):
    """Wait until the page holds a server config for which ``js_condition`` (on ``c``) holds."""
    page.wait_for_function(
        f"() => {{ const c = window.playground.a && window.playground.a.config; "
        f"return !!c && ({js_condition}); }}", timeout=timeout)


def session_id(page):
    return page.evaluate("window.playground.a.id")


def controls(page):
    """What the controls show: the values a shared link must bring back."""
    return page.evaluate("""() => ({
        dataset: document.querySelector('.dataset.selected')?.dataset.name,
        features: [...document.querySelectorAll('.node.feature[data-active="true"]')]
            .map((n) => n.id),
        layers: [...document.querySelectorAll('#layer-heads .layer-title')]
            .map((n) => n.textContent),
        per_layer_activation: [...document.querySelectorAll('[id^="activation-"]')]
            .map((n) => n.value),
        ids: Object.fromEntries(['learning-rate', 'activation', 'optimizer', 'loss', 'init',
            'regularization', 'reg-rate', 'noise', 'train-ratio', 'batch-size', 'seed',
            'n-points', 'n-classes'].map((id) => [id, document.getElementById(id).value])),
        show_test: document.getElementById('show-test').checked,
    })""")


def test_spiral_trains_live_learning_rate_and_shared_link(open_page, server, screenshot_dir):
    page = open_page()
    page.click('[data-testid="dataset-spiral"]')
    wait_config(page, "c.dataset === 'spiral'")
    # The network, set through the page: sin features, two hidden layers of 8, tanh, Adam.
    for feature in ("sinx1", "sinx2"):
        page.click(f'[data-testid="feature-{feature}"]')
        wait_config(page, f"c.features.includes('{feature}')")
    for layer, (have, want) in enumerate([(4, 8), (2, 8)]):
        for n in range(have + 1, want + 1):
            page.click(f'[data-testid="add-neuron-{layer}"]')
            wait_config(page, f"c.hidden[{layer}] === {n}")
    page.select_option('[data-testid="activation"]', "tanh")
    # The momentum control is live only for the optimizers that use it (the options say).
    for name, dim in (("momentum", False), ("rmsprop", True), ("adam", True)):
        page.select_option('[data-testid="optimizer"]', name)
        wait_config(page, f"c.optimizer === '{name}'")
        assert ("dim" in page.get_attribute("#momentum-box", "class")) == dim, name
    page.select_option('[data-testid="learning-rate"]', "0.03")
    page.check('[data-testid="show-test"]')
    sid = session_id(page)
    config = get_json(server, f"/api/sessions/{sid}/config")
    assert config["hidden"] == [8, 8] and config["activation"] == ["tanh", "tanh"]
    assert config["features"] == ["x1", "x2", "sinx1", "sinx2"]
    assert config["dataset"] == "spiral" and config["optimizer"] == "adam"

    # The loss of the initial weights (epoch 0), then play.
    first_loss = wait_until(lambda: number(page, "#test-loss"), 10, "the initial test loss")
    page.click('[data-testid="play"]')
    wait_until(lambda: number(page, "#epoch") >= 20, 30, "20 epochs")

    # Change the learning rate while it trains: the server takes it, training goes on.
    page.select_option('[data-testid="learning-rate"]', "0.01")
    wait_until(lambda: get_json(server, f"/api/sessions/{sid}/config")["lr"] == 0.01,
               10, "the server to take the new learning rate")
    epoch_at_change = number(page, "#epoch")
    wait_until(lambda: number(page, "#epoch") >= epoch_at_change + 10, 30,
               "training to continue after the learning-rate change")
    assert get_json(server, f"/api/sessions/{sid}")["status"] == "playing"

    accuracy = wait_until(lambda: (number(page, "#test-accuracy") or 0) > 0.9 and
                          number(page, "#test-accuracy"), 75, "test accuracy above 90 %")
    assert accuracy > 0.9
    assert number(page, "#test-loss") < 0.5 * first_loss, "the test loss did not fall"
    page.hover('[data-testid="node-1-0"]')
    page.wait_for_selector('[data-testid="hovercard"]:not([hidden])')
    assert page.inner_text('[data-testid="hover-formula"]').startswith("h1_0 = tanh(")
    page.screenshot(path=str(screenshot_dir / "playground.png"), full_page=True)
    page.click('[data-testid="play"]')  # pause
    wait_until(lambda: get_json(server, f"/api/sessions/{sid}")["status"] == "paused", 10,
               "pause")

    # The URL hash is a shareable link: a fresh tab opened on it gets the same configuration.
    shown = controls(page)
    link = page.input_value('[data-testid="share-link"]')
    assert link == page.url and "dataset=spiral" in link and "lr=0.01" in link
    page2 = open_page(link.split("#", 1)[1])
    wait_config(page2, "c.hidden.length === 2")
    assert session_id(page2) != sid
    assert controls(page2) == shown
    config2 = get_json(server, f"/api/sessions/{session_id(page2)}/config")
    assert config2 == get_json(server, f"/api/sessions/{sid}/config")


def test_upload_csv_export_and_edit_weight(open_page, server, tmp_path):
    page = open_page("hidden=4&features=x1,x2")
    sid = session_id(page)
    # Two clusters of three classes, with an explicit split column.
    rows = ["x1,x2,label,split"]
    for k in range(60):
        label = k % 3
        cx, cy = [(-3.0, -3.0), (3.0, -3.0), (0.0, 3.5)][label]
        rows.append(f"{cx + (k % 5) * 0.3:.2f},{cy + (k % 7) * 0.2:.2f},{label},"
                    f"{'test' if k % 4 == 0 else 'train'}")
    csv_path = tmp_path / "three_blobs.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    page.set_input_files('[data-testid="upload"]', str(csv_path))
    wait_config(page, "c.dataset === 'custom'")
    page.wait_for_function("() => window.playground.a.data && "
                           "window.playground.a.data.train.x.length === 45")
    data = get_json(server, f"/api/sessions/{sid}/data")
    assert (len(data["train"]["x"]), len(data["test"]["x"]), data["n_classes"]) == (45, 15, 3)
    page.wait_for_selector('[data-testid="node-2-2"]')  # three outputs (softmax) drawn
    assert "3-class" in page.inner_text('[data-testid="problem-type"]')
    page.click('[data-testid="step"]')
    wait_until(lambda: number(page, "#epoch") == 1, 10, "one step")

    # Export: the script downloads and is Python that rebuilds the model with bricks.
    with page.expect_download() as download:
        page.click('[data-testid="export-script"]')
    script = Path(download.value.path()).read_text()
    compile(script, "playground_model.py", "exec")
    assert "import bricks" in script
    weights = page.request.get(server + page.get_attribute('[data-testid="export-weights"]',
                                                           "href"))
    assert weights.ok
    body = weights.body()
    header_len = struct.unpack("<Q", body[:8])[0]  # safetensors: u64 length, JSON header
    header = json.loads(body[8:8 + header_len])
    assert any(key.endswith("weight") for key in header)
    # The script loads those weights by default and reproduces the playground's numbers.
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "bricks_playground_model.py").write_text(script)
    (folder / "bricks_playground.safetensors").write_bytes(body)
    run = subprocess.run([sys.executable, "bricks_playground_model.py"], cwd=folder,
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert run.returncode == 0, run.stderr
    shown = dict(p.rsplit(" ", 1) for p in run.stdout.strip().split(": ", 1)[1].split(", "))
    state = get_json(server, f"/api/sessions/{sid}/state")
    assert float(shown["test loss"]) == pytest.approx(state["test_loss"], rel=1e-5)
    assert float(shown["train loss"]) == pytest.approx(state["train_loss"], rel=1e-5)
    assert float(shown["test accuracy"]) == state["test_accuracy"]
    retrain = subprocess.run([sys.executable, "bricks_playground_model.py", "--retrain",
                              "--epochs", "1"], cwd=folder, capture_output=True, text=True,
                             timeout=120, env={**os.environ,
                                               "PYTHONPATH": os.pathsep.join(sys.path)})
    assert retrain.returncode == 0 and "epoch 1: train loss" in retrain.stdout, retrain.stderr
    csv_href = page.get_attribute('[data-testid="export-data"]', "href")
    csv_text = page.request.get(server + csv_href).text()
    assert csv_text.splitlines()[0] == "x1,x2,label,split" and len(csv_text.splitlines()) == 61

    # Click a link (weight 0 -> 0 of the first layer) and type a new value.
    page.click('[data-testid="link-0-0-0"]', force=True)
    page.fill('[data-testid="editor-input"]', "1.5")
    page.press('[data-testid="editor-input"]', "Enter")
    wait_until(lambda: get_json(server, f"/api/sessions/{sid}/state")["weights"][0]["w"][0][0]
               == 1.5, 10, "the edited weight")


def open_compare(open_page, server):
    # B's settings use the old name of lr, as links made before the rename do.
    b = quote("optimizer=sgd&learning_rate=0.1&activation=relu", safe="")
    page = open_page(f"dataset=xor&features=x1,x2&hidden=6,4&optimizer=adam&show_test=true"
                     f"&lr=0.03&compare={b}")
    page.wait_for_function("() => window.playground.b && window.playground.b.state")
    return page, session_id(page), page.evaluate("window.playground.b.id")


def epochs_shown(page):
    return int(page.inner_text("#epoch-a")), int(page.inner_text("#epoch-b"))


def test_compare_mode(open_page, server, screenshot_dir):
    page, a_id, b_id = open_compare(open_page, server)
    assert a_id != b_id
    assert get_json(server, f"/api/sessions/{b_id}")["compare_with"] == a_id
    b_config = get_json(server, f"/api/sessions/{b_id}/config")
    assert (b_config["optimizer"], b_config["lr"], b_config["activation"]) == \
        ("sgd", 0.1, ["relu", "relu"])
    assert b_config["hidden"] == [6, 4] and b_config["dataset"] == "xor"
    a_data = get_json(server, f"/api/sessions/{a_id}/data")
    assert get_json(server, f"/api/sessions/{b_id}/data")["train"] == a_data["train"]

    # B's own settings change only B.
    page.select_option('[data-testid="b-learning-rate"]', "0.3")
    wait_until(lambda: get_json(server, f"/api/sessions/{b_id}/config")["lr"] == 0.3,
               10, "B's learning rate")
    assert get_json(server, f"/api/sessions/{a_id}/config")["lr"] == 0.03
    # Step drives both; then 150 epochs each (one session after the other) for the picture.
    page.click('[data-testid="step"]')
    wait_until(lambda: epochs_shown(page) == (1, 1), 10, "one step of A and of B")
    for sid in (a_id, b_id):
        epoch = 1
        while epoch < 151:  # a step is bounded in time (step_timeout): repeat until done
            body = json.dumps({"epochs": 151 - epoch}).encode()
            step = Request(f"{server}/api/sessions/{sid}/step", data=body,
                           headers={"Content-Type": "application/json"})
            with urlopen(step, timeout=60) as response:
                reply = json.loads(response.read())
            assert reply["epochs_done"] > 0 and reply["truncated"] == (reply["epoch"] < 151)
            epoch = reply["epoch"]
    wait_until(lambda: epochs_shown(page) == (151, 151), 10, "the trained frames")
    for side in ("a", "b"):
        assert number(page, f"#test-loss-{side}") is not None
    assert number(page, "#test-loss-a") != number(page, "#test-loss-b")
    page.wait_for_timeout(300)
    page.screenshot(path=str(screenshot_dir / "playground-compare.png"), full_page=True)


def test_compare_mode_plays_both_at_once(open_page, server):
    page, a_id, b_id = open_compare(open_page, server)
    page.click('[data-testid="play"]')
    last = {"a": (0, time.monotonic()), "b": (0, time.monotonic())}

    def trained():
        for side, epoch in zip("ab", epochs_shown(page)):
            if epoch != last[side][0]:
                last[side] = (epoch, time.monotonic())
            assert epoch >= 100 or time.monotonic() - last[side][1] < 5, \
                f"{side.upper()} stopped training at epoch {epoch}"
        return min(epochs_shown(page)) >= 100

    wait_until(trained, 30, "A and B to train 100 epochs each")
    page.click('[data-testid="play"]')
    for sid in (a_id, b_id):
        wait_until(lambda sid=sid: get_json(server, f"/api/sessions/{sid}")["status"] ==
                   "paused", 10, "pause")


def test_classroom_mode_hides_controls(open_page):
    page = open_page("hide=learning_rate,optimizer,features")  # lr by its old name
    assert not page.is_visible('[data-testid="learning-rate"]')
    assert not page.is_visible('[data-testid="optimizer"]')
    assert page.is_visible('[data-testid="activation"]')
    page.check('[data-testid="classroom-toggle"]')
    assert page.is_checked('[data-testid="hide-optimizer"]')
    page.uncheck('[data-testid="hide-optimizer"]')
    assert page.is_visible('[data-testid="optimizer"]')
    page.check('[data-testid="hide-noise"]')
    assert not page.is_visible('[data-testid="noise"]')
    hidden = parse_qs(urlsplit(page.url).fragment)["hide"][0].split(",")
    assert sorted(hidden) == ["features", "lr", "noise"]
    # Hidden features: the unused ones vanish and the used ones cannot be switched off.
    assert not page.is_visible('[data-testid="feature-x1sq"]')
    page.click('[data-testid="feature-x1"]')
    page.wait_for_timeout(300)
    assert page.evaluate("window.playground.a.config.features") == ["x1", "x2"]


# ----------------------------------------------------------------- issue 14: what a new
# user noticed, each with the browser test that would have caught it.

def open_at(browser, server, width, height, hash_text=""):
    """A page in a fresh context of the given viewport; returns (page, context, errors)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda err: errors.append(f"page error: {err}"))
    page.goto(f"{server}/{'#' + hash_text if hash_text else ''}")
    page.wait_for_selector('body[data-ready="true"]', timeout=20_000)
    return page, context, errors


def test_compare_pause_frees_the_play_button(open_page, server):
    page, a_id, b_id = open_compare(open_page, server)
    page.click('[data-testid="play"]')
    page.wait_for_selector('[data-testid="play"][data-playing="true"]', timeout=10_000)
    page.click('[data-testid="play"]')  # pause
    for sid in (a_id, b_id):
        wait_until(lambda sid=sid: get_json(server, f"/api/sessions/{sid}")["status"] ==
                   "paused", 10, "pause")
    # The button comes back to play (it used to stick on pause, sending pause again).
    page.wait_for_selector('[data-testid="play"][data-playing="false"]', timeout=10_000)
    page.click('[data-testid="play"]')
    for sid in (a_id, b_id):
        wait_until(lambda sid=sid: get_json(server, f"/api/sessions/{sid}")["status"] ==
                   "playing", 10, "play again")
    page.click('[data-testid="play"]')
    page.wait_for_selector('[data-testid="play"][data-playing="false"]', timeout=10_000)


SHOWN_CONTROLS = "[...document.querySelectorAll('#controls > *')].filter((n) => n.offsetParent)"
SIZES = [(390, 844), (768, 1024), (1024, 768), (1280, 800), (1920, 1080)]


def test_layout_fits_every_screen(browser, server, screenshot_dir):
    for width, height in SIZES:
        page, context, errors = open_at(browser, server, width, height,
                                        "dataset=spiral&hidden=8,8,6&features=x1,x2,sinx1")
        page.wait_for_function("() => window.playground.a.state")
        page.wait_for_timeout(300)
        box = page.evaluate("""() => {
            const r = (id) => document.getElementById(id).getBoundingClientRect();
            const nodes = [...document.querySelectorAll('#nodes .node')].map((n) => {
                const b = n.getBoundingClientRect(); return [b.left, b.top, b.right, b.bottom];
            });
            return {scroll: document.documentElement.scrollWidth, inner: innerWidth,
                    compare: r('compare-toggle').right, classroom: r('classroom-toggle').right,
                    network: r('network-col'), output: r('output-col'),
                    networkBox: [document.getElementById('network').scrollWidth,
                                 document.getElementById('network').clientWidth],
                    nodes};
        }""")
        assert box["scroll"] <= box["inner"], (width, "the page scrolls sideways", box)
        assert box["compare"] <= width and box["classroom"] <= width, (width, box)
        # Layer heads (+/-, activation, dropout, BN) do not run into each other.
        heads = page.evaluate("[...document.querySelectorAll('#layer-heads .layer-head')]"
                              ".map((h) => { let l = Infinity, r = -Infinity; "
                              "for (const n of h.querySelectorAll('*')) { "
                              "const b = n.getBoundingClientRect(); if (b.width) { "
                              "l = Math.min(l, b.left); r = Math.max(r, b.right); } } "
                              "return [l, r]; })")
        for (_, right), (left, _) in zip(heads, heads[1:]):
            assert right <= left, (width, "layer heads touch", heads)
        # Neurons never overlap (the network scrolls in its own box instead of squeezing).
        nodes = box["nodes"]
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], \
                    (width, "overlapping neurons", a, b)
        if width >= 1024:  # three columns: the output beside the network, not below
            assert abs(box["output"]["top"] - box["network"]["top"]) < 2, (width, box)
        if width >= 1280:  # one row of controls that does not move with the status text
            tops = page.evaluate(f"{SHOWN_CONTROLS}.map((n) => "
                                 "Math.round(n.getBoundingClientRect().top))")
            assert max(tops) - min(tops) < 30, (width, "the control bar wraps", tops)
            before = page.evaluate(f"{SHOWN_CONTROLS}.map((n) => "
                                   "Math.round(n.getBoundingClientRect().left))")
            page.evaluate("document.getElementById('status').textContent = "
                          "'stopped: target loss reached after a long time'")
            after = page.evaluate(f"{SHOWN_CONTROLS}.map((n) => "
                                  "Math.round(n.getBoundingClientRect().left))")
            assert before == after, (width, "the controls jump with the status text")
        # Metric values stay on their labels' line, inside their column.
        heights = page.evaluate("[...document.querySelectorAll('#output-col .metrics > div')]"
                                ".map((n) => n.getBoundingClientRect().height)")
        assert max(heights) < 24, (width, "a metric value wraps", heights)
        for col in ("data-col", "network-col", "output-col"):
            over = page.evaluate(f"(() => {{ const c = document.getElementById('{col}'); "
                                 f"return [c.scrollWidth, c.clientWidth]; }})()")
            assert over[0] <= over[1], (width, col, "content overflows its column", over)
        # The heatmap is painted at display resolution, interpolated (no stair steps).
        smooth = page.evaluate("""(() => {
            const c = document.getElementById('heatmap');
            const row = c.getContext('2d').getImageData(0, Math.floor(c.height / 3),
                                                         c.width, 1).data;
            const colours = new Set();
            for (let i = 0; i < row.length; i += 4) {
                colours.add(row[i] * 65536 + row[i + 1] * 256 + row[i + 2]);
            }
            return [c.width, colours.size]; })()""")
        assert smooth[0] >= 200 and smooth[1] > 60, (width, "heatmap not interpolated", smooth)
        # On a phone the less used controls collapse behind "More settings".
        if width < 600:
            assert not page.is_visible('[data-testid="optimizer"]')
            page.click('[data-testid="more-controls"]')
            assert page.is_visible('[data-testid="optimizer"]')
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.click('[data-testid="more-controls"]')
        else:
            assert page.is_visible('[data-testid="optimizer"]')
            assert not page.is_visible('[data-testid="more-controls"]')
        page.screenshot(path=str(screenshot_dir / f"playground-{width}.png"))
        context.close()
        assert not errors, errors


def test_opened_panels_scroll_into_view(browser, server):
    page, context, errors = open_at(browser, server, 1280, 800)
    page.check('[data-testid="compare-toggle"]')
    page.wait_for_function("() => window.playground.b && window.playground.b.state")
    top = page.evaluate("document.getElementById('compare').getBoundingClientRect().top")
    assert 0 <= top < 800 - 80, f"the compare panel opened off-screen (top {top})"
    page.evaluate("window.scrollTo(0, 0)")
    page.check('[data-testid="classroom-toggle"]')
    page.wait_for_timeout(200)
    top = page.evaluate("document.getElementById('classroom').getBoundingClientRect().top")
    assert 0 <= top < 800 - 80, f"the classroom panel opened off-screen (top {top})"
    context.close()
    assert not errors, errors


def test_problem_type_switches_the_loss_and_back(open_page, server):
    page = open_page("loss=cross_entropy")
    wait_config(page, "c.loss === 'cross_entropy'")
    page.click('[data-testid="dataset-plane"]')  # regression: cross-entropy has no meaning
    wait_config(page, "c.dataset === 'plane' && c.loss === 'mse'")
    assert page.is_hidden('[data-testid="message"]') or \
        "cross_entropy" not in page.inner_text('[data-testid="message"]')
    page.click('[data-testid="dataset-circle"]')
    wait_config(page, "c.dataset === 'circle' && c.loss === 'cross_entropy'")
    assert get_json(server, f"/api/sessions/{session_id(page)}/config")["loss"] == \
        "cross_entropy"


def test_heatmap_arrives_as_binary_frames_painted_per_animation_frame(open_page, server):
    page = open_page()
    page.wait_for_function("() => window.playground.a.heatmap")
    hm = page.evaluate("(() => { const h = window.playground.a.heatmap; return {size: "
                       "h.size, n: h.values.length, vmin: h.vmin, vmax: h.vmax}; })()")
    assert hm == {"size": 50, "n": 2500, "vmin": 0, "vmax": 1}
    # The JSON state frames no longer carry the 2500 values.
    assert page.evaluate("window.playground.a.state.heatmap.values") is None
    pixels = "Array.from(document.getElementById('heatmap').getContext('2d')" \
             ".getImageData(0, 0, 50, 50).data.slice(0, 4000))"
    before = page.evaluate(pixels)
    frames0, paints0 = page.evaluate("[window.playground.a.heatmapFrames, "
                                     "window.playground.heatmapPaints]")
    page.click('[data-testid="play"]')
    # Wait for frames, not only epochs: compiled training does 30 epochs in a fraction of
    # a second, less than the ten frames' time (at most 60 a second).
    wait_until(lambda: number(page, "#epoch") >= 30 and page.evaluate(
        "window.playground.heatmapPaints") - paints0 >= 12, 30, "30 epochs and 12 paints")
    page.click('[data-testid="play"]')
    frames1, paints1 = page.evaluate("[window.playground.a.heatmapFrames, "
                                     "window.playground.heatmapPaints]")
    assert frames1 - frames0 >= 10 and paints1 - paints0 >= 10, (frames1, paints1)
    assert paints1 - paints0 <= frames1 - frames0  # at most one paint per frame received
    assert page.evaluate(pixels) != before, "the heatmap was not repainted"


def test_add_points_by_clicking_and_per_layer_dropout_and_batch_norm(open_page, server):
    page = open_page("hidden=4,3")
    sid = session_id(page)
    page.click('[data-testid="clear-points"]')
    wait_config(page, "c.dataset === 'custom'")
    page.select_option('[data-testid="add-class"]', "1")
    box = page.locator('[data-testid="points"]').bounding_box()
    # A click at 3/4 across and 1/4 down is the point (3, 3) of the [-6, 6] plane.
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] * 0.25)
    page.select_option('[data-testid="add-class"]', "0")
    page.select_option('[data-testid="add-split"]', "test")
    page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.75)
    wait_until(lambda: len(get_json(server, f"/api/sessions/{sid}/data")["test"]["x"]) == 1,
               10, "two clicked points")
    data = get_json(server, f"/api/sessions/{sid}/data")
    (x1, x2), = data["train"]["x"]
    assert abs(x1 - 3) < 0.1 and abs(x2 - 3) < 0.1 and data["train"]["y"] == [1]
    (x1, x2), = data["test"]["x"]
    assert abs(x1 + 3) < 0.1 and abs(x2 + 3) < 0.1 and data["test"]["y"] == [0]
    # Per-layer options, through the page's own inputs.
    page.fill('[data-testid="dropout-0"]', "0.3")
    page.press('[data-testid="dropout-0"]', "Tab")
    wait_config(page, "c.dropout[0] === 0.3 && c.dropout[1] === 0")
    page.check('[data-testid="batch-norm-1"]')
    wait_config(page, "c.batch_norm[0] === false && c.batch_norm[1] === true")
    config = get_json(server, f"/api/sessions/{sid}/config")
    assert config["dropout"] == [0.3, 0.0] and config["batch_norm"] == [False, True]
    assert page.input_value('[data-testid="dropout-0"]') == "0.3"
    assert page.is_checked('[data-testid="batch-norm-1"]')
    formulas = get_json(server, f"/api/sessions/{sid}/state")["formulas"]
    assert formulas[2][0].startswith("h2_0 = tanh(BN(")


def test_small_visual_fixes(open_page, server):
    page = open_page("dataset=spiral&n_classes=3&loss=cross_entropy")
    page.wait_for_function("() => window.playground.a.heatmap && window.playground.a.data")
    # A class legend for k classes (the diverging colour bar means nothing there).
    page.wait_for_selector('[data-testid="class-legend"]:not([hidden])')
    assert page.inner_text('[data-testid="class-legend"]').split() == \
        ["0", "class", "0", "1", "class", "1", "2", "class", "2"]
    assert page.is_hidden("#colorbar")
    # Tiles say how many classes, not "k classes".
    assert page.inner_text('[data-testid="dataset-spiral"] .task') == "3 classes"
    assert page.inner_text('[data-testid="dataset-blobs"] .task') == "3 classes"
    # Points stay visible on a k-class map: the map is pale where the points are coloured.
    sat = page.evaluate("""(() => {
        const d = document.getElementById('heatmap').getContext('2d')
            .getImageData(0, 0, 50, 50).data;
        let m = 0;
        for (let i = 0; i < d.length; i += 4) {
            const hi = Math.max(d[i], d[i + 1], d[i + 2]), lo = Math.min(d[i], d[i + 1], d[i + 2]);
            m = Math.max(m, (hi - lo) / 255);
        }
        return m; })()""")
    assert sat < 0.5, f"the k-class map is saturated ({sat:.2f})"
    # The corner's "-6" is written once, for both axes.
    texts = page.evaluate("""(() => {
        const texts = [];
        const ctx = document.getElementById('points').getContext('2d');
        const orig = ctx.fillText;
        ctx.fillText = function (t, x, y) {
            texts.push(String(t)); return orig.call(this, t, x, y); };
        document.getElementById('show-test').click();
        ctx.fillText = orig;
        return texts; })()""")
    assert texts.count("-6") == 1 and texts.count("6") == 2, texts
    # The confusion matrix says which counts it shows: training when there is no test set.
    assert page.inner_text('[data-testid="confusion-title"]') == "Confusion matrix (test)"
    page.fill('[data-testid="train-ratio"]', "90")
    page.click('[data-testid="clear-points"]')
    wait_config(page, "c.dataset === 'custom'")
    page.select_option('[data-testid="add-class"]', "0")
    box = page.locator('[data-testid="points"]').bounding_box()
    for k, cls in enumerate(["0", "1", "2"]):
        page.select_option('[data-testid="add-class"]', cls)
        page.mouse.click(box["x"] + box["width"] * (0.2 + 0.3 * k), box["y"] + box["height"] / 2)
    page.wait_for_function("() => window.playground.a.data.train.x.length === 3")
    page.click('[data-testid="step"]')
    page.wait_for_function("() => document.getElementById('confusion-title').textContent"
                           " === 'Confusion matrix (training)'")


def test_hover_card_does_not_stick_after_a_redraw(open_page):
    page = open_page()
    page.wait_for_function("() => window.playground.a.state")
    page.hover('[data-testid="node-1-0"]')
    page.wait_for_selector('[data-testid="hovercard"]:not([hidden])')
    # Redraw the network under the pointer (the mouse does not move, so no mouseleave),
    # then let state frames arrive: the card must not jump to the top-left corner.
    page.evaluate("document.getElementById('add-layer').click()")
    page.wait_for_function("() => window.playground.a.config.hidden.length === 3 && "
                           "window.playground.a.state")
    page.wait_for_timeout(500)
    card = page.evaluate("(() => { const c = document.getElementById('hovercard'); "
                         "const r = c.getBoundingClientRect(); "
                         "return {hidden: c.hidden, left: r.left, top: r.top}; })()")
    assert card["hidden"] or (card["left"] > 40 and card["top"] > 40), card


def test_regression_points_have_an_outline(open_page):
    page = open_page("dataset=plane")
    page.wait_for_function("() => window.playground.a.data && "
                           "window.playground.a.data.task === 'regression'")
    strokes = page.evaluate("""(() => {
        const seen = new Set();
        const ctx = document.getElementById('points').getContext('2d');
        const orig = ctx.stroke;
        ctx.stroke = function () { seen.add(this.strokeStyle); return orig.call(this); };
        document.getElementById('show-test').click();
        ctx.stroke = orig;
        return [...seen]; })()""")
    assert "#ffffff" not in strokes, f"white outlines vanish on a pale map: {strokes}"


def test_classroom_switch_can_be_hidden_for_students(open_page):
    page = open_page("hide=lr,classroom")
    assert not page.is_visible('[data-testid="learning-rate"]')
    assert not page.is_visible('[data-testid="classroom-toggle"]')
