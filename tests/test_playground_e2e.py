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
    page.select_option('[data-testid="optimizer"]', "adam")
    wait_config(page, "c.optimizer === 'adam'")
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
    wait_until(lambda: get_json(server, f"/api/sessions/{sid}/config")["learning_rate"] == 0.01,
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
    assert link == page.url and "dataset=spiral" in link
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
    b = quote("optimizer=sgd&learning_rate=0.1&activation=relu", safe="")
    page = open_page(f"dataset=xor&features=x1,x2&hidden=6,4&optimizer=adam&show_test=true"
                     f"&learning_rate=0.03&compare={b}")
    page.wait_for_function("() => window.playground.b && window.playground.b.state")
    return page, session_id(page), page.evaluate("window.playground.b.id")


def epochs_shown(page):
    return int(page.inner_text("#epoch-a")), int(page.inner_text("#epoch-b"))


def test_compare_mode(open_page, server, screenshot_dir):
    page, a_id, b_id = open_compare(open_page, server)
    assert a_id != b_id
    assert get_json(server, f"/api/sessions/{b_id}")["compare_with"] == a_id
    b_config = get_json(server, f"/api/sessions/{b_id}/config")
    assert (b_config["optimizer"], b_config["learning_rate"], b_config["activation"]) == \
        ("sgd", 0.1, ["relu", "relu"])
    assert b_config["hidden"] == [6, 4] and b_config["dataset"] == "xor"
    a_data = get_json(server, f"/api/sessions/{a_id}/data")
    assert get_json(server, f"/api/sessions/{b_id}/data")["train"] == a_data["train"]

    # B's own settings change only B.
    page.select_option('[data-testid="b-learning-rate"]', "0.3")
    wait_until(lambda: get_json(server, f"/api/sessions/{b_id}/config")["learning_rate"] == 0.3,
               10, "B's learning rate")
    assert get_json(server, f"/api/sessions/{a_id}/config")["learning_rate"] == 0.03
    # Step drives both; then 150 epochs each (one session after the other) for the picture.
    page.click('[data-testid="step"]')
    wait_until(lambda: epochs_shown(page) == (1, 1), 10, "one step of A and of B")
    for sid in (a_id, b_id):
        step = Request(f"{server}/api/sessions/{sid}/step", data=b'{"epochs": 150}',
                       headers={"Content-Type": "application/json"})
        with urlopen(step, timeout=60) as response:
            assert json.loads(response.read())["epoch"] == 151
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
    page = open_page("hide=learning_rate,optimizer,features")
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
    assert sorted(hidden) == ["features", "learning_rate", "noise"]
    # Hidden features: the unused ones vanish and the used ones cannot be switched off.
    assert not page.is_visible('[data-testid="feature-x1sq"]')
    page.click('[data-testid="feature-x1"]')
    page.wait_for_timeout(300)
    assert page.evaluate("window.playground.a.config.features") == ["x1", "x2"]
