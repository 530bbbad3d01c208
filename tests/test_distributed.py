"""bricks.distributed: a world of one in this process, and 2-3 MPI processes via mpiexec.

The multi-process tests start ``mpiexec -n N python tests/distributed_worker.py ...`` and
compare what the ranks wrote with one process training on batches N times as large.
"""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import bricks
import bricks.distributed as dist
from bricks.distributed.launch import find_mpiexec, launch, mpiexec_command

sys.path.insert(0, os.path.dirname(__file__))
import distributed_worker as worker  # noqa: E402

WORKER = os.path.join(os.path.dirname(__file__), "distributed_worker.py")

try:
    import mpi4py  # noqa: F401
    _MPI_MISSING = None if find_mpiexec() else "no mpiexec found (pip install mpich)"
except ImportError:
    _MPI_MISSING = "mpi4py is not installed (pip install 'bricks[distributed]')"
needs_mpi = pytest.mark.skipif(_MPI_MISSING is not None, reason=str(_MPI_MISSING))


def run_ranks(nproc, *args, timeout=120, env=None):
    """Run the worker as ``nproc`` ranks; return (returncode, output, seconds)."""
    line = mpiexec_command(nproc, [sys.executable, WORKER, *map(str, args)])
    environ = dict(os.environ, **(env or {}))
    environ["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(os.path.dirname(os.path.dirname(__file__)), "src"),
         environ.get("PYTHONPATH", "")])
    start = time.monotonic()
    out = subprocess.run(line, capture_output=True, text=True, timeout=timeout, env=environ)
    return out.returncode, out.stdout + out.stderr, time.monotonic() - start


