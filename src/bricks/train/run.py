"""A ``bricks train`` run: the model and optimizer its configuration names, trained by
:meth:`Trainer.fit <bricks.train.Trainer.fit>` into a run folder, and the plots of the result.

    build(cfg, data)          model, optimizer (bricks.optim.create), schedule and loss
    train_run(cfg, explicit)  load the data, train, checkpoint every epoch, plot -> RunResult

The training loop is :class:`~bricks.train.Trainer`'s, with its callbacks: a raising
:class:`~bricks.train.NaNGuard` (a diverged epoch is neither logged nor saved),
:class:`~bricks.train.CSVLogger`, :class:`~bricks.train.JSONLogger` and a
:class:`~bricks.train.ModelCheckpoint` that saves, after every epoch, everything a resumed
run needs to repeat the uninterrupted one bit for bit (weights, optimizer, schedule, input
scaler, random states) and the metadata that rebuilds the model
(:mod:`bricks.train.saved_run`).
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from dataclasses import dataclass

import bricks.distributed as dist
from bricks.backend import manual_seed, xp
from bricks.distributed.fit import local_batch_size
from bricks.train.run_config import (
    CHECKPOINT,
    DEFAULTS,
    RESUMABLE,
    RunError,
    check_config,
    saved_config,
    toml_text,
)
from bricks.train.run_data import (
    Pipeline,
    augmentation,
    flat,
    load_data,
    make_scaler,
    split_data,
    unscaled,
    with_scaler,
)

__all__ = ["build", "check_model", "metrics_for", "train_run", "RunResult",
           "TrainingInterrupted", "result_line", "blas_threads", "MAX_PLOTTED_CLASSES"]

MAX_PLOTTED_CLASSES = 200  # a confusion matrix beyond this is unreadable (and K*K big)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run; the message says whether and how it can be resumed."""


@dataclass
class RunResult:
    """What :func:`train_run` did: the run folder, its configuration (a resumed run's
    own), the History, the final held-out loss and metrics (``result``; regression in the
    data's units), the task, the number of held-out samples and the seconds it took."""

    run: str
    config: dict
    history: object
    result: dict
    task: str
    n_test: int
    elapsed: float


# ---------------------------------------------------------------- model, optimizer
def build(cfg: dict, data: dict):
    """``(model, optimizer, scheduler, loss_fn)`` for a config and a data description
    (``task``, ``classes``, ``sample_shape``)."""
    from bricks import nn, optim
    from bricks.io import limit
    from bricks.models import build_model

    out = len(data["classes"]) if data["task"] == "classification" else 1
    try:
        model = build_model(cfg["model"], data["sample_shape"], out, cfg["activation"],
                            cfg["dropout"], cfg["batch_norm"],
                            max_parameters=limit("BRICKS_MAX_PARAMETERS"))
    except ValueError as err:
        if "over the limit" not in str(err):
            raise
        raise RunError(f"{err} (BRICKS_MAX_PARAMETERS; raise it in the environment if you "
                       f"mean it)") from None
    optimizer = optim.create(cfg["optimizer"], model.parameters(), lr=cfg["lr"])
    scheduler = None
    if cfg["schedule"] == "cosine":
        scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg["epochs"])
    elif cfg["schedule"] == "step":
        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=max(1, cfg["epochs"] // 3),
                                              gamma=0.1)
    loss_fn = nn.CrossEntropyLoss() if data["task"] == "classification" else nn.MSELoss()
    return model, optimizer, scheduler, loss_fn


def check_model(cfg, d):
    """The model options, and the model's size for this data, checked without building it."""
    from bricks.io import limit
    from bricks.models import ACTIVATIONS, count_parameters

    out = len(d["classes"]) if d["task"] == "classification" else 1
    try:
        n = count_parameters(cfg["model"], d["sample_shape"], out, cfg["batch_norm"])
    except ValueError as err:
        raise RunError(f"--model: {err}") from None
    key = cfg["activation"].strip().lower().replace("-", "_")
    if key not in ACTIVATIONS:
        raise RunError(f"--activation: unknown activation {cfg['activation']!r}; available: "
                       f"{', '.join(ACTIVATIONS)}")
    cap = limit("BRICKS_MAX_PARAMETERS")
    if n > cap:
        raise RunError(f"--model {cfg['model']} for {math.prod(d['sample_shape']):,} inputs "
                       f"and {out:,} outputs would have {n:,} weights, over the limit "
                       f"BRICKS_MAX_PARAMETERS={cap:,} (raise it in the environment if you "
                       f"mean it)")


