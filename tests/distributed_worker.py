"""One rank of the multi-process tests in test_distributed.py (started by mpiexec).

    mpiexec -n N python tests/distributed_worker.py SCENARIO OUTDIR

Each scenario writes its results under OUTDIR (one file per rank) or asserts and lets an
uncaught exception abort the world; the test reads the files and the exit status.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

import bricks
import bricks.distributed as dist

# The runs that test_distributed.py checks against one process with batch N*b.
FIT_CASES = {
    "sgd32": dict(optimizer="sgd", dtype="float32", dropout=0.0),
    "adam32": dict(optimizer="adam", dtype="float32", dropout=0.0),
    "sgd64_dropout": dict(optimizer="sgd", dtype="float64", dropout=0.3),
    "adam64": dict(optimizer="adam", dtype="float64", dropout=0.0),
    "adam32_dropout": dict(optimizer="adam", dtype="float32", dropout=0.3),
    "lbfgs64": dict(optimizer="lbfgs", dtype="float64", dropout=0.0),
    # a random transform of the batches and the global generator's shuffle order
    "sgd32_noise_dropout": dict(optimizer="sgd", dtype="float32", dropout=0.3, noise=True),
}


def make_data(n: int, dtype: str):
    rng = np.random.default_rng(123)
    X = rng.normal(size=(n, 5)).astype(dtype)
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(np.int64) + (X[:, 2] > 1.0)
    return X, y


def make_model(dtype: str, dropout: float, hidden: int = 16):
    bricks.manual_seed(7)
    layers = [bricks.nn.Linear(5, hidden), bricks.nn.Tanh()]
    if dropout:
        layers.append(bricks.nn.Dropout(dropout))
    layers += [bricks.nn.Linear(hidden, 3)]
    model = bricks.nn.Sequential(*layers)
    return model.to(getattr(bricks, dtype)) if dtype == "float64" else model


def make_optimizer(name: str, params):
    if name == "sgd":
        return bricks.optim.SGD(params, lr=0.2, momentum=0.9)
    if name == "adam":
        return bricks.optim.Adam(params, lr=0.01)
    return bricks.optim.LBFGS(params, lr=0.5, max_iter=3)


class EpochsRun(bricks.train.Callback):
    """Notes the epochs that this run trained (a resumed run skips the first ones)."""

    def on_train_begin(self, logs):
        self.trainer.history.ran = []

    def on_epoch_begin(self, epoch, logs):
        self.trainer.history.ran.append(epoch)


def run_fit(case: dict, n: int, batch_size: int, epochs: int, distributed: bool,
            callbacks=None, resume=None):
    """Train on make_data(n); return (model, history). ``distributed``: wrap in DDP.

    ``history.ran``: the epochs trained in this run.
    """
    X, y = make_data(n, case["dtype"])
    model = make_model(case["dtype"], case["dropout"])
    if distributed:
        model = dist.DistributedDataParallel(model)
    opt = make_optimizer(case["optimizer"], model.parameters())
    data = (X, y)
    if case.get("noise"):
        data = bricks.data.DataLoader(bricks.data.TensorDataset(X, y), batch_size, shuffle=True,
                                      transform=bricks.data.transforms.GaussianNoise(0.1))
    history = bricks.train.fit(model, bricks.nn.CrossEntropyLoss(), opt, data,
                               epochs=epochs, batch_size=batch_size, seed=3,
                               metrics=["accuracy"], verbose=False,
                               callbacks=[EpochsRun(), *(callbacks or [])],
                               resume=resume)
    return model, history


def save_state(path: str, model, history=None) -> None:
    arrays = {k: v.data for k, v in model.state_dict().items()}
    np.savez(path, **arrays)
    if history is not None:
        with open(path + ".json", "w") as f:
            json.dump(dict(history.to_dict(), ran=history.ran), f)


def scenario_fit(out: str, n: int, batch_size: int, epochs: int) -> None:
    for name, case in FIT_CASES.items():
        model, history = run_fit(case, n, batch_size, epochs, distributed=True)
        save_state(os.path.join(out, f"{name}-rank{dist.rank()}"), model, history)


def scenario_loop(out: str, n: int, batch_size: int, epochs: int) -> None:
    """A training loop of one's own (no fit): DataLoader + DistributedSampler + DDP +
    sync_gradients, as run_fit(FIT_CASES["sgd64_dropout"]) trains with one process."""
    case = FIT_CASES["sgd64_dropout"]
    X, y = make_data(n, case["dtype"])
    model = dist.DistributedDataParallel(make_model(case["dtype"], case["dropout"]))
    opt = make_optimizer(case["optimizer"], model.parameters())
    bricks.manual_seed(3)  # what fit(seed=3) does: dropout's stream ...
    sampler = dist.DistributedSampler(n, generator=np.random.default_rng(3))  # ... and order
    loader = bricks.data.DataLoader(bricks.data.TensorDataset(X, y), batch_size,
                                    sampler=sampler)
    loss_fn = bricks.nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        for x, t in loader:
            opt.zero_grad()
            loss = loss_fn(model(x), t)
            loss.backward()
            model.sync_gradients(loss)
            opt.step()
    save_state(os.path.join(out, f"loop-rank{dist.rank()}"), model)


def scenario_collectives(out: str) -> None:
    r, size = dist.rank(), dist.world_size()
    x = np.arange(4.0) + r
    assert np.array_equal(dist.all_reduce(x), sum(np.arange(4.0) + q for q in range(size)))
    mean = dist.all_reduce(bricks.tensor(x), op="mean")
    assert isinstance(mean, bricks.Tensor)
    assert np.allclose(mean.data, np.arange(4.0) + (size - 1) / 2)
    assert dist.all_reduce(r, op="max") == size - 1
    assert dist.all_reduce(r + 1, op="min") == 1
    assert np.array_equal(dist.all_reduce(np.array([r], dtype=np.int64), op="sum"),
                          [size * (size - 1) // 2])
    t = bricks.tensor([float(r)] * 3)
    got = dist.broadcast(t, src=size - 1)
    assert got.tolist() == [float(size - 1)] * 3 and t.tolist() == [float(size - 1)] * 3
    assert dist.broadcast({"from": r}, src=1) == {"from": 1}
    gathered = dist.all_gather(np.full((r + 1, 2), r, dtype=np.int32))
    assert gathered.tolist() == [[q, q] for q in range(size) for _ in range(q + 1)]
    assert dist.all_gather(None if r == 0 else np.ones(2)).tolist() == [1.0] * 2 * (size - 1)
    dist.barrier()
    with open(os.path.join(out, f"ok-rank{r}"), "w") as f:
        f.write("ok")


def scenario_sampler(out: str, n: int) -> None:
    shards = {}
    for mode in ("seed", "generator", "ordered"):
        kwargs = {"seed": 5} if mode == "seed" else {}
        if mode == "generator":
            kwargs["generator"] = np.random.default_rng(9)
        sampler = dist.DistributedSampler(n, shuffle=mode != "ordered", **kwargs)
        epochs = []
        for epoch in range(3):
            sampler.set_epoch(epoch)
            epochs.append(list(sampler))
        shards[mode] = epochs
    loader = bricks.data.DataLoader(bricks.data.TensorDataset(np.arange(n)), batch_size=4,
                                    sampler=dist.DistributedSampler(n, seed=5))
    shards["loader"] = [[int(i) for (b,) in loader for i in b.tolist()]]
    with open(os.path.join(out, f"shards-rank{dist.rank()}.json"), "w") as f:
        json.dump(shards, f)


def scenario_checkpoint(out: str, batch_size: int, epochs: int, resume: str | None) -> None:
    """Train with a checkpoint after every epoch (rank 0 writes it), or resume from one."""
    case = FIT_CASES["adam32_dropout"]
    ckpt = bricks.train.ModelCheckpoint(os.path.join(out, "ckpt-{epoch}.safetensors"),
                                        save_best_only=False)
    model, history = run_fit(case, 53, batch_size, epochs, distributed=True, callbacks=[ckpt],
                             resume=resume)
    tag = "resumed" if resume else "full"
    save_state(os.path.join(out, f"{tag}-rank{dist.rank()}"), model, history)


def scenario_mismatch(out: str) -> None:
    width = 4 if dist.rank() == 0 else 5
    dist.DistributedDataParallel(bricks.nn.Sequential(bricks.nn.Linear(3, width)))


def scenario_fail(out: str, how: str) -> None:
    """Rank 1 fails in the middle of training; the others are inside collectives then."""
    case = FIT_CASES["sgd32"]

    class Fail(bricks.train.Callback):
        def on_batch_end(self, step, logs):
            if dist.rank() == 1 and logs["global_step"] == 3:
                if how == "raise":
                    raise ValueError("a failure in rank 1's batch")
                if how == "kill":
                    os.kill(os.getpid(), 9)
                if how == "exit":
                    sys.exit(0)  # leaves early without an error: the others time out

    run_fit(case, 200, 4, 50, distributed=True, callbacks=[Fail()])


def main(argv) -> None:
    scenario, out = argv[1], argv[2]
    args = argv[3:]
    dist.init()
    if scenario == "fit":
        scenario_fit(out, int(args[0]), int(args[1]), int(args[2]))
    elif scenario == "loop":
        scenario_loop(out, int(args[0]), int(args[1]), int(args[2]))
    elif scenario == "collectives":
        scenario_collectives(out)
    elif scenario == "sampler":
        scenario_sampler(out, int(args[0]))
    elif scenario == "checkpoint":
        scenario_checkpoint(out, int(args[0]), int(args[1]), args[2] if len(args) > 2 else None)
    elif scenario == "mismatch":
        scenario_mismatch(out)
    elif scenario == "fail":
        scenario_fail(out, args[0])
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")


if __name__ == "__main__":
    main(sys.argv)
