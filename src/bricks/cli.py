"""The ``bricks`` command: train, evaluate and use a model without writing code.

    bricks train                      an MLP on the bundled MNIST digits, ~97% in seconds
    bricks train --data moons --model mlp:16,16 --epochs 50 --out runs/moons
    bricks evaluate runs/run-001      loss and metrics on the run's held-out test split
    bricks predict runs/run-001 digit.png
    bricks datasets                   what ``--data`` accepts

A run folder holds ``checkpoint.safetensors`` (weights, optimizer, scaler, random state and,
in its metadata, the configuration and data description that rebuild the model),
``config.toml``, ``history.csv``, ``history.json`` and PNG plots.  See docs/cli.md.

Errors the user can fix (a bad option, an unknown dataset, a missing or corrupt file) end
with one line ``bricks: error: ...`` on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import math
import os
import sys
import time
import warnings
from pathlib import Path

from bricks.backend import manual_seed, xp

__all__ = ["main", "build_parser", "DEFAULTS"]

CHECKPOINT = "checkpoint.safetensors"

DEFAULTS = {
    "data": "mnist",
    "target": None,
    "task": None,
    "model": "mlp:512,256",
    "activation": "relu",
    "dropout": 0.2,
    "batch_norm": False,
    "compile": False,
    "optimizer": "adam",
    "lr": None,            # None: the optimizer's own default (OPTIMIZERS)
    "epochs": 30,
    "batch_size": 128,
    "seed": 0,
    "test_size": 0.15,
    "scaler": "standard",
    "target_scaler": "standard",  # regression targets: standardized, predictions mapped back
    "augment": None,       # None: shift by 1 pixel for image data, nothing otherwise
    "image_size": None,    # --data FOLDER: resize every image to HxW (None: keep)
    "image_mode": "RGB",   # --data FOLDER: RGB or L (grey)
    "schedule": "cosine",
    "threads": 1,
    "out": None,
    "quiet": False,
}
"""Every option of ``bricks train`` and its default; a ``--config`` file may set each."""

# name -> (class name in bricks.optim, default lr, extra keyword arguments)
OPTIMIZERS = {
    "sgd": ("SGD", 0.1, {}),
    "momentum": ("SGD", 0.05, {"momentum": 0.9}),
    "nesterov": ("SGD", 0.05, {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", 0.01, {}),
    "rmsprop": ("RMSprop", 0.001, {}),
    "adadelta": ("Adadelta", 1.0, {}),
    "adam": ("Adam", 0.002, {}),
    "adamw": ("AdamW", 0.002, {}),
    "lbfgs": ("LBFGS", 1.0, {}),
}
TASKS = ("classification", "regression")
SCALERS = ("standard", "minmax", "none")
TARGET_SCALERS = ("standard", "none")
AUGMENTS = ("shift", "rotate", "noise", "none")
SCHEDULES = ("cosine", "step", "none")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
MAX_PLOTTED_CLASSES = 200  # a confusion matrix beyond this is unreadable (and K*K big)
# Options that a resumed run may change; the others must match the checkpoint.
RESUMABLE = ("epochs", "out", "quiet", "threads")


class CLIError(Exception):
    """A mistake the user can fix; printed as one line, exit status 2."""


# ---------------------------------------------------------------- argument parsing
class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (``bricks: error: ...``) and exit status 2."""

    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')")


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _add_train_options(p):
    S = argparse.SUPPRESS  # only options given on the command line reach the namespace
    d = DEFAULTS
    p.add_argument("--config", metavar="FILE.toml", default=S,
                   help="read options from a TOML file (command-line flags win)")
    p.add_argument("--data", default=S, metavar="NAME_OR_FILE",
                   help=f"a dataset name (see 'bricks datasets') or a .csv/.npz file "
                        f"(default: {d['data']})")
    p.add_argument("--target", default=S, metavar="COLUMN",
                   help="target column of a CSV file (name or 0-based index; default: the "
                        "last) or key of an NPZ file (default: y, features under X)")
    p.add_argument("--task", choices=TASKS, default=S,
                   help="classification or regression (default: from the dataset, or "
                        "inferred from the target values)")
    p.add_argument("--model", default=S, metavar="SPEC",
                   help=f"'mlp:W1,W2,...' hidden widths, 'linear', 'cnn:C1,C2[/D]' conv "
                        f"widths, 'gru:H' / 'lstm:H' / 'rnn:H' (default: {d['model']})")
    p.add_argument("--activation", default=S,
                   help=f"hidden activation: relu, tanh, sigmoid, gelu, ... (default: "
                        f"{d['activation']})")
    p.add_argument("--dropout", type=float, default=S, metavar="P",
                   help="dropout probability after each hidden layer (default: 0.2)")
    p.add_argument("--batch-norm", dest="batch_norm", action="store_true", default=S,
                   help="batch normalization after each hidden linear layer")
    p.add_argument("--compile", action="store_true", default=S,
                   help="run each update as a compiled plan (bricks.compile): same numbers")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), default=S,
                   help=f"update rule (default: {d['optimizer']})")
    p.add_argument("--lr", type=float, default=S,
                   help="learning rate (default: the optimizer's, e.g. 0.002 for adam)")
    p.add_argument("--epochs", type=_positive_int, default=S,
                   help=f"passes over the training data (default: {d['epochs']})")
    p.add_argument("--batch-size", dest="batch_size", type=_positive_int, default=S,
                   help=f"samples per update (default: {d['batch_size']}; lbfgs: all)")
    p.add_argument("--seed", type=int, default=S,
                   help=f"seed of the split, initialization, shuffling and augmentation "
                        f"(default: {d['seed']})")
    p.add_argument("--test-size", dest="test_size", type=float, default=S,
                   help=f"held-out test fraction, stratified for classification "
                        f"(default: {d['test_size']})")
    p.add_argument("--scaler", choices=SCALERS, default=S,
                   help="input normalization fitted on the training split (default: "
                        "standard)")
    p.add_argument("--target-scaler", dest="target_scaler", choices=TARGET_SCALERS,
                   default=S,
                   help="regression: standardize the targets for training (predictions and "
                        "metrics stay in the data's units; default: standard)")
    p.add_argument("--augment", choices=AUGMENTS, default=S,
                   help="image augmentation (default: shift for images, none otherwise)")
    p.add_argument("--image-size", dest="image_size", default=S, metavar="HxW",
                   help="--data FOLDER: resize every image to H x W pixels (e.g. 64x64, or "
                        "64; needed when the images differ in size)")
    p.add_argument("--image-mode", dest="image_mode", choices=("RGB", "L"), default=S,
                   help="--data FOLDER: read images as RGB or grey (L) (default: RGB)")
    p.add_argument("--schedule", choices=SCHEDULES, default=S,
                   help=f"learning-rate schedule per epoch (default: {d['schedule']})")
    p.add_argument("--threads", type=_positive_int, default=S,
                   help="BLAS threads (default: 1; small layers gain nothing from more)")
    p.add_argument("--out", default=S, metavar="DIR",
                   help="run folder (default: runs/run-NNN, the next free number)")
    p.add_argument("--resume", default=S, metavar="RUN_OR_CHECKPOINT",
                   help="continue a run from its last checkpoint up to --epochs")
    p.add_argument("--quiet", action="store_true", default=S,
                   help="no progress output, only the result lines")


