"""Validation of every playground request: types, bounds, and clear messages.

Each check raises :class:`SchemaError` with a message that names the field and the bound
(``"lr: must be in (0, 10], got 50"``); the server turns it into a 4xx JSON
``{"error": message}``. Config updates are all or nothing: :func:`validate_config` returns
a new dict and never touches the one it was given. The bounds are the module constants
below; docs/playground-protocol.md lists them for the page.
"""

from __future__ import annotations

import csv
import io
import json
import math

from bricks.playground.model import ACTIVATION_MODULES
from bricks.playground.model import INITIALIZERS as _INITIALIZERS

__all__ = [
    "SchemaError", "DATASETS", "CLASSIFICATION_DATASETS", "MULTICLASS_DATASETS",
    "REGRESSION_DATASETS", "DATA_KEYS", "MODEL_KEYS", "LIVE_KEYS", "FEATURES", "ACTIVATIONS",
    "INITIALIZERS", "OPTIMIZERS", "RENAMED_KEYS", "LOSSES", "REGULARIZATIONS", "LIMITS",
    "DEFAULT_CONFIG", "DOMAIN", "default_config", "validate_config", "parse_json",
    "validate_points", "validate_weight_edit", "validate_step", "parse_csv",
]

DOMAIN = 6.0

CLASSIFICATION_DATASETS = ("circle", "xor", "gauss", "spiral", "moons", "blobs")
MULTICLASS_DATASETS = ("spiral", "blobs")
REGRESSION_DATASETS = ("plane", "multi_gauss")
DATASETS = CLASSIFICATION_DATASETS + REGRESSION_DATASETS + ("custom",)

FEATURES = {
    "x1": "X1", "x2": "X2", "x1sq": "X1²", "x2sq": "X2²", "x1x2": "X1·X2",
    "sinx1": "sin(X1)", "sinx2": "sin(X2)",
}
ACTIVATIONS = tuple(ACTIVATION_MODULES)
INITIALIZERS = tuple(_INITIALIZERS)
# The names of bricks.optim.OPTIMIZERS the page offers (their classes, titles, options and
# full-batch flags come from that table, through bricks.optim.create).  Left out: BFGS and
# Newton keep an n x n matrix (1.6e9 numbers for the largest network here), and every
# full-batch step holds the session's lock.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam",
              "adamw", "lbfgs")
LOSSES = ("mse", "cross_entropy")
REGULARIZATIONS = ("none", "l1", "l2")

LIMITS = {
    "max_layers_cap": 10, "max_neurons_cap": 64, "max_points": 2000, "max_classes": 8,
    "max_upload_bytes": 1_000_000, "max_upload_rows": 5000, "max_points_per_request": 2000,
    "max_total_points": 5000, "max_step_epochs": 1000, "max_sessions": 16,
    "max_lr": 10.0, "max_weight": 100.0, "max_body_bytes": 1_000_000,
}

DEFAULT_CONFIG = {
    "dataset": "circle", "n_classes": 2, "n_points": 500, "noise": 0, "train_ratio": 50,
    "seed": 0, "features": ["x1", "x2"], "hidden": [4, 2], "activation": ["tanh", "tanh"],
    "dropout": [0.0, 0.0], "batch_norm": [False, False], "init": "xavier_uniform",
    "zero_init": False, "loss": "mse", "optimizer": "sgd", "momentum": 0.9,
    "lr": 0.03, "regularization": "none", "reg_rate": 0, "batch_size": 10,
    "target_loss": None, "max_epochs": None, "max_layers": 6, "max_neurons": 8,
    "heatmap_size": 50, "fps": 15,
}

DATA_KEYS = ("dataset", "n_classes", "n_points", "noise", "train_ratio", "seed")
MODEL_KEYS = ("features", "hidden", "activation", "dropout", "batch_norm", "init",
              "zero_init", "loss", "optimizer")
