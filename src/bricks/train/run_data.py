"""The data of a ``bricks train`` run: loaded from what ``--data`` names, labelled, split,
and turned into the inputs the model sees.

    load_data(cfg)        a dataset name, a .csv/.npz file or an image folder -> RunData
    split_data(d, cfg)    the training and held-out test parts (stratified, seeded)
    Pipeline(scaler)      batch -> (augmented) -> flat -> scaled float32 Tensor
    unscaled(model, ys)   a regression model with its target scaling undone
"""

from __future__ import annotations

import os

from bricks.backend import xp
from bricks.data.files import is_data_file, read_table
from bricks.train.run_config import RunError

__all__ = ["load_data", "split_data", "encode_targets", "Pipeline", "make_scaler",
           "augmentation", "unscaled", "with_scaler"]


def encode_targets(y_raw, task, where, text_classes=None):
    """``(task, y, classes)``: the task (given, or inferred: whole numbers with at most 50
    distinct values are classes), the targets ready for the loss (class indices, or
    float32 (N, 1) for regression) and the class names (None for regression)."""
    if text_classes is not None:  # codes into the target's distinct texts
        if task == "regression":
            raise RunError(f"{where}: the target holds text; it cannot be a regression target")
        return "classification", _enough_classes(y_raw, text_classes, where), text_classes
    if y_raw.dtype.kind in "US":
        if task == "regression":
            raise RunError(f"{where}: the target holds text; it cannot be a regression target")
        task = "classification"
    elif task is None:
        whole = bool(xp.all(xp.mod(y_raw, 1) == 0)) if y_raw.size else False
        task = "classification" if whole and len(xp.unique(y_raw)) <= 50 else "regression"
    if task == "regression":
        return task, y_raw.astype(xp.float32).reshape(-1, 1), None
    if y_raw.ndim != 1:
        raise RunError(f"{where}: class targets must be one label per sample, got shape "
                       f"{y_raw.shape}")
    names, y = xp.unique(y_raw, return_inverse=True)
    classes = [_plain(v) for v in names.tolist()]
    return task, _enough_classes(y.astype(xp.int64), classes, where), classes


def _enough_classes(y, classes, where):
    if len(classes) < 2:
        raise RunError(f"{where}: the target has only one class ({classes[0]!r}), so there "
                       f"is nothing to classify; for numbers to predict use --task "
                       f"regression")
    return y


def _plain(v):
    return int(v) if isinstance(v, float) and v.is_integer() else v


def load_data(cfg: dict) -> dict:
    """The data a config names (``data``, ``target``, ``task``, ``seed``, ``image_size``,
    ``image_mode``), as a dict: ``X`` (N, ...) float32, ``y``, ``task``, ``classes``,
    ``info`` (where it came from: what rebuilds it), ``sample_shape``, ``image``."""
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
    elif is_data_file(data):
        X, y_raw, text_classes = read_table(data, cfg.get("target"))
        task, y, classes = encode_targets(y_raw, cfg.get("task"), data, text_classes)
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
        raise RunError(f"{data}: {len(X)} samples but {len(y)} targets")
    if len(X) < 4:
        raise RunError(f"{data}: too few samples to split ({len(X)})")
    X = X.astype(xp.float32)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if not xp.all(xp.isfinite(X)):
        raise RunError(f"{data}: the features hold NaN or infinite values")
    return {"X": X, "y": y, "task": task, "classes": classes, "info": info,
            "sample_shape": list(X.shape[1:]), "image": X.ndim in (3, 4)}


def split_data(d: dict, cfg: dict):
    """``(X_train, X_test, y_train, y_test)``: the dataset's own split, or a seeded
    ``test_size`` split, stratified for classification where every class allows it."""
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


def flat(X):
    return X.reshape(len(X), -1)


def make_scaler(kind):
    """A fresh StandardScaler ('standard'), MinMaxScaler ('minmax') or None ('none')."""
    from bricks.data import MinMaxScaler, StandardScaler

    return {"standard": StandardScaler, "minmax": MinMaxScaler}.get(kind, lambda: None)()


def augmentation(kind):
    """The image augmentation named ``kind`` ('shift', 'rotate', 'noise'), or None."""
    from bricks.data import transforms as T

    return {"shift": lambda: T.RandomShift(1), "rotate": lambda: T.RandomRotation(10),
            "noise": lambda: T.GaussianNoise(0.05)}.get(kind, lambda: None)()


class Pipeline:
    """Batch inputs -> (augmented) -> flat -> scaled, as the model sees them."""

    def __init__(self, scaler, augment=None):
        self.scaler, self.augment = scaler, augment

    def __call__(self, x):
        from bricks.tensor import Tensor

        data = x.data if isinstance(x, Tensor) else xp.asarray(x)
        if self.augment is not None:
            data = self.augment(data, batched=True)
        data = flat(data).astype(xp.float32)
        if self.scaler is not None:
            data = self.scaler.transform(data).astype(xp.float32)
        return Tensor(data)


def unscaled(model, y_scaler):
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


def with_scaler(model, scaler):
    """The model with the run's input scaler in front: raw inputs in, outputs out."""
    from bricks import nn

    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(Pipeline(scaler)(x))

    return Scaled()