def build_parser() -> argparse.ArgumentParser:
    """The ``bricks`` argument parser with its subcommands."""
    from bricks import __version__

    parser = _Parser(prog="bricks", description="Train, evaluate and use bricks models.")
    parser.add_argument("--version", action="version", version=f"bricks {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    train = sub.add_parser("train", help="train a model and write a run folder",
                           description="Train a model (default: an MLP on the bundled "
                                       "MNIST-10k) and write a run folder.")
    _add_train_options(train)

    ev = sub.add_parser("evaluate", help="loss and metrics of a trained model",
                        description="Evaluate a run on its held-out test split, or on all "
                                    "of --data.")
    ev.add_argument("run", metavar="RUN_OR_CHECKPOINT")
    ev.add_argument("--data", help="evaluate on all of this dataset or file instead")
    ev.add_argument("--target", help="target column/key of a --data file")
    ev.add_argument("--batch-size", dest="batch_size", type=_positive_int, default=512)
    ev.add_argument("--threads", type=_positive_int, default=1)

    pr = sub.add_parser("predict", help="predictions of a trained model",
                        description="Predict for the samples of a .npy or .csv file, "
                                    "for one image file (PNG, JPEG, ...), or, for a model "
                                    "trained on text (--data reviews), for a quoted text "
                                    "or a .txt file with one text per line.")
    pr.add_argument("run", metavar="RUN_OR_CHECKPOINT")
    pr.add_argument("input", metavar="INPUT")
    pr.add_argument("--output", metavar="FILE.csv", help="also write the predictions here")
    pr.add_argument("--batch-size", dest="batch_size", type=_positive_int, default=512)
    pr.add_argument("--threads", type=_positive_int, default=1)

    sub.add_parser("datasets", help="list the datasets --data accepts",
                   description="List the datasets that --data accepts by name.")

    demo = sub.add_parser("demo", help="run a lecture's claim as a demo (--list to see them)",
                          description="Run a demo that reproduces one claim a lecture makes: "
                                      "it prints the claim and the numbers that show it and "
                                      "saves its figures as PNG.")
    demo.add_argument("name", nargs="?", metavar="NAME", help="the demo to run")
    demo.add_argument("--list", action="store_true", help="list the demos")
    demo.add_argument("--out", default="demos", metavar="DIR",
                      help="the figures go to DIR/NAME (default DIR: demos, so demos/NAME)")
    demo.add_argument("--fast", action="store_true",
                      help="the small setting the tests use (seconds)")
    demo.add_argument("--threads", type=_positive_int, default=1)
    demo.add_argument("--model", metavar="MODEL",
                      help="the model a demo uses where it offers a choice (text: ngram, "
                           "gru or lstm)")

    play = sub.add_parser("playground", help="train a network live in the browser",
                          description="Start the local playground server and open its page.")
    play.add_argument("--host", default="127.0.0.1",
                      help="address to bind (default: 127.0.0.1, this machine only)")
    play.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    play.add_argument("--no-browser", dest="open_browser", action="store_false",
                      help="do not open a browser tab")
    play.add_argument("--threads", type=_positive_int, default=1)
    return parser