LIVE_KEYS = ("lr", "reg_rate", "regularization", "batch_size", "momentum",
             "target_loss", "max_epochs", "max_layers", "max_neurons", "heatmap_size", "fps")
PER_LAYER_KEYS = ("activation", "dropout", "batch_norm")
# Old names still accepted in a config (shared links and scripts from before the rename);
# the config that comes back always uses the new name.
RENAMED_KEYS = {"learning_rate": "lr"}


class SchemaError(ValueError):
    """A request that breaks the schema; ``str(err)`` is the message for the user."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def default_config() -> dict:
    """A fresh copy of the default config (TensorFlow Playground's defaults)."""
    return json.loads(json.dumps(DEFAULT_CONFIG))


def _type_name(value) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


def _shown(value) -> str:
    """``value`` for a message: a 400-digit integer is not printed in full."""
    text = str(value)
    return f"a {len(text.lstrip('-'))}-digit integer" if len(text) > 24 else text


def _number(field, value, lo, hi, *, lo_open=False, integer=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "an integer" if integer else "a number"
        raise SchemaError(f"{field}: expected {kind}, got {_type_name(value)}")
    # An int compares exactly with the float bounds; only a float may be inf or NaN (a
    # 400-digit int would overflow math.isfinite).
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaError(f"{field}: must be finite, got {value}")
    if integer and value != int(value):
        raise SchemaError(f"{field}: expected an integer, got {value}")
    if (value <= lo if lo_open else value < lo) or value > hi:
        left = "(" if lo_open else "["
        raise SchemaError(f"{field}: must be in {left}{lo}, {hi}], got {_shown(value)}")
    return int(value) if integer else value


def _choice(field, value, choices):
    if not isinstance(value, str):
        raise SchemaError(f"{field}: expected a string, got {_type_name(value)}")
    if value not in choices:
        raise SchemaError(f"{field}: must be one of {', '.join(choices)}, got {value!r}")
    return value


def _bool(field, value):
    if not isinstance(value, bool):
        raise SchemaError(f"{field}: expected true or false, got {_type_name(value)}")
    return value


def _per_layer(field, value, n_layers, check):
    values = value if isinstance(value, list) else [value]
    if isinstance(value, list) and len(value) > LIMITS["max_layers_cap"]:
        raise SchemaError(f"{field}: at most {LIMITS['max_layers_cap']} entries, "
                          f"got {len(value)}")
    checked = [check(f"{field}[{k}]" if isinstance(value, list) else field, v)
               for k, v in enumerate(values)]
    if not checked:
        checked = [check(field, DEFAULT_CONFIG[field][0])]
    return [checked[min(k, len(checked) - 1)] for k in range(n_layers)]


def validate_config(update, base: dict | None = None) -> dict:
    """Check a (partial) config ``update`` and merge it onto ``base`` (default: defaults).

    Args:
        update: a dict of config keys (docs/playground-protocol.md); unknown keys are
            rejected so a typo never passes silently.
        base: a validated full config to start from.

    Returns:
        A new, full, normalized config (per-layer keys as lists of ``len(hidden)``).

    Raises:
        SchemaError: the first field that breaks the schema, with its bound.
    """
    if update is None:
        update = {}
    if not isinstance(update, dict):
        raise SchemaError(f"config: expected an object, got {_type_name(update)}")
    update = _renamed(update)
    unknown = [k for k in update if k not in DEFAULT_CONFIG]
    if unknown:
        raise SchemaError(f"config: unknown key {unknown[0]!r} (known: "
                          f"{', '.join(DEFAULT_CONFIG)})")
    cfg = dict(default_config() if base is None else base)
    cfg.update(update)
    out = {}
    out["max_layers"] = _number("max_layers", cfg["max_layers"], 1,
                                LIMITS["max_layers_cap"], integer=True)
    out["max_neurons"] = _number("max_neurons", cfg["max_neurons"], 1,
                                 LIMITS["max_neurons_cap"], integer=True)
    out["dataset"] = _choice("dataset", cfg["dataset"], DATASETS)
    out["n_classes"] = _number("n_classes", cfg["n_classes"], 2, LIMITS["max_classes"],
                               integer=True)
    out["n_points"] = _number("n_points", cfg["n_points"], 10, LIMITS["max_points"],
                              integer=True)
    out["noise"] = _number("noise", cfg["noise"], 0, 50)
    out["train_ratio"] = _number("train_ratio", cfg["train_ratio"], 10, 90)
    out["seed"] = _number("seed", cfg["seed"], 0, 2**31 - 1, integer=True)
    feats = cfg["features"]
    if not isinstance(feats, list) or not feats:
        raise SchemaError(f"features: expected a non-empty list of {', '.join(FEATURES)}, "
                          f"got {_type_name(feats) if not isinstance(feats, list) else '[]'}")
    for k, f in enumerate(feats):
        _choice(f"features[{k}]", f, tuple(FEATURES))
    if len(set(feats)) != len(feats):
        raise SchemaError("features: duplicate feature")
    out["features"] = [f for f in FEATURES if f in feats]
    hidden = cfg["hidden"]
    if not isinstance(hidden, list):
        raise SchemaError(f"hidden: expected a list of neuron counts, got {_type_name(hidden)}")
    if len(hidden) > out["max_layers"]:
        raise SchemaError(f"hidden: at most {out['max_layers']} hidden layers (max_layers), "
                          f"got {len(hidden)}")
    out["hidden"] = []
    for k, h in enumerate(hidden):
        h = _number(f"hidden[{k}]", h, 1, LIMITS["max_neurons_cap"], integer=True)
        if h > out["max_neurons"]:
            raise SchemaError(f"hidden[{k}]: at most {out['max_neurons']} neurons per layer "
                              f"(max_neurons), got {h}")
        out["hidden"].append(h)
    n = len(out["hidden"])
    out["activation"] = _per_layer("activation", cfg["activation"], n,
                                   lambda f, v: _choice(f, v, ACTIVATIONS))
    out["dropout"] = _per_layer("dropout", cfg["dropout"], n,
                                lambda f, v: float(_number(f, v, 0, 0.9)))
    out["batch_norm"] = _per_layer("batch_norm", cfg["batch_norm"], n, _bool)
    out["init"] = _choice("init", cfg["init"], INITIALIZERS)
    out["zero_init"] = _bool("zero_init", cfg["zero_init"])
    out["loss"] = _choice("loss", cfg["loss"], LOSSES)
    if out["loss"] == "cross_entropy" and out["dataset"] in REGRESSION_DATASETS:
        raise SchemaError(f"loss: cross_entropy needs a classification data set, "
                          f"{out['dataset']!r} is regression (use mse)")
    out["optimizer"] = _choice("optimizer", cfg["optimizer"], OPTIMIZERS)
    out["momentum"] = _number("momentum", cfg["momentum"], 0, 0.999)
    if out["optimizer"] == "nesterov" and out["momentum"] == 0:
        # Nesterov's look-ahead is along the velocity: without momentum there is none.
        raise SchemaError("momentum: must be > 0 for nesterov (SGD with Nesterov momentum; "
                          "use sgd for none), got 0")
    out["lr"] = _number("lr", cfg["lr"], 0, LIMITS["max_lr"], lo_open=True)
    out["regularization"] = _choice("regularization", cfg["regularization"], REGULARIZATIONS)
    out["reg_rate"] = _number("reg_rate", cfg["reg_rate"], 0, 10)
    out["batch_size"] = _number("batch_size", cfg["batch_size"], 1, LIMITS["max_points"],
                                integer=True)
    if out["dataset"] != "custom" and out["batch_size"] > out["n_points"]:
        raise SchemaError(f"batch_size: must be in [1, {out['n_points']}] (n_points), "
                          f"got {out['batch_size']}")
    out["target_loss"] = (None if cfg["target_loss"] is None
                          else _number("target_loss", cfg["target_loss"], 0, 1e6))
    out["max_epochs"] = (None if cfg["max_epochs"] is None
                         else _number("max_epochs", cfg["max_epochs"], 1, 1_000_000,
                                      integer=True))
    out["heatmap_size"] = _number("heatmap_size", cfg["heatmap_size"], 10, 100, integer=True)
    out["fps"] = _number("fps", cfg["fps"], 1, 20, integer=True)
    return {k: out[k] for k in DEFAULT_CONFIG}


def _renamed(update: dict) -> dict:
    """``update`` with old key names (:data:`RENAMED_KEYS`) under their new ones."""
    if not any(old in update for old in RENAMED_KEYS):
        return update
    out = {}
    for key, value in update.items():
        new = RENAMED_KEYS.get(key, key)
        if new in out and out[new] != value:
            raise SchemaError(f"config: {key!r} is the old name of {new!r}; give one of them, "
                              f"got {out[new]!r} and {value!r}")
        out[new] = value
    return out


def parse_json(body: bytes, *, allow_empty: bool = True):
    """Decode a request body as JSON; an empty body is ``{}`` when ``allow_empty``."""
    if len(body) > LIMITS["max_body_bytes"]:
        raise SchemaError(f"body: at most {LIMITS['max_body_bytes']} bytes, got {len(body)}",
                          413)
    if not body.strip():
        if allow_empty:
            return {}
        raise SchemaError("body: expected a JSON object, got an empty body")
    try:
        return json.loads(body)
    except RecursionError:
        raise SchemaError("body: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as err:
        raise SchemaError(f"body: malformed JSON ({err})") from None


def _object(field, value):
    if not isinstance(value, dict):
        raise SchemaError(f"{field}: expected an object, got {_type_name(value)}")
    return value


def validate_points(body, task: str) -> list[tuple[float, float, float, bool]]:
    """Check ``{"points": [{"x1", "x2", "label", "split"}]}``; returns (x1, x2, y, is_test)."""
    body = _object("body", body)
    points = body.get("points")
    if not isinstance(points, list) or not points:
        raise SchemaError("points: expected a non-empty list of {x1, x2, label}")
    if len(points) > LIMITS["max_points_per_request"]:
        raise SchemaError(f"points: at most {LIMITS['max_points_per_request']} per request, "
                          f"got {len(points)}")
    out = []
    for k, p in enumerate(points):
        p = _object(f"points[{k}]", p)
        extra = [key for key in p if key not in ("x1", "x2", "label", "split")]
        if extra:
            raise SchemaError(f"points[{k}]: unknown key {extra[0]!r}")
        x1 = _number(f"points[{k}].x1", p.get("x1"), -DOMAIN, DOMAIN)
        x2 = _number(f"points[{k}].x2", p.get("x2"), -DOMAIN, DOMAIN)
        if task == "regression":
            y = float(_number(f"points[{k}].label", p.get("label"), -1e6, 1e6))
        else:
            y = _number(f"points[{k}].label", p.get("label"), 0, LIMITS["max_classes"] - 1,
                        integer=True)
        split = _choice(f"points[{k}].split", p.get("split", "train"), ("train", "test"))
        out.append((float(x1), float(x2), y, split == "test"))
    return out


def validate_weight_edit(body, shapes: list[tuple[int, int]]) -> tuple[int, int, int | None,
                                                                         float]:
    """Check ``{"layer", "i", "j", "value"}`` against the Linear shapes ``(out, in)``."""
    body = _object("body", body)
    extra = [key for key in body if key not in ("layer", "i", "j", "value")]
    if extra:
        raise SchemaError(f"weights: unknown key {extra[0]!r} (expected layer, i, j, value)")
    layer = _number("layer", body.get("layer"), 0, len(shapes) - 1, integer=True)
    n_out, n_in = shapes[layer]
    i = _number("i", body.get("i"), 0, n_out - 1, integer=True)
    j = body.get("j")
    if j is not None:
        j = _number("j", j, 0, n_in - 1, integer=True)
    value = float(_number("value", body.get("value"), -LIMITS["max_weight"],
                          LIMITS["max_weight"]))
    return layer, i, j, value


def validate_step(body) -> int:
    """Check the optional ``{"epochs": n}`` of a step command."""
    body = _object("body", body)
    extra = [key for key in body if key not in ("epochs", "type")]
    if extra:
        raise SchemaError(f"step: unknown key {extra[0]!r} (expected epochs)")
    return _number("epochs", body.get("epochs", 1), 1, LIMITS["max_step_epochs"],
                   integer=True)


def parse_csv(body: bytes):
    """Parse an uploaded CSV of ``x1,x2,label[,split]`` rows (an optional header).

    Returns:
        ``(rows, task, has_split)``: rows of ``(x1, x2, label, is_test)``, ``task`` is
        ``"classification"`` when every label is an integer 0..7, else ``"regression"``.
    """
    if len(body) > LIMITS["max_upload_bytes"]:
        raise SchemaError(f"upload: at most {LIMITS['max_upload_bytes']} bytes, "
                          f"got {len(body)}", 413)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SchemaError("upload: the file is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    lines = []
    try:
        for line in reader:
            if any(c.strip() for c in line):
                lines.append(line)
    except csv.Error as err:  # e.g. a field over the csv module's 128 KiB limit
        raise SchemaError(f"upload: row {reader.line_num}: {err}") from None
    if lines and lines[0] and lines[0][0].strip().lower() in ("x1", "x", "x_1"):
        lines = lines[1:]
    if not lines:
        raise SchemaError("upload: no data rows (expected x1,x2,label)")
    if len(lines) > LIMITS["max_upload_rows"]:
        raise SchemaError(f"upload: at most {LIMITS['max_upload_rows']} rows, "
                          f"got {len(lines)}", 413)
    rows, has_split = [], None
    for k, line in enumerate(lines, start=1):
        cells = [c.strip() for c in line]
        if len(cells) not in (3, 4):
            raise SchemaError(f"upload: row {k}: expected 3 or 4 columns "
                              f"(x1,x2,label[,split]), got {len(cells)}")
        if has_split is None:
            has_split = len(cells) == 4
        elif has_split != (len(cells) == 4):
            raise SchemaError(f"upload: row {k}: every row needs the same number of columns")
        try:
            x1, x2, y = float(cells[0]), float(cells[1]), float(cells[2])
        except ValueError:
            raise SchemaError(f"upload: row {k}: x1, x2 and label must be numbers, "
                              f"got {','.join(cells[:3])!r}") from None
        for name, v in (("x1", x1), ("x2", x2)):
            if not math.isfinite(v) or abs(v) > DOMAIN:
                raise SchemaError(f"upload: row {k}: {name} must be in [-6, 6], got {v}")
        if not math.isfinite(y) or abs(y) > 1e6:
            raise SchemaError(f"upload: row {k}: label must be a finite number, got {y}")
        is_test = False
        if has_split:
            if cells[3].lower() not in ("train", "test"):
                raise SchemaError(f"upload: row {k}: split must be train or test, "
                                  f"got {cells[3]!r}")
            is_test = cells[3].lower() == "test"
        rows.append((x1, x2, y, is_test))
    labels = [r[2] for r in rows]
    classification = all(y == int(y) and 0 <= y < LIMITS["max_classes"] for y in labels)
    if classification:
        rows = [(a, b, int(y), t) for a, b, y, t in rows]
    return rows, ("classification" if classification else "regression"), bool(has_split)
