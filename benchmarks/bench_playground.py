"""Playground speed: training epochs per second and heatmap frames per second.

    python benchmarks/bench_playground.py            # about 10 seconds
    python benchmarks/bench_playground.py --quick    # smoke run, rough numbers

The workload is TensorFlow Playground's default: a 2-4-2-1 tanh network on 500 circle
points (250 to train, batch 10, so 25 SGD steps an epoch, then the train and test loss).
Three figures:

* ``train only``: epochs per second of ``Session.step`` (no frames built), with each
  update run as a ``bricks.compile`` plan (the playground's default) and eagerly
  (``Session(compile=False)``), measured alternately in the same process: the ratio is the
  figure to read on a shared machine;
* ``frames only``: full state frames per second (``Session.snapshot``: the 50x50 output
  heatmap, a thumbnail per neuron, formulas, weights, confusion matrices), JSON-encoded as
  the WebSocket sends them;
* ``playing + 15 frames/s``: epochs per second of the background training thread while a
  second thread builds and encodes a frame 15 times a second, as the server does for one
  open tab.

* ``live, binary heatmaps``: the real server on uvicorn (its own process, 127.0.0.1, a free
  port) and a real WebSocket client (the ``websockets`` package) that presses play and
  counts what arrives: binary heatmap frames a second (``?heatmap=binary``, as the page
  asks), epochs a second (from the frames' epoch field), and bytes per frame;
* ``live, JSON frames``: the same without ``?heatmap=binary`` (JSON state frames only, at
  most ``fps`` = 15 a second, as before).

Targets (issue 14): at least 30 heatmap updates a second while training at least 30 epochs
a second, over the real server and client.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import subprocess
import sys
import threading
import time

from bricks.playground.session import Session

TARGET_EPOCHS, TARGET_FRAMES = 30.0, 30.0


def _rate(fn, seconds):
    fn()  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def train_only(seconds, compile=True):  # noqa: A002
    s = Session(compile=compile)
    s.step(3)  # bricks.compile traces the first two updates of each batch shape
    return _rate(lambda: s.step(1), seconds)


def train_compiled_vs_eager(seconds, rounds=3):
    """(compiled epochs/s, eager epochs/s): the best of ``rounds`` alternate runs each."""
    compiled, eager = [], []
    for _ in range(rounds):
        compiled.append(train_only(seconds / rounds, True))
        eager.append(train_only(seconds / rounds, False))
    return max(compiled), max(eager)


def frames_only(seconds):
    s = Session()
    s.step(5)
    return _rate(lambda: json.dumps(s.snapshot()), seconds)


def playing_with_frames(seconds, fps=15):
    s = Session({"fps": fps})
    frames = []
    done = threading.Event()

    def viewer():
        while not done.is_set():
            t = time.perf_counter()
            json.dumps(s.snapshot())
            frames.append(time.perf_counter())
            done.wait(max(0.0, 1.0 / fps - (time.perf_counter() - t)))

    s.play()
    time.sleep(0.2)
    e0, t0 = s.epoch, time.perf_counter()
    watcher = threading.Thread(target=viewer)
    watcher.start()
    time.sleep(seconds)
    e1, t1 = s.epoch, time.perf_counter()
    done.set()
    watcher.join()
    s.pause()
    shown = sum(t0 <= t <= t1 for t in frames)
    return (e1 - e0) / (t1 - t0), shown / (t1 - t0)


def _serve():
    """The playground on uvicorn in its own process (as for a user, whose browser is
    another process too); returns (host:port, stop)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code = ("from bricks.playground.server import serve; "
            f"serve(port={port}, open_browser=False)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/health")
            conn.getresponse().read()
            conn.close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("the playground server did not start") from None
            time.sleep(0.1)

    def stop():
        proc.terminate()
        proc.wait(timeout=20)
    return f"127.0.0.1:{port}", stop


def _post(host, path, body):
    conn = http.client.HTTPConnection(host, timeout=30)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    reply = json.loads(conn.getresponse().read())
    conn.close()
    return reply


def live(seconds, binary):
    """(epochs/s, heatmap updates/s, bytes per update) over uvicorn and a real client."""
    from websockets.sync.client import connect

    host, stop = _serve()
    try:
        sid = _post(host, "/api/sessions", {})["id"]
        query = "?heatmap=binary" if binary else ""
        with connect(f"ws://{host}/ws/{sid}{query}", origin=f"http://{host}",
                     max_size=None) as ws:
            ws.send(json.dumps({"type": "play"}))
            t_end = time.perf_counter() + 0.3 + max(seconds, 1.0)
            t0 = t1 = None
            first = last = None
            frames = size = 0
            while time.perf_counter() < t_end:
                try:
                    msg = ws.recv(timeout=max(0.1, t_end - time.perf_counter()))
                except TimeoutError:
                    break
                now = time.perf_counter()
                if binary and isinstance(msg, bytes):
                    epoch = int.from_bytes(msg[4:8], "little")
                elif not binary and isinstance(msg, str) and '"type": "state"' in msg[:40]:
                    epoch = json.loads(msg)["epoch"]
                else:
                    continue
                if t0 is None:
                    if epoch > 0:
                        t0, first = now, epoch
                    continue
                frames += 1
                size += len(msg)
                last = epoch
                t1 = now
            ws.send(json.dumps({"type": "pause"}))
        if not frames:
            return 0.0, 0.0, 0.0
        elapsed = t1 - t0
        return (last - first) / elapsed, frames / elapsed, size / max(frames, 1)
    finally:
        stop()


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description="playground speed")
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args(argv)
    seconds = 0.3 if args.quick else args.seconds
    epochs, eager_epochs = train_compiled_vs_eager(seconds)
    frames = frames_only(seconds)
    play_epochs, play_frames = playing_with_frames(seconds)
    bin_epochs, bin_frames, bin_bytes = live(seconds, binary=True)
    js_epochs, js_frames, js_bytes = live(seconds, binary=False)
    rows = [
        ("train only (bricks.compile, the default)", f"{epochs:.0f} epochs/s", "", ""),
        ("train only, eager", f"{eager_epochs:.0f} epochs/s "
         f"(compiled: {epochs / eager_epochs:.2f}x)", "", ""),
        ("frames only (JSON state)", "", f"{frames:.0f} frames/s", ""),
        ("playing + 15 frames/s", f"{play_epochs:.0f} epochs/s", f"{play_frames:.1f} frames/s",
         ""),
        ("live, binary heatmaps (uvicorn + client)", f"{bin_epochs:.0f} epochs/s",
         f"{bin_frames:.1f} heatmaps/s", f"{bin_bytes / 1024:.1f} KiB"),
        ("live, JSON frames (uvicorn + client)", f"{js_epochs:.0f} epochs/s",
         f"{js_frames:.1f} frames/s", f"{js_bytes / 1024:.1f} KiB"),
    ]
    table = ("| workload | training | heatmap updates | per update |\n| --- | --- | --- | --- |\n"
             + "".join(f"| {a} | {b} | {c} | {d} |\n" for a, b, c, d in rows))
    ok = bin_epochs >= TARGET_EPOCHS and bin_frames >= TARGET_FRAMES
    print("bricks playground, default network 2-4-2-1 on 500 points, batch 10")
    print(table)
    print(f"target (live, binary): >= {TARGET_EPOCHS:.0f} epochs/s with >= "
          f"{TARGET_FRAMES:.0f} heatmap updates/s: {'met' if ok else 'NOT met'}")
    return table


if __name__ == "__main__":
    main()