# ---------------------------------------------------------------- configuration
def _read_toml(path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise CLIError("reading --config needs Python 3.11+ or the tomli package "
                           "(pip install tomli)") from None
    from bricks.io import read_bytes

    try:
        data = tomllib.loads(read_bytes(path, max_bytes=2**20, what="config file")
                             .decode("utf-8"))
    except FileNotFoundError:
        raise CLIError(f"config file not found: {path}") from None
    except UnicodeDecodeError as err:
        raise CLIError(f"{path} is not UTF-8 text: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise CLIError(f"bad TOML in {path}: {err}") from None
    except RecursionError:
        raise CLIError(f"bad TOML in {path}: nested too deeply") from None
    if isinstance(data.get("train"), dict):  # a [train] table, or top-level keys
        data = {**{k: v for k, v in data.items() if k != "train"}, **data["train"]}
    out = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in DEFAULTS and name != "resume":
            raise CLIError(f"{path}: unknown option {key!r}; options: "
                           f"{', '.join(k.replace('_', '-') for k in DEFAULTS)}")
        out[name] = value
    return out


def _check_config(cfg: dict) -> dict:
    """Types and ranges of every option (a config file skips argparse's checks)."""
    def need(ok, what):
        if not ok:
            raise CLIError(what)

    for key in ("epochs", "batch_size", "threads"):
        v = cfg[key]
        need(isinstance(v, int) and not isinstance(v, bool) and v >= 1,
             f"{key.replace('_', '-')} must be a positive integer, got {v!r}")
    need(isinstance(cfg["seed"], int) and not isinstance(cfg["seed"], bool)
         and 0 <= cfg["seed"] < 2**32,
         f"seed must be an integer from 0 to 2**32-1, got {cfg['seed']!r}")
    for key in ("dropout", "test_size"):
        v = cfg[key]
        need(isinstance(v, (int, float)) and not isinstance(v, bool),
             f"{key.replace('_', '-')} must be a number, got {v!r}")
        cfg[key] = float(v)
    need(0.0 <= cfg["dropout"] < 1.0, f"dropout must be in [0, 1), got {cfg['dropout']}")
    need(0.0 < cfg["test_size"] < 1.0,
         f"test-size must be a fraction in (0, 1), got {cfg['test_size']}")
    if cfg["lr"] is not None:
        need(isinstance(cfg["lr"], (int, float)) and not isinstance(cfg["lr"], bool)
             and math.isfinite(cfg["lr"]) and cfg["lr"] > 0,
             f"lr must be a positive finite number, got {cfg['lr']!r}")
        cfg["lr"] = float(cfg["lr"])
    for key, choices in (("optimizer", OPTIMIZERS), ("scaler", SCALERS),
                         ("target_scaler", TARGET_SCALERS), ("schedule", SCHEDULES)):
        need(cfg[key] in choices, f"{key} must be one of {', '.join(choices)}, got "
                                  f"{cfg[key]!r}")
    need(cfg["task"] is None or cfg["task"] in TASKS,
         f"task must be classification or regression, got {cfg['task']!r}")
    need(cfg["augment"] is None or cfg["augment"] in AUGMENTS,
         f"augment must be one of {', '.join(AUGMENTS)}, got {cfg['augment']!r}")
    for key in ("batch_norm", "quiet"):
        need(isinstance(cfg[key], bool), f"{key.replace('_', '-')} must be true or false, "
                                         f"got {cfg[key]!r}")
    for key in ("data", "model", "activation"):
        need(isinstance(cfg[key], str), f"{key} must be a string, got {cfg[key]!r}")
    need(cfg["image_mode"] in ("RGB", "L"), f"image-mode must be RGB or L, got "
                                            f"{cfg['image_mode']!r}")
    if cfg["image_size"] is not None:
        cfg["image_size"] = _image_size(cfg["image_size"])
    if cfg["target"] is not None:
        cfg["target"] = str(cfg["target"])
    return cfg


def _image_size(value) -> str:
    """'64' or '64x48' (or an int from a config file) -> 'HxW', checked."""
    text = str(value).strip().lower()
    parts = text.split("x") if "x" in text else [text, text]
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise CLIError(f"image-size must be HxW or one size in pixels (e.g. 64x64), got "
                       f"{value!r}")
    return f"{int(parts[0])}x{int(parts[1])}"


def _saved_config(cfg: dict) -> dict:
    """The options a run folder records: all but where it was written (``out``), which a
    resumed or rerun run must never take from a file."""
    return {k: v for k, v in cfg.items() if k not in ("out", "resume")}


def _toml_text(cfg: dict, run: str) -> str:
    from bricks.io import toml_dumps

    return toml_dumps({k.replace("_", "-"): v for k, v in _saved_config(cfg).items()},
                      comment=f"bricks train configuration; rerun with: bricks train "
                              f"--config {os.path.join(run, 'config.toml')}")


@contextlib.contextmanager
def _blas_threads(n: int):
    """Limit BLAS to ``n`` threads: for layers this small, extra threads mostly wait (and
    on a busy machine they slow training down many times)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


# ---------------------------------------------------------------- data
def _is_file_spec(data: str) -> bool:
    return data.lower().endswith((".csv", ".npz", ".npy")) or os.sep in data or (
        os.path.exists(data) and not os.path.isdir(data))


def _load_file(path: str, target):
    """(X, y_raw, text classes or None) from a CSV or NPZ file with a target column/key."""
    from bricks.data.tabular import read_csv, read_npz_xy

    if not os.path.exists(path):
        raise CLIError(f"file not found: {path}")
    if path.lower().endswith(".npz"):
        X, y = read_npz_xy(path, target)
        return X.astype(xp.float32), y, None
    if not path.lower().endswith(".csv"):
        raise CLIError(f"--data file must be .csv or .npz, got {path}")
    X, y, classes, _ = read_csv(path, target)
    return X, y, classes


def _labels(y_raw, task, where, text_classes=None):
    """(task, y ready for the loss, class names or None)."""
    if text_classes is not None:  # codes into the target's distinct texts
        if task == "regression":
            raise CLIError(f"{where}: the target holds text; it cannot be a regression target")
        return "classification", _enough_classes(y_raw, text_classes, where), text_classes
    if y_raw.dtype.kind in "US":
        if task == "regression":
            raise CLIError(f"{where}: the target holds text; it cannot be a regression target")
        task = "classification"
    elif task is None:
        whole = bool(xp.all(xp.mod(y_raw, 1) == 0)) if y_raw.size else False
        task = "classification" if whole and len(xp.unique(y_raw)) <= 50 else "regression"
    if task == "regression":
        return task, y_raw.astype(xp.float32).reshape(-1, 1), None
    if y_raw.ndim != 1:
        raise CLIError(f"{where}: class targets must be one label per sample, got shape "
                       f"{y_raw.shape}")
    names, y = xp.unique(y_raw, return_inverse=True)
    classes = [_plain(v) for v in names.tolist()]
    return task, _enough_classes(y.astype(xp.int64), classes, where), classes


def _enough_classes(y, classes, where):
    if len(classes) < 2:
        raise CLIError(f"{where}: the target has only one class ({classes[0]!r}), so there "
                       f"is nothing to classify; for numbers to predict use --task "
                       f"regression")
    return y


def _plain(v):
    return int(v) if isinstance(v, float) and v.is_integer() else v


def load_data(cfg: dict):
    """The data a config names, as a dict: X (N, ...) float32, y, task, classes, info."""
    from bricks.data.datasets import DATASETS, load_dataset

    data = cfg["data"]
    if os.path.isdir(data):  # one sub-folder of images per class
        from bricks.data.image_folder import ImageFolder

        size = cfg.get("image_size")
        size = tuple(int(v) for v in size.split("x")) if size else None
        mode = cfg.get("image_mode") or "RGB"
        folder = ImageFolder(data, mode=mode, size=size)
        X, y = folder.to_arrays()
        if mode == "L":
            X = X[:, 0]  # (N, H, W), as the MNIST digits
        task, classes = "classification", list(folder.classes)
        info = {"folder": os.path.abspath(data), "image_mode": mode,
                "image_size": list(folder.image_shape[1:]), "skipped": len(folder.skipped)}
    elif _is_file_spec(data):
        X, y_raw, text_classes = _load_file(data, cfg.get("target"))
        task, y, classes = _labels(y_raw, cfg.get("task"), data, text_classes)
        info = {"file": os.path.abspath(data), "target": cfg.get("target")}
    else:
        try:  # generated sets (toy, ...) draw fresh entropy without a seed
            X, y_raw = load_dataset(data, seed=cfg["seed"])
        except TypeError:
            X, y_raw = load_dataset(data)
        spec = DATASETS[data.strip().lower().replace("_", "-")]
        task = cfg.get("task") or spec.task
        if task == "classification":
            y, classes = y_raw.astype(xp.int64), list(spec.classes or range(
                spec.n_classes or int(y_raw.max()) + 1))
        else:
            y, classes = y_raw.astype(xp.float32).reshape(-1, 1), None
        info = {"name": spec.name}
        if spec.n_train is not None:  # the dataset's own train/test split
            info["n_train"] = spec.n_train
        if spec.vectorizer is not None:  # text: how `predict` turns new text into features
            info["text"] = spec.vectorizer().state_dict()
    if len(X) != len(y):
        raise CLIError(f"{data}: {len(X)} samples but {len(y)} targets")
    if len(X) < 4:
        raise CLIError(f"{data}: too few samples to split ({len(X)})")
    X = X.astype(xp.float32)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if not xp.all(xp.isfinite(X)):
        raise CLIError(f"{data}: the features hold NaN or infinite values")
    return {"X": X, "y": y, "task": task, "classes": classes, "info": info,
            "sample_shape": list(X.shape[1:]), "image": X.ndim in (3, 4)}


def split_data(d: dict, cfg: dict):
    from bricks.data import train_test_split

    n = d["info"].get("n_train")
    if n is not None:  # a dataset with its own split (--test-size does not apply)
        return d["X"][:n], d["X"][n:], d["y"][:n], d["y"][n:]
    stratify = d["y"] if d["task"] == "classification" else None
    try:
        return train_test_split(d["X"], d["y"], test_size=cfg["test_size"],
                                stratify=stratify, seed=cfg["seed"])
    except ValueError:
        if stratify is None:
            raise
        # a class too small to appear in both parts: split without stratification
        return train_test_split(d["X"], d["y"], test_size=cfg["test_size"],
                                seed=cfg["seed"])


def _flat(X):
    return X.reshape(len(X), -1)


def _make_scaler(kind):
    from bricks.data import MinMaxScaler, StandardScaler

    return {"standard": StandardScaler, "minmax": MinMaxScaler}.get(kind, lambda: None)()


class _Pipeline:
    """Batch inputs -> (augmented) -> flat -> scaled, as the model sees them."""

    def __init__(self, scaler, augment=None):
        self.scaler, self.augment = scaler, augment

    def __call__(self, x):
        from bricks.tensor import Tensor

        data = x.data if isinstance(x, Tensor) else xp.asarray(x)
        if self.augment is not None:
            data = self.augment(data, batched=True)
        data = _flat(data).astype(xp.float32)
        if self.scaler is not None:
            data = self.scaler.transform(data).astype(xp.float32)
        return Tensor(data)


def _unscaled(model, y_scaler):
    """The model with the run's target scaler undone on its outputs (regression: outputs
    in the data's units); the model itself when there is none."""
    if y_scaler is None:
        return model
    from bricks import nn
    from bricks.tensor import Tensor

    mean = Tensor(xp.asarray(y_scaler.mean_, dtype=xp.float32))
    scale = Tensor(xp.asarray(y_scaler.scale_, dtype=xp.float32))

    class Unscaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x) * scale + mean

    return Unscaled().eval()


def _augmentation(kind):
    from bricks.data import transforms as T

    return {"shift": lambda: T.RandomShift(1), "rotate": lambda: T.RandomRotation(10),
            "noise": lambda: T.GaussianNoise(0.05)}.get(kind, lambda: None)()


# ---------------------------------------------------------------- model, optimizer
def _build(cfg: dict, meta: dict):
    from bricks import nn, optim
    from bricks.models import build_model

    out = len(meta["classes"]) if meta["task"] == "classification" else 1
    from bricks.io import limit

    try:
        model = build_model(cfg["model"], meta["sample_shape"], out, cfg["activation"],
                            cfg["dropout"], cfg["batch_norm"],
                            max_parameters=limit("BRICKS_MAX_PARAMETERS"))
    except ValueError as err:
        if "over the limit" not in str(err):
            raise
        raise CLIError(f"{err} (BRICKS_MAX_PARAMETERS; raise it in the environment if you "
                       f"mean it)") from None
    cls_name, lr, kwargs = OPTIMIZERS[cfg["optimizer"]]
    optimizer = getattr(optim, cls_name)(model.parameters(), lr=cfg["lr"] or lr, **kwargs)
    scheduler = None
    if cfg["schedule"] == "cosine":
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg["epochs"])
    elif cfg["schedule"] == "step":
        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=max(1, cfg["epochs"] // 3),
                                              gamma=0.1)
    loss_fn = nn.CrossEntropyLoss() if meta["task"] == "classification" else nn.MSELoss()
    return model, optimizer, scheduler, loss_fn


