"""A trained ``bricks train`` run, read back from its checkpoint: rebuilt, checked, and used
by ``bricks evaluate`` and ``bricks predict``.

The checkpoint's metadata holds the run's configuration and a description of its data
(task, classes, sample shape, source); both are files anyone may edit, so every entry is
checked (:func:`read_checkpoint`) before a model is built from it, and a state that does not
fit the rebuilt objects is one :class:`~bricks.train.run_config.RunError`, never a traceback.
"""

from __future__ import annotations

import math
import os
import sys

from bricks.backend import xp
from bricks.train.run_config import CHECKPOINT, DEFAULTS, TASKS, RunError, check_config
from bricks.train.run_data import Pipeline, load_data, make_scaler, split_data, unscaled

__all__ = ["checkpoint_path", "read_checkpoint", "load_run_state", "restore",
           "evaluate_saved", "predict_saved", "prediction_table"]


def checkpoint_path(run: str) -> str:
    """The checkpoint of a run folder, or ``run`` itself when it names a file."""
    if os.path.isdir(run):
        path = os.path.join(run, CHECKPOINT)
        if not os.path.exists(path):
            raise RunError(f"{run} holds no {CHECKPOINT}; is it a bricks run folder?")
        return path
    if not os.path.exists(run):
        raise RunError(f"no such run folder or checkpoint: {run}")
    return run


def read_checkpoint(path):
    """``(checkpoint, metadata)`` of a ``bricks train`` checkpoint, the metadata checked;
    nothing is restored (not even the random state)."""
    from bricks.io import load_checkpoint

    ckpt = load_checkpoint(path, restore_rng=False)
    meta = ckpt.get("metadata")
    if not isinstance(meta, dict) or "config" not in meta or "data" not in meta:
        raise RunError(f"{path} is a bricks checkpoint but not from 'bricks train' (no "
                       f"model description in its metadata)")
    _check_run_metadata(ckpt, meta, path)
    return ckpt, meta


def _check_run_metadata(ckpt, meta, path):
    """Validate what 'bricks train' wrote (a file anyone may edit) before anything is built
    from it: each wrong entry is one RunError naming it, never a traceback later."""
    def need(ok, what):
        if not ok:
            raise RunError(f"{path}: invalid run metadata: {what}")

    def is_int(v):
        return isinstance(v, int) and not isinstance(v, bool)

    cfg, data = meta["config"], meta["data"]
    need(isinstance(cfg, dict), f"config should be a table, got {type(cfg).__name__}")
    unknown = sorted(k for k in cfg if k not in DEFAULTS and k != "resume")
    need(not unknown, f"config has unknown options {unknown}")
    try:
        check_config({**DEFAULTS, **cfg})
    except RunError as err:
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


def load_run_state(path, model, scaler, optimizer=None, scheduler=None, restore_rng=False):
    """load_checkpoint into the objects built from the metadata; a checkpoint whose tensors
    or states do not fit them (edited, or from another version) is one RunError."""
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
        raise RunError(f"{path}: the saved state does not fit the model its metadata "
                       f"describes ({type(err).__name__}: {text})") from None
    _check_finite(model, path)
    return ckpt


def restore(path, *, restore_rng=False):
    """``(model, scaler, loss_fn, cfg, meta)`` of a trained run: the model rebuilt from the
    metadata with its weights loaded, in eval mode, regression outputs in the data's
    units; ``scaler`` the fitted input scaler (or None)."""
    from bricks.train.run import build

    _, meta = read_checkpoint(path)
    cfg = {**DEFAULTS, **meta["config"]}
    model, optimizer, scheduler, loss_fn = build(cfg, meta["data"])
    scaler = make_scaler(cfg["scaler"])
    ckpt = load_run_state(path, model, scaler, restore_rng=restore_rng)
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
            raise RunError(f"{path}: invalid target scaler state ({err})") from None
    return unscaled(model, y_scaler), scaler, loss_fn, cfg, meta


def _check_finite(model, path):
    from bricks.train.callbacks import nonfinite_parameters

    bad = nonfinite_parameters(model)
    if bad:
        raise RunError(f"{path}: the weights {', '.join(bad[:3])}"
                       f"{' ...' if len(bad) > 3 else ''} hold NaN or infinite values (a "
                       f"diverged run?); retrain with a smaller learning rate")


