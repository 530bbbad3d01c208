"""The ``bricks`` command: train, evaluate and use a model without writing code.

    bricks train                      an MLP on the bundled MNIST digits, ~97% in seconds
    bricks train --data moons --model mlp:16,16 --epochs 50 --out runs/moons
    bricks evaluate runs/run-001      loss and metrics on the run's held-out test split
    bricks predict runs/run-001 digit.png
    bricks datasets                   what ``--data`` accepts

This module is the command line only: the options (argparse), the configuration (defaults <
``--config`` file < flags) and one short function per command.  The work is the library's:
:mod:`bricks.train.run` trains a run with :class:`bricks.train.Trainer` into a run folder,
:mod:`bricks.train.saved_run` reads one back for evaluate and predict,
:mod:`bricks.train.run_data` and :mod:`bricks.data.files` load the data.

A run folder holds ``checkpoint.safetensors`` (weights, optimizer, scaler, random state and,
in its metadata, the configuration and data description that rebuild the model),
``config.toml``, ``history.csv``, ``history.json`` and PNG plots.  See docs/cli.md.

Errors the user can fix (a bad option, an unknown dataset, a missing or corrupt file) end
with one line ``bricks: error: ...`` on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bricks.optim import OPTIMIZERS
from bricks.train.run import blas_threads
from bricks.train.run_config import (
    AUGMENTS,
    DEFAULTS,
    SCALERS,
    SCHEDULES,
    TARGET_SCALERS,
    TASKS,
    RunError,
)

__all__ = ["main", "build_parser", "DEFAULTS"]


class CLIError(RunError):
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
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=S,
                   help="run each update as a compiled plan (bricks.compile): the same "
                        "numbers, faster (default: on; --no-compile runs eagerly)")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), default=S,
                   help=f"update rule (default: {d['optimizer']})")
    p.add_argument("--lr", type=float, default=S,
                   help=f"learning rate (default: the optimizer's own, e.g. "
                        f"{OPTIMIZERS[d['optimizer']].lr} for {d['optimizer']}; see "
                        f"bricks.optim.OPTIMIZERS)")
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
    p.add_argument("--device", default=S, metavar="DEVICE",
                   help="where to train: cpu (default), cuda or cuda:N (an NVIDIA GPU, through "
                        "CuPy: pip install 'bricks[gpu]'; see docs/gpu.md)")
    p.add_argument("--threads", type=_positive_int, default=S,
                   help="BLAS threads (default: 1; small layers gain nothing from more)")
    p.add_argument("--out", default=S, metavar="DIR",
                   help="run folder (default: runs/run-NNN, the next free number)")
    p.add_argument("--resume", default=S, metavar="RUN_OR_CHECKPOINT",
                   help="continue a run from its last checkpoint up to --epochs")
    p.add_argument("--quiet", action="store_true", default=S,
                   help="no progress output, only the result lines")
    p.add_argument("--nproc", type=_positive_int, default=S, metavar="N",
                   help="train data-parallel on N processes (mpiexec), each on its share of "
                        "every batch: the same training as one process, in less time "
                        "(see docs/distributed.md)")
    p.add_argument("--hostfile", default=S, metavar="FILE",
                   help="with --nproc: the machines to run on (an MPI hostfile)")


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


def _config_for(args: argparse.Namespace) -> tuple[dict, dict]:
    """(config, options given explicitly) from defaults < --config file < flags."""
    from bricks.train.run_config import check_config

    given = dict(vars(args))
    given.pop("command", None)
    from_file = _read_toml(given.pop("config")) if "config" in given else {}
    explicit = {**from_file, **given}
    return check_config({**DEFAULTS, **explicit}), explicit


# ---------------------------------------------------------------- train, evaluate, predict
def cmd_train(args) -> int:
    from bricks.distributed import launched_by_mpi, rank
    from bricks.train import TrainingDiverged
    from bricks.train.run import result_line, train_run

    argv, nproc = vars(args).pop("argv"), vars(args).pop("nproc", 1)
    hostfile = vars(args).pop("hostfile", None)
    cfg, explicit = _config_for(args)
    if (nproc > 1 or hostfile) and not launched_by_mpi():  # start N copies of this command
        from bricks.distributed.launch import launch

        full_batch = OPTIMIZERS[cfg["optimizer"]].full_batch and "batch_size" not in explicit
        if cfg["batch_size"] % nproc and "resume" not in explicit and not full_batch:
            raise CLIError(f"--batch-size {cfg['batch_size']} (the global batch) does not "
                           f"split evenly over --nproc {nproc}; choose a multiple of {nproc}")
        return launch(nproc, [sys.executable, "-m", "bricks", *argv], hostfile)
    try:
        done = train_run(cfg, explicit)
    except TrainingDiverged as err:
        print(f"bricks: error: training diverged: {err}", file=sys.stderr)
        return 1
    if rank() != 0:  # data-parallel: rank 0 speaks for all
        return 0
    print(result_line(done.result, done.task, done.n_test) + f" ({done.elapsed:.1f} s)")
    if not done.config["quiet"]:
        print(f"run folder: {done.run}")
        for name in sorted(os.listdir(done.run)):
            if not name.startswith("."):
                print(f"  {name}")
    return 0


def cmd_evaluate(args) -> int:
    from bricks.train.run import result_line
    from bricks.train.saved_run import checkpoint_path, evaluate_saved

    path = checkpoint_path(args.run)
    result, what, n, task, held_out = evaluate_saved(path, args.data, args.target,
                                                     args.batch_size)
    print(f"evaluate {path} on {what}:")
    print(result_line(result, task, n, held_out))
    return 0


def cmd_predict(args) -> int:
    from bricks.train.saved_run import checkpoint_path, predict_saved, prediction_table

    path = checkpoint_path(args.run)
    if args.output is not None:
        if os.path.isdir(args.output):
            raise CLIError(f"--output {args.output} is a folder; give a file name, e.g. "
                           f"{os.path.join(args.output, 'predictions.csv')}")
        folder = os.path.dirname(os.path.abspath(args.output))
        if not os.path.isdir(folder):
            raise CLIError(f"--output folder does not exist: {folder}")
    out, dmeta = predict_saved(path, args.input, args.batch_size)
    table, shown = prediction_table(out, dmeta)
    if args.output:
        from bricks.io import atomic_write

        with atomic_write(args.output, "w", newline="") as f:
            f.write(table)
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
        args.argv = list(sys.argv[1:] if argv is None else argv)  # for train --nproc
        if args.command is None:
            parser.print_help()
            return 2
        with blas_threads(getattr(args, "threads", None) or DEFAULTS["threads"]):
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
    except KeyboardInterrupt as stop:  # a run's TrainingInterrupted says how to resume
        print("bricks: interrupted" + (f" ({stop})" if str(stop) else ""), file=sys.stderr)
        return 130