def _check_model(cfg, d):
    """The model options, and the model's size for this data, checked without building it."""
    from bricks.io import limit
    from bricks.models import ACTIVATIONS, count_parameters

    out = len(d["classes"]) if d["task"] == "classification" else 1
    try:
        n = count_parameters(cfg["model"], d["sample_shape"], out, cfg["batch_norm"])
    except ValueError as err:
        raise CLIError(f"--model: {err}") from None
    key = cfg["activation"].strip().lower().replace("-", "_")
    if key not in ACTIVATIONS:
        raise CLIError(f"--activation: unknown activation {cfg['activation']!r}; available: "
                       f"{', '.join(ACTIVATIONS)}")
    cap = limit("BRICKS_MAX_PARAMETERS")
    if n > cap:
        raise CLIError(f"--model {cfg['model']} for {math.prod(d['sample_shape']):,} inputs "
                       f"and {out:,} outputs would have {n:,} weights, over the limit "
                       f"BRICKS_MAX_PARAMETERS={cap:,} (raise it in the environment if you "
                       f"mean it)")


def _metrics(task):
    return ["accuracy"] if task == "classification" else ["mse", "mae", "r2"]


# ---------------------------------------------------------------- run folders
def _checkpoint_path(run: str) -> str:
    if os.path.isdir(run):
        path = os.path.join(run, CHECKPOINT)
        if not os.path.exists(path):
            raise CLIError(f"{run} holds no {CHECKPOINT}; is it a bricks run folder?")
        return path
    if not os.path.exists(run):
        raise CLIError(f"no such run folder or checkpoint: {run}")
    return run


def _new_run_folder(out):
    if out is not None:
        if os.path.lexists(os.path.join(out, CHECKPOINT)):
            raise CLIError(f"{out} already holds a run; choose another --out or continue it "
                           f"with --resume {out}")
        os.makedirs(out, exist_ok=True)
        return out
    os.makedirs("runs", exist_ok=True)
    for i in range(1, 100000):
        path = os.path.join("runs", f"run-{i:03d}")
        try:
            os.mkdir(path)
        except FileExistsError:
            continue
        return path
    raise CLIError("runs/ is full; pass --out")  # pragma: no cover


def _read_checkpoint(path):
    from bricks.io import load_checkpoint

    ckpt = load_checkpoint(path, restore_rng=False)
    meta = ckpt.get("metadata")
    if not isinstance(meta, dict) or "config" not in meta or "data" not in meta:
        raise CLIError(f"{path} is a bricks checkpoint but not from 'bricks train' (no "
                       f"model description in its metadata)")
    _check_run_metadata(ckpt, meta, path)
    return ckpt, meta


def _check_run_metadata(ckpt, meta, path):
    """Validate what 'bricks train' wrote (a file anyone may edit) before anything is built
    from it: each wrong entry is one CLIError naming it, never a traceback later."""
    def need(ok, what):
        if not ok:
            raise CLIError(f"{path}: invalid run metadata: {what}")

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    cfg, data = meta["config"], meta["data"]
    need(isinstance(cfg, dict), f"config should be a table, got {type(cfg).__name__}")
    unknown = sorted(k for k in cfg if k not in DEFAULTS and k != "resume")
    need(not unknown, f"config has unknown options {unknown}")
    try:
        _check_config({**DEFAULTS, **cfg})
    except CLIError as err:
        need(False, f"config: {err}")
    need(isinstance(data, dict), f"data should be a table, got {type(data).__name__}")
    need(data.get("task") in TASKS, f"data.task should be one of {', '.join(TASKS)}, got "
                                    f"{data.get('task')!r}")
    shape = data.get("sample_shape")
    need(isinstance(shape, list) and 1 <= len(shape) <= 8
         and all(is_int(n) and n >= 1 for n in shape),
         f"data.sample_shape should be a list of positive integers, got {shape!r}")
    need(isinstance(data.get("image"), bool), f"data.image should be true or false, got "
                                              f"{data.get('image')!r}")
    classes = data.get("classes")
    if data["task"] == "classification":
        need(isinstance(classes, list) and len(classes) >= 2
             and all(isinstance(c, (str, int, float)) and not isinstance(c, bool)
                     for c in classes) and len(set(map(str, classes))) == len(classes),
             f"data.classes should be a list of at least two distinct labels, got "
             f"{classes!r:.80}")
    need(data["image"] is False or len(shape) == 2 or (len(shape) == 3 and shape[0] in (1, 3)),
         f"data.image is true but sample_shape {shape} is neither (H, W) nor (C, H, W)")
    source = data.get("source")
    if isinstance(source, dict) and "folder" in source:  # trained on an image folder
        size = source.get("image_size")
        need(source.get("image_mode") in ("RGB", "L") and isinstance(size, list)
             and len(size) == 2 and all(is_int(n) and n >= 1 for n in size),
             f"data.source should hold image_mode RGB or L and image_size [H, W], got "
             f"{source.get('image_mode')!r} and {size!r}")
    epoch = ckpt.get("epoch")
    need(is_int(epoch) and epoch >= 0, f"epoch should be a non-negative integer, got "
                                       f"{epoch!r}")
    history = ckpt.get("history")
    need(isinstance(history, dict) and isinstance(history.get("epoch"), list)
         and isinstance(history.get("history"), dict)
         and all(isinstance(v, list) for v in history["history"].values())
         and (history.get("stopped_reason") is None
              or isinstance(history["stopped_reason"], str)),
         "history should be {epoch: [...], history: {name: [...]}, stopped_reason}")


def _load_run_state(path, model, scaler, optimizer=None, scheduler=None, restore_rng=False):
    """load_checkpoint into the objects built from the metadata; a checkpoint whose tensors
    or states do not fit them (edited, or from another version) is one CLIError."""
    from bricks.io import CheckpointError, load_checkpoint

    try:
        ckpt = load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler,
                               scaler=scaler, restore_rng=restore_rng)
        for name in ("T_max", "step_size"):
            value = getattr(scheduler, name, 1)
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"the scheduler's {name} should be a positive integer, "
                                 f"got {value!r}")
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RuntimeError,
            ZeroDivisionError) as err:
        text = err.args[0] if isinstance(err, KeyError) and err.args else err
        raise CLIError(f"{path}: the saved state does not fit the model its metadata "
                       f"describes ({type(err).__name__}: {text})") from None
    _check_finite(model, path)
    return ckpt