# ---------------------------------------------------------------- evaluate
def evaluate_saved(path, data=None, target=None, batch_size: int = 512):
    """Evaluate the run at ``path`` on its held-out test split, or on all of ``data`` (a
    dataset name or file; its own training data still means the held-out split).

    Returns:
        ``(result, what, n, task, held_out)``: the loss and metrics, a description of the
        data, the number of samples, the task and whether they are the held-out split.
    """
    from bricks.data.files import check_sample_shape
    from bricks.train import evaluate
    from bricks.train.run import metrics_for

    model, scaler, loss_fn, cfg, meta = restore(path)
    dmeta = meta["data"]
    held_out = data is None or _same_source(data, target, dmeta)
    if held_out:
        # The run's own data: score only the rows it never trained on, so "held-out" holds.
        d = load_data(cfg)
        _, X, _, y = split_data(d, cfg)
        what = f"the held-out test split of {cfg['data']}"
        if data is not None:
            what += " (the run's training data: its training rows are left out)"
    else:
        d = load_data({**cfg, "data": data, "target": target})
        X, y = d["X"], d["y"]
        what = f"all {len(X)} samples of {data}"
        if d["task"] == "classification" and dmeta["task"] == "classification" and \
                d["classes"] != dmeta["classes"] and "file" in d["info"]:
            mapping = {c: i for i, c in enumerate(dmeta["classes"])}
            unknown = [c for c in d["classes"] if c not in mapping]
            if unknown:
                raise RunError(f"{data}: classes {unknown} were not in the training data")
            y = xp.asarray([mapping[d["classes"][i]] for i in y], dtype=xp.int64)
    check_sample_shape(d["X"], dmeta["sample_shape"], data or cfg["data"])
    with xp.errstate(over="ignore", invalid="ignore"):
        result = evaluate(model, (Pipeline(scaler)(X), y), loss_fn, metrics_for(dmeta["task"]),
                          batch_size)
    if not all(math.isfinite(v) for v in result.values()):
        raise RunError(f"{path}: the model's outputs on {what} are NaN or infinite "
                       f"(overflow: inputs far outside the training range?)")
    return result, what, len(X), dmeta["task"], held_out


def _same_source(data, target, dmeta) -> bool:
    """Whether --data names the data the run was trained on (its held-out part is then the
    only honest test set)."""
    from bricks.data.files import is_data_file

    source = dmeta.get("source") or {}
    if is_data_file(data):
        return (isinstance(source, dict) and source.get("file") == os.path.abspath(data)
                and (target is None or target == source.get("target")))
    key = data.strip().lower().replace("_", "-")
    return isinstance(source, dict) and source.get("name") == key


# ---------------------------------------------------------------- predict
def _read_inputs(path, dmeta):
    """The inputs ``path`` holds for a run described by ``dmeta``: a file of samples, or,
    for a model trained on text, a quoted text or a .txt file with one text per line."""
    from bricks.data.files import check_sample_shape, read_samples

    text = dmeta.get("source", {}).get("text")
    if text is not None and not path.lower().endswith((".npy", ".csv")):
        from bricks.data.text import vectorizer_from_state

        if os.path.isfile(path) and path.lower().endswith(".txt"):
            with open(path, encoding="utf-8") as f:  # one text per line
                texts = [line.strip() for line in f if line.strip()]
        else:
            texts = [path]  # the text itself
        if not texts:
            raise RunError(f"{path} holds no text")
        try:
            vectorizer = vectorizer_from_state(text)
        except (TypeError, ValueError, KeyError, AttributeError) as err:
            raise RunError(f"the run's text vectorizer (metadata data.source.text) is invalid: "
                           f"{err}") from None
        X = vectorizer.transform(texts).astype(xp.float32)
        check_sample_shape(X, dmeta["sample_shape"], "the text")
        return X
    source = dmeta.get("source", {})
    folder = source if "folder" in source else None  # decoded exactly as the folder was
    return read_samples(path, dmeta["sample_shape"], dmeta["image"], folder)


def _as_trained(X, dmeta, where):
    """Inputs in the range the run was trained on: an image run learned pixels in [0, 1]
    (image files are scaled on reading), so 0..255 pixels from a .npy or .csv file are
    divided by 255 as well, with a note; anything else is passed as it is."""
    from bricks.data.files import IMAGE_SUFFIXES

    if not dmeta["image"] or str(where).lower().endswith(IMAGE_SUFFIXES) or X.size == 0:
        return X
    hi = (dmeta.get("input_range") or [0.0, 1.0])[1]
    if hi <= 1.0 and 1.0 < float(X.max()) <= 255.0 and float(X.min()) >= 0.0:
        print(f"bricks: note: {where} holds pixels in 0..255; divided by 255 like the "
              f"0..1 images the run was trained on", file=sys.stderr)
        return (X / 255.0).astype(xp.float32)
    return X


def predict_saved(path, inputs: str, batch_size: int = 512):
    """``(outputs, data description)``: the run's outputs (float64, regression in the
    data's units) for the samples that ``inputs`` names (see :func:`_read_inputs`)."""
    from bricks.train import predict

    model, scaler, _, cfg, meta = restore(path)
    dmeta = meta["data"]
    X = _as_trained(_read_inputs(inputs, dmeta), dmeta, inputs)
    with xp.errstate(over="ignore", invalid="ignore"):
        out = predict(model, Pipeline(scaler)(X), batch_size).data.astype(xp.float64)
    if not xp.all(xp.isfinite(out)):
        raise RunError(f"{path}: the model's outputs for {inputs} are NaN or infinite "
                       f"(overflow: inputs far outside the training range?)")
    return out, dmeta


def prediction_table(out, dmeta):
    """``(csv_text, lines)``: the predictions as CSV (classification: the class, its
    probability and every class's; regression: the value) and one short line each."""
    import csv
    import io

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
        values = out.reshape(len(out), -1)[:, 0]
        writer.writerow(["index", "prediction"])
        for i, v in enumerate(values):
            writer.writerow([i, f"{v:.6g}"])
        shown = [f"{i}: {v:.6g}" for i, v in enumerate(values)]
    return buf.getvalue(), shown
