"""`bricks train` (the default job) with and without --compile, interleaved, in one process.

Prints a table: wall and CPU seconds per run, and the final test line of each mode (the two
modes must print the same numbers).  1 BLAS thread (`--threads 1`, the CLI's default).

    python benchmarks/bench_cli_compile.py [--reps 2] [--epochs 30]

The machine may be shared: CPU time (``time.process_time``) moves less with the load than
wall time; report ratios from one run.  Issue 11 / docs/cli.md "Compiled by default".
"""

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time

from bricks.cli import main


def one_run(flag, epochs, folder):
    out = io.StringIO()
    w0, c0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(out):
        code = main(["train", flag, "--quiet", "--epochs", str(epochs), "--out", folder])
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    assert code == 0, out.getvalue()
    line = out.getvalue().strip().splitlines()[-1]
    return wall, cpu, line.rsplit(" (", 1)[0]  # the result without its timing


def main_bench(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args(argv)
    results = {"--no-compile": [], "--compile": []}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for flag in results:  # interleaved, so that a change of load hits both
                results[flag].append(one_run(flag, args.epochs,
                                             os.path.join(tmp, f"{flag[2:]}-{rep}")))
    print(f"bricks train (default job, {args.epochs} epochs), {args.reps} runs each, "
          f"interleaved; median seconds")
    print(f"{'mode':<14}{'wall':>8}{'cpu':>8}  result")
    for flag, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        print(f"{flag:<14}{wall:>8.1f}{cpu:>8.1f}  {runs[0][2]}")
    same = len({r[2] for runs in results.values() for r in runs}) == 1
    eager, comp = (statistics.median(r[1] for r in results[f]) for f in results)
    print(f"compiled / eager CPU time: {comp / eager:.2f}; same results: {same}")
    if not same:
        raise SystemExit("the compiled runs differ from the eager ones: timings are void")


if __name__ == "__main__":
    main_bench()