def _restore(path, *, restore_rng=False):
    """(model, scaler, meta) of a trained run, the weights and scaler loaded."""
    _, meta = _read_checkpoint(path)
    cfg = {**DEFAULTS, **meta["config"]}
    model, optimizer, scheduler, loss_fn = _build(cfg, meta["data"])
    scaler = _make_scaler(cfg["scaler"])
    ckpt = _load_run_state(path, model, scaler, restore_rng=restore_rng)
    model.eval()
    y_scaler = None
    extra = ckpt.get("extra")
    if meta["data"]["task"] == "regression" and isinstance(extra, dict) and \
            "target_scaler" in extra:
        from bricks.data import StandardScaler

        y_scaler = StandardScaler()
        try:
            y_scaler.load_state_dict(extra["target_scaler"])
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise CLIError(f"{path}: invalid target scaler state ({err})") from None
    return _unscaled(model, y_scaler), scaler, loss_fn, cfg, meta


def _check_finite(model, path):
    from bricks.train.callbacks import nonfinite_parameters

    bad = nonfinite_parameters(model)
    if bad:
        raise CLIError(f"{path}: the weights {', '.join(bad[:3])}"
                       f"{' ...' if len(bad) > 3 else ''} hold NaN or infinite values (a "
                       f"diverged run?); retrain with a smaller learning rate")


# ---------------------------------------------------------------- bricks train
def _say(cfg, *lines):
    if not cfg["quiet"]:
        for line in lines:
            print(line, flush=True)


def _config_for(args: argparse.Namespace) -> tuple[dict, dict]:
    """(config, options given explicitly) from defaults < --config file < flags."""
    given = dict(vars(args))
    given.pop("command", None)
    from_file = _read_toml(given.pop("config")) if "config" in given else {}
    explicit = {**from_file, **given}
    return _check_config({**DEFAULTS, **explicit}), explicit


def cmd_train(args) -> int:
    from bricks.train.run_folder import check_run_folder

    cfg, explicit = _config_for(args)
    resume = explicit.get("resume")
    ckpt_in = None
    if resume:
        ckpt_in = _checkpoint_path(resume)
        _, old = _read_checkpoint(ckpt_in)
        changed = [k for k in explicit if k not in RESUMABLE and k != "resume"
                   and explicit[k] != old["config"].get(k, DEFAULTS.get(k))]
        if changed:
            raise CLIError(f"--resume continues a run with its own settings; only "
                           f"{', '.join('--' + k for k in RESUMABLE)} may change (got "
                           f"{', '.join('--' + k.replace('_', '-') for k in changed)})")
        # a run from before target scaling trained on raw targets: keep it that way
        cfg = _check_config({**DEFAULTS, "target_scaler": "none", **old["config"],
                             **{k: v for k, v in explicit.items() if k in RESUMABLE}})
        # Resume writes into the run it was given (or an explicit --out), never into a
        # folder named inside the checkpoint, which anyone may have edited or moved.
        source = os.path.dirname(os.path.abspath(ckpt_in))
        cfg["out"] = explicit.get("out")
        run = cfg["out"] or source
        if os.path.abspath(run) != source:
            _new_run_folder(run)  # an explicit --out must not hold another run
        check_run_folder(run)
        if "epochs" in explicit and cfg["schedule"] != "none" and \
                explicit["epochs"] != old["config"]["epochs"]:
            print(f"bricks: note: the {cfg['schedule']} schedule was planned for "
                  f"{old['config']['epochs']} epochs; the extra epochs continue it",
                  file=sys.stderr)
    else:
        run = None  # made once the data has loaded, so a typo leaves no empty folder
        if cfg["out"] is not None and os.path.exists(os.path.join(cfg["out"], CHECKPOINT)):
            _new_run_folder(cfg["out"])  # the error about an existing run

    with _blas_threads(cfg["threads"]):
        return _train(cfg, explicit, run, ckpt_in)


def _train(cfg, explicit, run, ckpt_in) -> int:
    from bricks.train.run_folder import RunLock, check_run_folder

    t0 = time.perf_counter()
    d = load_data(cfg)
    X_train, X_test, y_train, y_test = split_data(d, cfg)
    # Every check that can fail comes before the run folder exists: a mistake leaves no
    # empty runs/run-NNN behind.
    augment_kind = cfg["augment"] or ("shift" if d["image"] else "none")
    if augment_kind != "none" and not d["image"]:
        raise CLIError(f"--augment {augment_kind} needs image data; {cfg['data']} has "
                       f"samples of shape {tuple(d['sample_shape'])}")
    _check_model(cfg, d)
    if run is None:
        run = _new_run_folder(cfg["out"])
    check_run_folder(run)
    with RunLock(run):
        if ckpt_in is None and os.path.lexists(os.path.join(run, CHECKPOINT)):
            _new_run_folder(run)  # another run finished there since we looked: refuse
        try:
            return _train_into(run, cfg, explicit, ckpt_in, d, X_train, X_test, y_train,
                               y_test, t0)
        except KeyboardInterrupt:
            if os.path.exists(os.path.join(run, CHECKPOINT)):
                hint = f"continue with: bricks train --resume {run}"
            else:
                hint = f"no epoch finished, nothing to resume in {run}"
            print(f"bricks: interrupted ({hint})", file=sys.stderr)
            return 130


