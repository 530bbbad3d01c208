"""Playground speed: training epochs per second and heatmap frames per second.

    python benchmarks/bench_playground.py            # about 10 seconds
    python benchmarks/bench_playground.py --quick    # smoke run, rough numbers

The workload is TensorFlow Playground's default: a 2-4-2-1 tanh network on 500 circle
points (250 to train, batch 10, so 25 SGD steps an epoch, then the train and test loss).
Three figures:

* ``train only``: epochs per second of ``Session.step`` (no frames built);
* ``frames only``: full state frames per second (``Session.snapshot``: the 50x50 output
  heatmap, a thumbnail per neuron, formulas, weights, confusion matrices), JSON-encoded as
  the WebSocket sends them;
* ``playing + 15 frames/s``: epochs per second of the background training thread while a
  second thread builds and encodes a frame 15 times a second, as the server does for one
  open tab.

Targets from the playground issue: at least 30 epochs/s with the heatmap refreshed at least
10 times a second.
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from bricks.playground.session import Session

TARGET_EPOCHS, TARGET_FRAMES = 30.0, 10.0


def _rate(fn, seconds):
    fn()  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def train_only(seconds):
    s = Session()
    return _rate(lambda: s.step(1), seconds)


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


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description="playground speed")
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args(argv)
    seconds = 0.3 if args.quick else args.seconds
    epochs = train_only(seconds)
    frames = frames_only(seconds)
    play_epochs, play_frames = playing_with_frames(seconds)
    rows = [
        ("train only", f"{epochs:.0f} epochs/s", ""),
        ("frames only", "", f"{frames:.0f} frames/s"),
        ("playing + 15 frames/s", f"{play_epochs:.0f} epochs/s", f"{play_frames:.1f} frames/s"),
    ]
    table = "| workload | training | heatmap frames |\n| --- | --- | --- |\n" + "".join(
        f"| {a} | {b} | {c} |\n" for a, b, c in rows)
    ok = play_epochs >= TARGET_EPOCHS and play_frames >= TARGET_FRAMES
    print("bricks playground, default network 2-4-2-1 on 500 points, batch 10")
    print(table)
    print(f"targets: >= {TARGET_EPOCHS:.0f} epochs/s with >= {TARGET_FRAMES:.0f} heatmaps/s: "
          f"{'met' if ok else 'NOT met'}")
    return table


if __name__ == "__main__":
    main()