def load(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def max_diff(a, b):
    assert sorted(a) == sorted(b)
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


# ---------------------------------------------------------------- a world of one process
def test_world_of_one_without_mpiexec():
    dist.init()
    assert (dist.rank(), dist.world_size()) == (0, 1)
    x = np.arange(3.0)
    assert np.array_equal(dist.all_reduce(x, op="mean"), x)
    assert dist.all_reduce(2, op="max") == 2
    assert dist.broadcast([1, "a"]) == [1, "a"]
    assert dist.all_gather(bricks.ones(2, 3)).shape == (2, 3)
    dist.barrier()
    with pytest.raises(ValueError, match="op must be"):
        dist.all_reduce(x, op="prod")
    with pytest.raises(ValueError, match="src must be a rank in 0..0"):
        dist.broadcast(x, src=1)
    with pytest.raises(TypeError, match="expected a Tensor, an array or a number"):
        dist.all_reduce("abc")


def test_ddp_in_one_process_trains_like_the_bare_model():
    case = worker.FIT_CASES["adam32_dropout"]
    bare, h1 = worker.run_fit(case, 53, 8, 2, distributed=False)
    wrapped, h2 = worker.run_fit(case, 53, 8, 2, distributed=True)
    assert max_diff({k: v.data for k, v in bare.state_dict().items()},
                    {k: v.data for k, v in wrapped.state_dict().items()}) == 0.0
    assert h1.history == h2.history
    assert list(wrapped.state_dict()) == list(bare.state_dict())  # no "module." prefix


def test_ddp_errors():
    with pytest.raises(TypeError, match="expected a bricks.nn.Module"):
        dist.DistributedDataParallel(lambda x: x)
    model = dist.DistributedDataParallel(bricks.nn.Linear(2, 1))
    with pytest.raises(RuntimeError, match="call the model in training mode"):
        model.sync_gradients()
    with pytest.raises(ValueError, match="Newton takes its own derivatives"):
        bricks.train.fit(model, bricks.nn.MSELoss(), bricks.optim.Newton(model.parameters()),
                         (np.zeros((4, 2)), np.zeros((4, 1))), verbose=False)


def test_sampler_shards_cover_every_sample_once_per_epoch():
    for n, world in [(10, 3), (7, 2), (2, 3), (64, 4)]:
        samplers = [dist.DistributedSampler(n, world, r, seed=1) for r in range(world)]
        for epoch in range(3):
            for s in samplers:
                s.set_epoch(epoch)
            shards = [list(s) for s in samplers]
            assert sorted(i for shard in shards for i in shard) == list(range(n))
            assert [len(s) for s in shards] == [len(s) for s in samplers]
            assert max(map(len, shards)) - min(map(len, shards)) <= 1
            order = samplers[0].global_order()
            for r, shard in enumerate(shards):  # rank r: every world-th from position r
                assert shard == order[r::world].tolist()
    a, b = (dist.DistributedSampler(50, 2, 0, seed=4) for _ in range(2))
    first = list(a)
    assert first == list(b)  # the same seed, the same order
    a.set_epoch(1)
    assert list(a) != first  # reshuffled per epoch
    assert list(dist.DistributedSampler(6, 2, 1, shuffle=False)) == [1, 3, 5]
    with pytest.raises(ValueError, match="rank must be in 0..1"):
        dist.DistributedSampler(6, 2, 2)


def test_dataloader_takes_a_sampler():
    ds = bricks.data.TensorDataset(np.arange(10))
    loader = bricks.data.DataLoader(ds, batch_size=2,
                                    sampler=dist.DistributedSampler(10, 2, 1, shuffle=False))
    assert len(loader) == 3
    assert [b.tolist() for (b,) in loader] == [[1, 3], [5, 7], [9]]
    with pytest.raises(ValueError, match="sampler and shuffle=True"):
        bricks.data.DataLoader(ds, sampler=[0, 1], shuffle=True)


# ---------------------------------------------------------------- several processes
@needs_mpi
def test_collectives_across_ranks(tmp_path):
    rc, out, _ = run_ranks(3, "collectives", tmp_path)
    assert rc == 0, out
    assert sorted(os.listdir(tmp_path)) == ["ok-rank0", "ok-rank1", "ok-rank2"]


def check_fit_matches_one_process(tmp_path, nproc, n, batch, epochs):
    rc, out, _ = run_ranks(nproc, "fit", tmp_path, n, batch, epochs)
    assert rc == 0, out
    for name, case in worker.FIT_CASES.items():
        model, history = worker.run_fit(case, n, nproc * batch, epochs, distributed=False)
        ref = {k: v.data for k, v in model.state_dict().items()}
        tol = 1e-6 if case["dtype"] == "float32" else 1e-12
        for r in range(nproc):
            got = load(tmp_path / f"{name}-rank{r}.npz")
            assert max_diff(got, ref) < tol, (name, r, max_diff(got, ref))
            with open(tmp_path / f"{name}-rank{r}.json") as f:
                logged = json.load(f)["history"]
            # the epoch's loss and accuracy are those of all the data, on every rank
            assert np.allclose(logged["loss"], history.history["loss"], rtol=1e-5, atol=0)
            assert logged["accuracy"] == history.history["accuracy"]
        assert max_diff(load(tmp_path / f"{name}-rank0.npz"),
                        load(tmp_path / f"{name}-rank{nproc - 1}.npz")) == 0.0


@needs_mpi
@pytest.mark.slow
def test_two_ranks_train_like_one_process_with_twice_the_batch(tmp_path):
    # 53 samples, batch 4 per rank: 7 steps per epoch, the last with 5 samples (3 + 2);
    # SGD with momentum, Adam and L-BFGS, float32 and float64, with and without dropout.
    check_fit_matches_one_process(tmp_path, 2, 53, 4, 2)
    # the same with a loop of one's own instead of fit (the ranks exchange batch sizes)
    rc, out, _ = run_ranks(2, "loop", tmp_path, 53, 4, 2)
    assert rc == 0, out
    model, _ = worker.run_fit(worker.FIT_CASES["sgd64_dropout"], 53, 8, 2, distributed=False)
    ref = {k: v.data for k, v in model.state_dict().items()}
    for r in range(2):
        assert max_diff(load(tmp_path / f"loop-rank{r}.npz"), ref) < 1e-12


@needs_mpi
@pytest.mark.slow
def test_three_ranks_with_a_rank_that_runs_out_of_data(tmp_path):
    # 25 samples, batch 4 per rank: the third step has one sample, so ranks 1 and 2 take
    # part in it without data (weight 0) and must still apply the same update.
    check_fit_matches_one_process(tmp_path, 3, 25, 4, 3)


@needs_mpi
def test_sampler_shards_across_ranks(tmp_path):
    rc, out, _ = run_ranks(3, "sampler", tmp_path, 23)
    assert rc == 0, out
    shards = []
    for r in range(3):
        with open(tmp_path / f"shards-rank{r}.json") as f:
            shards.append(json.load(f))
    for mode in ("seed", "generator", "ordered", "loader"):
        for epoch in range(len(shards[0][mode])):
            parts = [s[mode][epoch] for s in shards]
            assert sorted(i for p in parts for i in p) == list(range(23)), (mode, epoch)
    assert shards[0]["seed"][0] != shards[0]["seed"][1]  # set_epoch reshuffles
    expected = dist.DistributedSampler(23, 3, 1, seed=5)
    expected.set_epoch(2)
    assert shards[1]["seed"][2] == list(expected)  # the same order in any process


@needs_mpi
@pytest.mark.slow
def test_resume_with_a_different_number_of_processes(tmp_path):
    # Global batches of 12 samples: 2 ranks x 6, then 3 ranks x 4, or 1 process x 12.
    rc, out, _ = run_ranks(2, "checkpoint", tmp_path, 6, 3)
    assert rc == 0, out
    assert sorted(p for p in os.listdir(tmp_path) if p.startswith("ckpt")) == [
        "ckpt-1.safetensors", "ckpt-2.safetensors", "ckpt-3.safetensors"]
    assert not [p for p in os.listdir(tmp_path) if "tmp" in p]  # written atomically
    full = load(tmp_path / "full-rank0.npz")
    # 3 ranks pick up after epoch 1 of the 2-rank run ...
    rc, out, _ = run_ranks(3, "checkpoint", tmp_path, 4, 3, tmp_path / "ckpt-1.safetensors")
    assert rc == 0, out
    for r in range(3):
        assert max_diff(load(tmp_path / f"resumed-rank{r}.npz"), full) < 1e-6
        with open(tmp_path / f"resumed-rank{r}.json") as f:
            assert json.load(f)["ran"] == [1, 2]
    # ... and so does one process, without MPI, after epoch 2
    case = worker.FIT_CASES["adam32_dropout"]
    model, history = worker.run_fit(case, 53, 12, 3, distributed=False,
                                    resume=tmp_path / "ckpt-2.safetensors")
    assert max_diff({k: v.data for k, v in model.state_dict().items()}, full) < 1e-6
    assert len(history) == 3 and history.ran == [2]


@needs_mpi
def test_mismatched_models_fail_at_construction(tmp_path):
    rc, out, seconds = run_ranks(2, "mismatch", tmp_path)
    assert rc != 0
    assert ("the model differs across ranks: '0.weight' has shape (4, 3) (float32) on rank 0 "
            "but (5, 3) (float32) on rank 1") in out
    assert seconds < 60


@needs_mpi
def test_a_rank_that_raises_stops_all(tmp_path):
    rc, out, seconds = run_ranks(2, "fail", tmp_path, "raise")
    assert rc != 0
    assert "ValueError: a failure in rank 1's batch" in out
    assert "bricks.distributed: rank 1 of 2 stopped with ValueError" in out
    assert seconds < 60  # not the 50 epochs the ranks were asked for


@needs_mpi
def test_a_rank_that_dies_stops_all_and_launch_names_it(tmp_path, monkeypatch, capfd):
    src = os.path.join(os.path.dirname(os.path.dirname(__file__)), "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    start = time.monotonic()
    rc = launch(2, [sys.executable, WORKER, "fail", str(tmp_path), "kill"])
    seconds = time.monotonic() - start
    out, err = capfd.readouterr()
    assert rc != 0
    assert "signal 9" in out or "KILLED" in out.upper(), out
    assert "bricks: rank 1 of 2 (process " in err and "died first" in err, err
    assert seconds < 60


@needs_mpi
@pytest.mark.slow
def test_a_rank_that_leaves_early_makes_the_others_time_out(tmp_path):
    rc, out, seconds = run_ranks(2, "fail", tmp_path, "exit",
                                 env={"BRICKS_DISTRIBUTED_TIMEOUT": "3"})
    assert rc != 0
    assert "rank 0 of 2 waited 3 s in" in out, out
    assert "bricks.distributed: rank 0 of 2 stopped with DistributedError" in out
    assert seconds < 60


# ---------------------------------------------------------------- bricks train --nproc
def checkpoint_weights(run):
    from safetensors.numpy import load_file

    saved = load_file(os.path.join(run, "checkpoint.safetensors"))
    return {k: v for k, v in saved.items() if k.startswith("model.")}


@needs_mpi
@pytest.mark.slow
def test_bricks_train_nproc_trains_like_one_process_and_resumes_with_another_count(
        tmp_path, monkeypatch, capfd):
    from bricks.cli import main

    src = os.path.join(os.path.dirname(os.path.dirname(__file__)), "src")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]))
    monkeypatch.chdir(tmp_path)
    common = ["train", "--data", "moons", "--model", "mlp:16,16", "--batch-size", "32",
              "--schedule", "none",  # a resumed run then continues the same schedule
              "--quiet"]  # dropout 0.2 by default: the masks must match too
    assert main([*common, "--epochs", "3", "--out", "one"]) == 0
    capfd.readouterr()
    assert main([*common, "--epochs", "3", "--out", "two", "--nproc", "2"]) == 0
    out, err = capfd.readouterr()
    assert out.count("test accuracy:") == 1, out  # rank 0 speaks for all
    assert sorted(os.listdir("two")) == sorted(os.listdir("one"))
    one = checkpoint_weights("one")
    assert max_diff(checkpoint_weights("two"), one) < 1e-6
    # two epochs on 2 processes, the third on 4
    assert main([*common, "--epochs", "2", "--out", "part", "--nproc", "2"]) == 0
    assert main(["train", "--resume", "part", "--epochs", "3", "--nproc", "4"]) == 0
    assert max_diff(checkpoint_weights("part"), one) < 1e-6
    capfd.readouterr()
    assert main([*common, "--epochs", "1", "--nproc", "3"]) == 2
    assert "--batch-size 32 (the global batch) does not split evenly over --nproc 3" in (
        capfd.readouterr().err)


@needs_mpi
def test_mpiexec_command_line(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("localhost:2\n")
    line = mpiexec_command(2, ["python", "x.py"], hostfile=str(hosts))
    assert line[0] == find_mpiexec() and line[1:3] == ["-n", "2"]
    assert line[-2:] == ["python", "x.py"]
    assert str(hosts) in line and ("-f" in line or "--hostfile" in line)
    with pytest.raises(FileNotFoundError, match="--hostfile: no such file"):
        mpiexec_command(2, ["x"], hostfile=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="--nproc must be an int >= 1"):
        mpiexec_command(0, ["x"])