def _train_into(run, cfg, explicit, ckpt_in, d, X_train, X_test, y_train, y_test, t0):
    from bricks.data import DataLoader, TensorDataset
    from bricks.io import atomic_write
    from bricks.train import (
        CSVLogger,
        History,
        JSONLogger,
        ModelCheckpoint,
        NaNGuard,
        Trainer,
        TrainingDiverged,
        evaluate,
    )

    start = 0
    if d["task"] == "classification" and cfg["optimizer"] == "lbfgs" and "batch_size" not in \
            explicit:
        cfg["batch_size"] = len(X_train)  # L-BFGS wants the full batch
    if "text" in d["info"] and "scaler" not in explicit:
        cfg["scaler"] = "none"  # TF-IDF rows are already unit length
    augment_kind = cfg["augment"] or ("shift" if d["image"] else "none")
    meta = {"task": d["task"], "classes": d["classes"], "sample_shape": d["sample_shape"],
            "image": d["image"], "source": d["info"], "n_train": len(X_train),
            "n_test": len(X_test),
            # the raw input range, so predict can tell 0..255 pixels from the 0..1 trained on
            "input_range": [float(X_train.min()), float(X_train.max())]}
    scaler = _make_scaler(cfg["scaler"])
    if scaler is not None:
        scaler.fit(_flat(X_train))
    X_test_in = _Pipeline(scaler)(X_test)
    # Regression targets of any size train as well as targets near 1: standardize them
    # (fitted on the training split, like the inputs); the model learns the scaled target
    # and _unscaled maps its outputs back for every number the user sees.
    y_scaler = None
    y_train_fit, y_test_fit = y_train, y_test
    if d["task"] == "regression" and cfg["target_scaler"] == "standard":
        from bricks.data import StandardScaler

        y_scaler = StandardScaler().fit(y_train)
        y_train_fit = y_scaler.transform(y_train).astype(xp.float32)
        y_test_fit = y_scaler.transform(y_test).astype(xp.float32)

    manual_seed(cfg["seed"])
    model, optimizer, scheduler, loss_fn = _build(cfg, meta)
    history = History()
    if ckpt_in is not None:
        _, old = _read_checkpoint(ckpt_in)
        for key in ("task", "classes", "sample_shape"):
            if old["data"][key] != meta[key]:
                raise CLIError(f"{ckpt_in}: the saved state does not fit the data: the run "
                               f"was trained with {key} {old['data'][key]!r:.60}, "
                               f"{cfg['data']} now gives {meta[key]!r:.60}")
        # and the random state, for identical epochs
        ckpt = _load_run_state(ckpt_in, model, scaler, optimizer, scheduler, restore_rng=True)
        start = int(ckpt["epoch"]) + 1
        history = History.from_dict(ckpt["history"])
        X_test_in = _Pipeline(scaler)(X_test)

    # Shuffling, augmentation and dropout all draw from the global generator, which the
    # checkpoint saves: a resumed run repeats the uninterrupted one exactly.
    loader = DataLoader(TensorDataset(X_train, y_train_fit), batch_size=cfg["batch_size"],
                        shuffle=True, transform=_Pipeline(scaler, _augmentation(augment_kind)))
    # The held-out split, scored after every epoch in batches of 512 (as `evaluate`).
    val_data = DataLoader(TensorDataset(X_test_in.data, y_test_fit), batch_size=512)
    checkpoint = ModelCheckpoint(os.path.join(run, CHECKPOINT), save_best_only=False,
                                 scaler=scaler,
                                 metadata={"config": _saved_config(cfg), "data": meta},
                                 extra=None if y_scaler is None else
                                 {"target_scaler": y_scaler.state_dict()})
    # NaNGuard first, raising: a diverged epoch is neither logged nor saved.
    callbacks = [NaNGuard(raise_error=True, check_val_loss=True),
                 CSVLogger(os.path.join(run, "history.csv")),
                 JSONLogger(os.path.join(run, "history.json")), checkpoint]
    trainer = Trainer(model, loss_fn, optimizer, _metrics(d["task"]), callbacks, scheduler,
                      verbose=not cfg["quiet"], compile=bool(cfg.get("compile")))
    trainer.history = history
    with atomic_write(os.path.join(run, "config.toml"), "w") as f:
        f.write(_toml_text(cfg, run))
    source = cfg["data"] if "name" not in d["info"] else d["info"]["name"]
    from bricks.models import parse_model_spec

    kind = cfg["model"].strip().lower().partition(":")[0]
    # the activation matters for an MLP with hidden layers and for a CNN, not for a GRU
    shows = kind == "cnn" or (kind in ("mlp", "linear") and parse_model_spec(cfg["model"]))
    hidden = f" {cfg['activation']}" if shows else ""
    epochs = f"{cfg['epochs']} epoch{'s' if cfg['epochs'] != 1 else ''}"
    _say(cfg, f"bricks train: {source} ({len(X_train)} train / {len(X_test)} test, "
              f"{d['task']}), model {cfg['model']}{hidden}, {cfg['optimizer']}, {epochs} "
              f"-> {run}")
    _say(cfg, model.summary((1, math.prod(meta["sample_shape"]))))
    if start >= cfg["epochs"]:
        _say(cfg, f"the checkpoint already has {start} epochs; nothing to train")
    ckpt_path = os.path.join(run, CHECKPOINT)
    # Overflow is expected when training diverges; it is reported once, below, instead of
    # as NumPy warnings.
    try:
        with xp.errstate(over="ignore", invalid="ignore", divide="ignore"):
            trainer.fit(loader, val_data, cfg["epochs"], initial_epoch=start)
    except TrainingDiverged as err:
        saved = checkpoint.saved_epoch if checkpoint.saved_epoch is not None else (
            start - 1 if ckpt_in is not None else None)
        kept = ("nothing was saved" if saved is None else
                f"{ckpt_path} keeps epoch {saved + 1}, the last finite one")
        print(f"bricks: error: training diverged: {err} ({kept})", file=sys.stderr)
        return 1
    if trainer.history.stopped_reason:
        print(f"bricks: training stopped: {trainer.history.stopped_reason}", file=sys.stderr)
    elapsed = time.perf_counter() - t0

    result = evaluate(_unscaled(model, y_scaler), (X_test_in, y_test), loss_fn,
                      _metrics(d["task"]), 512)
    _plots(run, trainer.history, model, scaler, d, X_test, X_test_in, y_test)
    print(_result_line(result, d["task"], len(X_test)) + f" ({elapsed:.1f} s)")
    _say(cfg, f"run folder: {run}", *(f"  {p}" for p in sorted(os.listdir(run))
                                     if not p.startswith(".")))
    return 0


def _result_line(result, task, n, held_out=True):
    kind, samples = ("test", f"{n} held-out samples") if held_out else ("", f"{n} samples")
    if task == "classification":
        return (f"{kind} accuracy: {100 * result['accuracy']:.2f}% "
                f"(loss {result['loss']:.4f}, {samples})").strip()
    return (f"{kind} mse: {result['mse']:.4g}  mae: {result['mae']:.4g}  "
            f"r2: {result['r2']:.4f} ({samples})").strip()


def _plots(run, history, model, scaler, d, X_test, X_test_in, y_test):
    try:
        from bricks.train import metrics, plots, predict
    except ImportError:  # pragma: no cover
        return []
    written = []
    try:
        written.append(plots.plot_history(history, os.path.join(run, "curves.png"),
                                          val_label="held-out test (val_)"))
        if d["task"] == "classification":
            logits = predict(model, X_test_in, 512).data
            if len(d["classes"]) <= MAX_PLOTTED_CLASSES:
                cm = metrics.confusion_matrix(y_test, logits, num_classes=len(d["classes"]))
                written.append(plots.plot_confusion_matrix(
                    cm, os.path.join(run, "confusion_matrix.png"), labels=d["classes"]))
            else:
                print(f"bricks: note: no confusion_matrix.png for {len(d['classes'])} "
                      f"classes (more than {MAX_PLOTTED_CLASSES})", file=sys.stderr)
            if d["image"]:
                written.append(plots.plot_misclassified(
                    X_test, y_test, logits, os.path.join(run, "misclassified.png")))
            elif d["sample_shape"] == [2]:
                written.append(plots.plot_decision_boundary(
                    _scaled_model(model, scaler), X_test, y_test,
                    os.path.join(run, "decision_boundary.png")))
    except ImportError as err:
        print(f"bricks: no plots ({err})", file=sys.stderr)
    return written


def _scaled_model(model, scaler):
    from bricks import nn

    class Scaled(nn.Module):
        """The model with the run's scaler in front (raw inputs in, outputs out)."""

        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(_Pipeline(scaler)(x))

    return Scaled()



# ---------------------------------------------------------------- evaluate, predict
def cmd_evaluate(args) -> int:
    from bricks.train import evaluate

    path = _checkpoint_path(args.run)
    model, scaler, loss_fn, cfg, meta = _restore(path)
    dmeta = meta["data"]
    held_out = args.data is None or _same_source(args.data, args.target, cfg, dmeta)
    if held_out:
        # The run's own data: score only the rows it never trained on, so "held-out" holds.
        d = load_data(cfg)
        _, X, _, y = split_data(d, cfg)
        what = f"the held-out test split of {cfg['data']}"
        if args.data is not None:
            what += " (the run's training data: its training rows are left out)"
    else:
        d = load_data({**cfg, "data": args.data, "target": args.target})
        X, y = d["X"], d["y"]
        what = f"all {len(X)} samples of {args.data}"
        if d["task"] == "classification" and dmeta["task"] == "classification" and \
                d["classes"] != dmeta["classes"] and "file" in d["info"]:
            mapping = {c: i for i, c in enumerate(dmeta["classes"])}
            unknown = [c for c in d["classes"] if c not in mapping]
            if unknown:
                raise CLIError(f"{args.data}: classes {unknown} were not in the training data")
            y = xp.asarray([mapping[d["classes"][i]] for i in y], dtype=xp.int64)
    _check_shape(d["X"], dmeta, args.data or cfg["data"])
    with xp.errstate(over="ignore", invalid="ignore"):
        result = evaluate(model, (_Pipeline(scaler)(X), y), loss_fn, _metrics(dmeta["task"]),
                          args.batch_size)
    if not all(math.isfinite(v) for v in result.values()):
        raise CLIError(f"{path}: the model's outputs on {what} are NaN or infinite "
                       f"(overflow: inputs far outside the training range?)")
    print(f"evaluate {path} on {what}:")
    print(_result_line(result, dmeta["task"], len(X), held_out))
    return 0