def metrics_for(task):
    """The metrics a run reports: accuracy, or mse, mae and r2."""
    return ["accuracy"] if task == "classification" else ["mse", "mae", "r2"]


# ---------------------------------------------------------------- run folders
def new_run_folder(out):
    """Make the run folder ``out`` (refused if it holds a run), or the next free
    ``runs/run-NNN``; return its path."""
    if out is not None:
        if os.path.lexists(os.path.join(out, CHECKPOINT)):
            raise RunError(f"{out} already holds a run; choose another --out or continue it "
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
    raise RunError("runs/ is full; pass --out")  # pragma: no cover


def _resume_config(cfg, explicit):
    """``(cfg, run folder, checkpoint)`` of ``--resume``: the run's own settings, with only
    the RESUMABLE options taken from the command line."""
    from bricks.train.run_folder import check_run_folder
    from bricks.train.saved_run import checkpoint_path, read_checkpoint

    ckpt_in = checkpoint_path(explicit["resume"])
    _, old = read_checkpoint(ckpt_in)
    changed = [k for k in explicit if k not in RESUMABLE and k != "resume"
               and explicit[k] != old["config"].get(k, DEFAULTS.get(k))]
    if changed:
        raise RunError(f"--resume continues a run with its own settings; only "
                       f"{', '.join('--' + k for k in RESUMABLE)} may change (got "
                       f"{', '.join('--' + k.replace('_', '-') for k in changed)})")
    # a run from before target scaling trained on raw targets: keep it that way
    cfg = check_config({**DEFAULTS, "target_scaler": "none", **old["config"],
                        **{k: v for k, v in explicit.items() if k in RESUMABLE}})
    # Resume writes into the run it was given (or an explicit --out), never into a
    # folder named inside the checkpoint, which anyone may have edited or moved.
    source = os.path.dirname(os.path.abspath(ckpt_in))
    cfg["out"] = explicit.get("out")
    run = cfg["out"] or source
    if os.path.abspath(run) != source:
        new_run_folder(run)  # an explicit --out must not hold another run
    check_run_folder(run)
    if "epochs" in explicit and cfg["schedule"] != "none" and \
            explicit["epochs"] != old["config"]["epochs"]:
        print(f"bricks: note: the {cfg['schedule']} schedule was planned for "
              f"{old['config']['epochs']} epochs; the extra epochs continue it",
              file=sys.stderr)
    return cfg, run, ckpt_in


# ---------------------------------------------------------------- training
@contextlib.contextmanager
def blas_threads(n: int):
    """Limit BLAS to ``n`` threads: for layers this small, extra threads mostly wait (and
    on a busy machine they slow training down many times)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=n, user_api="blas"):
        yield


def _say(cfg, *lines):
    if not cfg["quiet"] and dist.rank() == 0:
        for line in lines:
            print(line, flush=True)


def train_run(cfg: dict, explicit: dict) -> RunResult:
    """Train the run ``cfg`` describes (``explicit``: the options the user gave, which
    ``--resume`` checks against the run's own) into its run folder.

    Every check that can fail comes before the run folder exists, and a refusal that only
    building the optimizer finds removes the new folder again, so a mistake leaves no empty
    ``runs/run-NNN`` behind; the folder is locked while the run writes to it.

    Raises:
        RunError: a mistake in the options, the data or the run folder.
        TrainingDiverged: the loss or the weights became NaN or infinite; the message says
            which checkpoint (the last finite epoch) is kept.
        TrainingInterrupted: Ctrl-C; the message says how to resume.
    """
    t0 = time.perf_counter()
    ckpt_in = run = None  # a new run's folder is made once the data has loaded
    if explicit.get("resume"):
        cfg, run, ckpt_in = _resume_config(cfg, explicit)
    elif cfg["out"] is not None and os.path.exists(os.path.join(cfg["out"], CHECKPOINT)):
        new_run_folder(cfg["out"])  # the error about an existing run
    with blas_threads(cfg["threads"]):
        return _train(cfg, explicit, run, ckpt_in, t0)


def _train(cfg, explicit, run, ckpt_in, t0):
    from bricks.train.run_folder import RunLock, check_run_folder

    d = load_data(cfg)
    split = split_data(d, cfg)
    augment_kind = cfg["augment"] or ("shift" if d["image"] else "none")
    if augment_kind != "none" and not d["image"]:
        raise RunError(f"--augment {augment_kind} needs image data; {cfg['data']} has "
                       f"samples of shape {tuple(d['sample_shape'])}")
    check_model(cfg, d)
    made = run is None
    if made:  # data-parallel (bricks.distributed): rank 0's folder for every rank
        run = dist.broadcast(new_run_folder(cfg["out"]) if dist.rank() == 0 else None)
    check_run_folder(run)
    try:
        with RunLock(run) if dist.rank() == 0 else contextlib.nullcontext():
            if ckpt_in is None and os.path.lexists(os.path.join(run, CHECKPOINT)):
                new_run_folder(run)  # another run finished there since we looked: refuse
            try:
                return _train_into(run, cfg, explicit, ckpt_in, d, *split, t0)
            except KeyboardInterrupt:
                if os.path.exists(os.path.join(run, CHECKPOINT)):
                    hint = f"continue with: bricks train --resume {run}"
                else:
                    hint = f"no epoch finished, nothing to resume in {run}"
                raise TrainingInterrupted(hint) from None
    except BaseException:
        # A refusal that only building can find (e.g. Newton on a model too large for its
        # Hessian) leaves no empty runs/run-NNN behind; a folder with any file stays.
        if made and dist.rank() == 0:
            _remove_if_unused(run)
        raise


def _remove_if_unused(run):
    """Remove the run folder ``run`` if it holds nothing but its lock file."""
    from bricks.train.run_folder import LOCK_NAME

    with contextlib.suppress(OSError):
        if set(os.listdir(run)) <= {LOCK_NAME}:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(run, LOCK_NAME))
            os.rmdir(run)


def _train_into(run, cfg, explicit, ckpt_in, d, X_train, X_test, y_train, y_test, t0):
    from bricks.data import DataLoader, TensorDataset
    from bricks.io import atomic_write
    from bricks.models import parse_model_spec
    from bricks.optim import OPTIMIZERS
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
    from bricks.train.saved_run import load_run_state, read_checkpoint

    if d["task"] == "classification" and OPTIMIZERS[cfg["optimizer"]].full_batch and \
            "batch_size" not in explicit:
        cfg["batch_size"] = len(X_train)  # L-BFGS and the other closure methods: full batch
    if "text" in d["info"] and "scaler" not in explicit:
        cfg["scaler"] = "none"  # TF-IDF rows are already unit length
    augment_kind = cfg["augment"] or ("shift" if d["image"] else "none")
    meta = {"task": d["task"], "classes": d["classes"], "sample_shape": d["sample_shape"],
            "image": d["image"], "source": d["info"], "n_train": len(X_train),
            "n_test": len(X_test),
            # the raw input range, so predict can tell 0..255 pixels from the 0..1 trained on
            "input_range": [float(X_train.min()), float(X_train.max())]}
    scaler = make_scaler(cfg["scaler"])
    if scaler is not None:
        scaler.fit(flat(X_train))
    # Regression targets of any size train as well as targets near 1: standardize them
    # (fitted on the training split, like the inputs); the model learns the scaled target
    # and `unscaled` maps its outputs back for every number the user sees.
    y_scaler = None
    y_train_fit, y_test_fit = y_train, y_test
    if d["task"] == "regression" and cfg["target_scaler"] == "standard":
        from bricks.data import StandardScaler

        y_scaler = StandardScaler().fit(y_train)
        y_train_fit = y_scaler.transform(y_train).astype(xp.float32)
        y_test_fit = y_scaler.transform(y_test).astype(xp.float32)

    manual_seed(cfg["seed"])
    model, optimizer, scheduler, loss_fn = build(cfg, meta)
    # --device: the parameters move (the optimizer holds the same objects); batches follow
    # the model in the Trainer, a checkpoint loads into the model's device.
    model.to(cfg.get("device", "cpu"))
    history, start = History(), 0
    if ckpt_in is not None:
        _, old = read_checkpoint(ckpt_in)
        for key in ("task", "classes", "sample_shape"):
            if old["data"][key] != meta[key]:
                raise RunError(f"{ckpt_in}: the saved state does not fit the data: the run "
                               f"was trained with {key} {old['data'][key]!r:.60}, "
                               f"{cfg['data']} now gives {meta[key]!r:.60}")
        # and the random state, for identical epochs
        ckpt = load_run_state(ckpt_in, model, scaler, optimizer, scheduler, restore_rng=True)
        start = int(ckpt["epoch"]) + 1
        history = History.from_dict(ckpt["history"])
    X_test_in = Pipeline(scaler)(X_test)

    # Shuffling, augmentation and dropout all draw from the global generator, which the
    # checkpoint saves: a resumed run repeats the uninterrupted one exactly.
    # (several processes, --nproc: each takes its share of every batch; bricks.distributed)
    batch_size = local_batch_size(cfg["batch_size"], len(X_train))
    loader = DataLoader(TensorDataset(X_train, y_train_fit), batch_size=batch_size,
                        shuffle=True, transform=Pipeline(scaler, augmentation(augment_kind)))
    # The held-out split, scored after every epoch in batches of 512 (as `evaluate`).
    val_data = DataLoader(TensorDataset(X_test_in.data, y_test_fit), batch_size=512)
    ckpt_path = os.path.join(run, CHECKPOINT)
    checkpoint = ModelCheckpoint(ckpt_path, save_best_only=False, scaler=scaler,
                                 metadata={"config": saved_config(cfg), "data": meta},
                                 extra=None if y_scaler is None else
                                 {"target_scaler": y_scaler.state_dict()})
    # NaNGuard first, raising: a diverged epoch is neither logged nor saved.
    callbacks = [NaNGuard(raise_error=True, check_val_loss=True),
                 CSVLogger(os.path.join(run, "history.csv")),
                 JSONLogger(os.path.join(run, "history.json")), checkpoint]
    # data_parallel: on several processes (--nproc), wrapped in DistributedDataParallel
    trainer = Trainer(dist.data_parallel(model), loss_fn, optimizer, metrics_for(d["task"]),
                      callbacks, scheduler, verbose=not cfg["quiet"], compile=cfg["compile"])
    trainer.history = history
    if dist.rank() == 0:
        with atomic_write(os.path.join(run, "config.toml"), "w") as f:
            f.write(toml_text(cfg, run))
    source = cfg["data"] if "name" not in d["info"] else d["info"]["name"]
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
    # Overflow is expected when training diverges; it is reported once, by NaNGuard,
    # instead of as NumPy warnings.
    try:
        with xp.errstate(over="ignore", invalid="ignore", divide="ignore"):
            trainer.fit(loader, val_data, cfg["epochs"], initial_epoch=start)
    except TrainingDiverged as err:
        saved = checkpoint.saved_epoch if checkpoint.saved_epoch is not None else (
            start - 1 if ckpt_in is not None else None)
        kept = ("nothing was saved" if saved is None else
                f"{ckpt_path} keeps epoch {saved + 1}, the last finite one")
        raise TrainingDiverged(f"{err} ({kept})", trainer.history) from None
    if trainer.history.stopped_reason:
        print(f"bricks: training stopped: {trainer.history.stopped_reason}", file=sys.stderr)
    elapsed = time.perf_counter() - t0

    model.cpu()  # the final scores and plots on the host (as the saved run is read back)
    result = evaluate(unscaled(model, y_scaler), (X_test_in, y_test), loss_fn,
                      metrics_for(d["task"]), 512)
    if dist.rank() == 0:
        _plots(run, trainer.history, model, scaler, d, X_test, X_test_in, y_test)
    return RunResult(run, cfg, trainer.history, result, d["task"], len(X_test), elapsed)


def result_line(result, task, n, held_out=True):
    """``test accuracy: 97.10% (loss 0.1000, 1500 held-out samples)`` or the regression
    metrics."""
    kind, samples = ("test", f"{n} held-out samples") if held_out else ("", f"{n} samples")
    if task == "classification":
        return (f"{kind} accuracy: {100 * result['accuracy']:.2f}% "
                f"(loss {result['loss']:.4f}, {samples})").strip()
    return (f"{kind} mse: {result['mse']:.4g}  mae: {result['mae']:.4g}  "
            f"r2: {result['r2']:.4f} ({samples})").strip()


# ---------------------------------------------------------------- plots
def _plots(run, history, model, scaler, d, X_test, X_test_in, y_test):
    """curves.png, and for classification confusion_matrix.png and misclassified.png
    (images) or decision_boundary.png (2-D inputs); none without matplotlib."""
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
                    with_scaler(model, scaler), X_test, y_test,
                    os.path.join(run, "decision_boundary.png")))
    except ImportError as err:
        print(f"bricks: no plots ({err})", file=sys.stderr)
    return written