def _same_source(data, target, cfg, dmeta) -> bool:
    """Whether --data names the data the run was trained on (its held-out part is then the
    only honest test set)."""
    source = dmeta.get("source") or {}
    if _is_file_spec(data):
        return (isinstance(source, dict) and source.get("file") == os.path.abspath(data)
                and (target is None or target == source.get("target")))
    key = data.strip().lower().replace("_", "-")
    return isinstance(source, dict) and source.get("name") == key


def _check_shape(X, dmeta, where):
    want = math.prod(dmeta["sample_shape"])
    got = math.prod(X.shape[1:])
    if got != want:
        raise CLIError(f"{where}: samples have {got} features ({tuple(X.shape[1:])}); the "
                       f"model expects {want} ({tuple(dmeta['sample_shape'])})")


def _read_image(path, shape):
    """A grayscale image in [0, 1] resized to ``shape``, light digit on dark like MNIST."""
    from bricks.io import limit, open_regular

    try:
        from PIL import Image
    except ImportError:
        raise CLIError("reading images needs Pillow: pip install 'bricks[plots]' (or "
                       "pip install pillow)") from None
    max_pixels = limit("BRICKS_MAX_PIXELS")
    with open_regular(path, what="image") as f:
        try:
            with warnings.catch_warnings():  # Pillow's bomb warning: our own limit speaks
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(f)
            with im:
                # The size comes from the header; nothing is decoded until the check passes.
                if im.width * im.height > max_pixels:
                    raise CLIError(f"{path}: a {im.width}x{im.height} image has "
                                   f"{im.width * im.height:,} pixels, over the limit "
                                   f"BRICKS_MAX_PIXELS={max_pixels:,} (raise it in the "
                                   f"environment if you mean it)")
                mode = im.mode
                if mode not in ("L", "RGB", "RGBA", "I", "F") and not mode.startswith("I;16"):
                    im, mode = im.convert("RGBA"), "RGBA"
                img = xp.asarray(im, dtype=xp.float64)
        except CLIError:
            raise
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
            raise CLIError(f"cannot read image {path}: {err}") from None
    if mode.startswith("I;16"):
        img = img / 65535.0
    elif mode in ("I", "F"):
        img = img / max(float(img.max()), 1.0)
    else:
        img = img / 255.0
    if img.ndim == 3:
        img = img[..., :3].mean(axis=-1) if img.shape[-1] >= 3 else img[..., 0]
    if img.ndim != 2:
        raise CLIError(f"{path}: not a 2-D image (shape {img.shape})")
    img = _resize(img, shape)
    if img.mean() > 0.5:  # dark ink on light paper: invert to MNIST's white on black
        img = 1.0 - img
    return img.astype(xp.float32)[None]


def _resize(img, shape):
    """Area-average (shrinking) or nearest (growing) resize, NumPy only."""
    h, w = shape
    rows = (xp.arange(h + 1) * img.shape[0] / h).astype(int)
    cols = (xp.arange(w + 1) * img.shape[1] / w).astype(int)
    out = xp.empty((h, w))
    for i in range(h):
        r0, r1 = rows[i], max(rows[i + 1], rows[i] + 1)
        for j in range(w):
            c0, c1 = cols[j], max(cols[j + 1], cols[j] + 1)
            out[i, j] = img[r0:r1, c0:c1].mean()
    return out


def _read_inputs(path, dmeta):
    text = dmeta.get("source", {}).get("text")
    if text is not None and not path.lower().endswith((".npy", ".csv")):
        from bricks.data.text import vectorizer_from_state

        if os.path.isfile(path) and path.lower().endswith(".txt"):
            with open(path, encoding="utf-8") as f:  # one text per line
                texts = [line.strip() for line in f if line.strip()]
        else:
            texts = [path]  # the text itself
        if not texts:
            raise CLIError(f"{path} holds no text")
        try:
            vectorizer = vectorizer_from_state(text)
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            raise CLIError(f"the run's text vectorizer (metadata data.source.text) is invalid: "
                           f"{err}") from None
        X = vectorizer.transform(texts).astype(xp.float32)
        _check_shape(X, dmeta, "the text")
        return X
    if not os.path.exists(path):
        raise CLIError(f"file not found: {path}")
    low = path.lower()
    if low.endswith(".npy"):
        from bricks.io import read_npy

        X = read_npy(path)
        if X.dtype.kind not in "fiub":
            raise CLIError(f"{path}: expected numbers, got dtype {X.dtype}")
        X = X.astype(xp.float32)
        if X.ndim == len(dmeta["sample_shape"]) and list(X.shape) == dmeta["sample_shape"]:
            X = X[None]  # one sample
        if X.ndim == 1 and dmeta["sample_shape"] != [1]:
            X = X[None]
    elif low.endswith(".csv"):
        from bricks.data.tabular import read_csv

        X = read_csv(path, has_target=False)[0]
    elif low.endswith(IMAGE_SUFFIXES) and "folder" in dmeta.get("source", {}):
        from bricks.data.image_folder import load_image

        src = dmeta["source"]  # decoded exactly as the training folder was
        X = load_image(path, src["image_mode"], tuple(src["image_size"]))
        X = X[None, 0] if src["image_mode"] == "L" else X[None]
    elif low.endswith(IMAGE_SUFFIXES):
        if not dmeta["image"]:
            raise CLIError(f"{path} is an image, but this model takes samples of shape "
                           f"{tuple(dmeta['sample_shape'])}")
        X = _read_image(path, dmeta["sample_shape"])
    else:
        raise CLIError(f"INPUT must be a .npy, .csv or image file, got {path}")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    _check_shape(X, dmeta, path)
    if not xp.all(xp.isfinite(X)):
        raise CLIError(f"{path}: the inputs hold NaN or infinite values")
    return X


def _as_trained(X, dmeta, where):
    """Inputs in the range the run was trained on: an image run learned pixels in [0, 1]
    (image files are scaled on reading), so 0..255 pixels from a .npy or .csv file are
    divided by 255 as well, with a note; anything else is passed as it is."""
    if not dmeta["image"] or str(where).lower().endswith(IMAGE_SUFFIXES) or X.size == 0:
        return X
    hi = (dmeta.get("input_range") or [0.0, 1.0])[1]
    if hi <= 1.0 and 1.0 < float(X.max()) <= 255.0 and float(X.min()) >= 0.0:
        print(f"bricks: note: {where} holds pixels in 0..255; divided by 255 like the "
              f"0..1 images the run was trained on", file=sys.stderr)
        return (X / 255.0).astype(xp.float32)
    return X


def cmd_predict(args) -> int:
    from bricks.train import predict

    path = _checkpoint_path(args.run)
    model, scaler, _, cfg, meta = _restore(path)
    dmeta = meta["data"]
    X = _read_inputs(args.input, dmeta)
    X = _as_trained(X, dmeta, args.input)
    if args.output is not None and os.path.isdir(args.output):
        raise CLIError(f"--output {args.output} is a folder; give a file name, e.g. "
                       f"{os.path.join(args.output, 'predictions.csv')}")
    with xp.errstate(over="ignore", invalid="ignore"):
        out = predict(model, _Pipeline(scaler)(X), args.batch_size).data.astype(xp.float64)
    if not xp.all(xp.isfinite(out)):
        raise CLIError(f"{path}: the model's outputs for {args.input} are NaN or infinite "
                       f"(overflow: inputs far outside the training range?)")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if dmeta["task"] == "classification":
        e = xp.exp(out - out.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
        classes = dmeta["classes"]
        writer.writerow(["index", "prediction", "probability",
                         *(f"p_{c}" for c in classes)])
        for i, p in enumerate(probs):
            k = int(p.argmax())
            writer.writerow([i, classes[k], f"{p[k]:.4f}", *(f"{v:.6g}" for v in p)])
        shown = [f"{i}: {classes[int(p.argmax())]} ({100 * p.max():.1f}%)"
                 for i, p in enumerate(probs)]
    else:
        writer.writerow(["index", "prediction"])
        for i, v in enumerate(out.reshape(len(out), -1)[:, 0]):
            writer.writerow([i, f"{v:.6g}"])
        shown = [f"{i}: {v:.6g}" for i, v in enumerate(out.reshape(len(out), -1)[:, 0])]
    if args.output:
        from bricks.io import atomic_write

        folder = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(folder):
            raise CLIError(f"--output folder does not exist: {folder}")
        with atomic_write(args.output, "w", newline="") as f:
            f.write(buf.getvalue())
    for line in shown[:50]:
        print(line)
    if len(shown) > 50:
        print(f"... {len(shown) - 50} more" + (f" in {args.output}" if args.output else
                                                " (use --output FILE.csv)"))
    elif args.output:
        print(f"wrote {args.output}")
    return 0


# ---------------------------------------------------------------- bricks datasets
def cmd_datasets(args) -> int:
    from bricks.data.datasets import list_datasets

    rows = [("name", "task", "samples", "shape", "classes", "description")]
    for r in list_datasets():
        note = ""
        if r.name in OPTIONAL_DATASETS:
            module = OPTIONAL_DATASETS[r.name]
            pip_name, extra = OPTIONAL[module]
            missing = not _installed(module)
            note = (f" [optional: needs {pip_name}, "
                    f"{'not installed: ' if missing else ''}pip install 'bricks[{extra}]']")
        rows.append((r.name, r.task, "-" if r.samples is None else f"{r.samples:,}",
                     "x".join(map(str, r.shape)), "-" if r.classes is None else
                     str(r.classes), r.description + note))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:5], widths)) + "  " + row[5])
    print("\nor a file: --data table.csv [--target COLUMN], --data arrays.npz (X, y)")
    return 0


# ---------------------------------------------------------------- bricks demo
def cmd_demo(args) -> int:
    from bricks import demos

    if args.list or not args.name:
        rows = demos.list_demos()
        width = max(len(name) for name, _ in rows)
        for name, title in rows:
            print(f"{name.ljust(width)}  {title}")
        if not args.list:
            print("\nrun one with: bricks demo NAME")
        return 0
    _need_packages("bricks demo", "matplotlib")
    options = {} if args.model is None else {"model": args.model}
    result = demos.run_demo(args.name, Path(args.out) / args.name, fast=args.fast, **options)
    print(result.report())  # its last line is the demo's own timing
    return 0


# ---------------------------------------------------------------- bricks playground
def cmd_playground(args) -> int:
    from bricks.playground import playground_main

    if not 0 <= args.port <= 65535:
        raise CLIError(f"--port must be in 0..65535, got {args.port}")
    _need_packages("bricks playground", "starlette", "uvicorn", "websockets",
                   extra="playground")
    return playground_main(host=args.host, port=args.port, open_browser=args.open_browser)


# ---------------------------------------------------------------- optional packages
# import name -> (pip name, the extra that installs it)
OPTIONAL = {
    "matplotlib": ("matplotlib", "all"), "sklearn": ("scikit-learn", "all"),
    "PIL": ("pillow", "all"), "scipy": ("scipy", "all"), "safetensors": ("safetensors", "all"),
    "tqdm": ("tqdm", "all"), "tomli": ("tomli", "all"),
    "starlette": ("starlette", "playground"), "uvicorn": ("uvicorn", "playground"),
    "websockets": ("websockets", "playground"),
}
# datasets that need an optional package (shown by 'bricks datasets')
OPTIONAL_DATASETS = {"digits": "sklearn"}


def _missing_package_message(err: ImportError, what: str = "this") -> str:
    """One line naming the optional package and the extra that installs it."""
    name = (err.name or "").split(".")[0]
    if name not in OPTIONAL:  # an ImportError re-raised with its own words
        name = next((m for m in OPTIONAL if m in str(err) or OPTIONAL[m][0] in str(err)),
                    name)
    pip_name, extra = OPTIONAL.get(name, (name or "a package", "all"))
    return (f"{what} needs the optional package {pip_name}, which is not installed: "
            f"pip install 'bricks[{extra}]' (or pip install {pip_name})")


def _installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a None entry in sys.modules
        return False


def _need_packages(what, *modules, extra=None):
    for module in modules:
        if not _installed(module):
            err = ImportError(module, name=module)
            message = _missing_package_message(err, what)
            if extra is not None:
                message = message.replace(f"bricks[{OPTIONAL[module][1]}]", f"bricks[{extra}]")
            raise CLIError(message)


# ---------------------------------------------------------------- entry point
COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "datasets": cmd_datasets, "demo": cmd_demo, "playground": cmd_playground}


def main(argv=None) -> int:
    """Run the ``bricks`` command with ``argv`` (default ``sys.argv[1:]``); return the
    exit status: 0 on success, 2 for a usage or data error (one line on stderr)."""
    from bricks.data.datasets import DatasetError
    from bricks.io import CheckpointError

    parser = build_parser()
    args = None
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        with _blas_threads(getattr(args, "threads", None) or DEFAULTS["threads"]):
            return COMMANDS[args.command](args)
    except SystemExit as stop:  # --help, --version
        return stop.code if isinstance(stop.code, int) else 0
    except (CLIError, CheckpointError, DatasetError, FileNotFoundError, ValueError,
            KeyError, OSError) as err:
        message = err
        if isinstance(err, KeyError) and err.args:
            message = err.args[0]
            if isinstance(message, str) and " " not in message.strip():  # a bare key
                message = f"missing or unknown entry {message!r}"
        text = " ".join(str(message).split())
        print(f"bricks: error: {text}", file=sys.stderr)
        return 2
    except ImportError as err:  # an optional package (core bricks needs only NumPy)
        what = f"bricks {args.command}" if getattr(args, "command", None) else "bricks"
        print(f"bricks: error: {_missing_package_message(err, what)}", file=sys.stderr)
        return 2
    except MemoryError:
        print("bricks: error: out of memory (a smaller model, --batch-size or data set "
              "would fit)", file=sys.stderr)
        return 2
    except RecursionError:
        print("bricks: error: an input is nested too deeply", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bricks: interrupted", file=sys.stderr)
        return 130
