"""The training demos (normalization ... universal-approximation) on their fast settings:
each demo's claim through its ``checks``, its figures as real PNG files, and run_demo."""

from __future__ import annotations

import math

import pytest

pytest.importorskip("matplotlib")

from bricks.demos import DEMOS, DemoResult, run_demo  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAMES = ["normalization", "regularization", "batchnorm", "learning-rate", "batch-size",
         "universal-approximation"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Each demo run once (fast) through run_demo, shared by the tests below."""
    import importlib.util

    out = {}
    for name in NAMES:
        if name == "batchnorm" and importlib.util.find_spec("sklearn") is None:
            continue  # the digits come from scikit-learn's copy
        out[name] = run_demo(name, tmp_path_factory.mktemp(name.replace("-", "_")), fast=True)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_result_and_figures(results, name):
    if name not in results:
        pytest.skip("needs scikit-learn")
    r = results[name]
    assert name in DEMOS
    assert isinstance(r, DemoResult)
    assert r.claim and r.lines and r.checks
    assert r.figures
    for path in r.figures:
        data = path.read_bytes()
        assert data[:8] == PNG_SIGNATURE, path
        assert len(data) > 5000, path  # a drawn figure, not an empty canvas
    assert r.claim in r.report()


def test_normalization(results):
    c = results["normalization"].checks
    assert c["step_ratio"] >= 10
    assert c["standardized_steps"] is not None and c["standardized_steps"] <= 50
    # The eigenbasis prediction matches the measured run where the run converged.
    assert abs(c["standardized_predicted"] - c["standardized_steps"]) <= 1
    # The raw run did not converge within its budget, consistent with the prediction.
    assert c["raw_run_steps"] is None and c["raw_steps"] > c["raw_budget"]
    assert c["raw_final_over_optimum"] > 1.01
    assert c["raw_kappa"] > 1000 * c["standardized_kappa"]
    assert c["standardized_lr"] >= 1000 * c["raw_lr"]


def test_regularization(results):
    c = results["regularization"].checks
    assert c["max_gap_variant"] == "none"
    for name in ("L2", "L1", "dropout", "early stopping"):
        assert c[f"gap_{name}"] < 0.5 * c["gap_none"], name
        assert c[f"val_loss_{name}"] < 0.5 * c["val_loss_none"], name
    assert c["train_loss_none"] < 0.05  # it really over-fits
    assert c["epochs_early stopping"] < c["epochs"]  # stopped early
    assert c["epochs_none"] == c["epochs"]


def test_batchnorm(results):
    if "batchnorm" not in results:
        pytest.skip("needs scikit-learn")
    c = results["batchnorm"].checks
    assert c["steps"] == c["steps_with_bn"]
    assert c["final_loss_without_bn"] > 2.0  # stuck near ln 10 = 2.30
    assert c["final_loss_with_bn"] < 0.8 * c["final_loss_without_bn"]
    assert c["test_accuracy_with_bn"] > c["test_accuracy_without_bn"] + 0.1


def test_learning_rate(results):
    c = results["learning-rate"].checks
    assert c["too_large_diverged"] is True
    assert not math.isfinite(c["final_too_large"])
    assert c["too_large_steps"] < c["steps"]  # NaNGuard stopped the run
    assert not c["good_diverged"] and not c["too_small_diverged"]
    assert c["best_label"] == "good"
    assert c["final_good"] < 0.5 * c["final_small"] < c["final_too_small"]
    assert c["final_good"] < 0.05


def test_batch_size(results):
    c = results["batch-size"].checks
    assert -1.3 <= c["slope"] <= -0.7
    assert c["batch_gradient_max_diff"] < 1e-5
    var = c["variance"]
    sizes = sorted(var)
    for a, b in zip(sizes, sizes[1:]):
        assert var[b] < var[a]
    for b in sizes:  # within 40% of tr(Sigma) / B
        assert abs(var[b] * b / c["trace"] - 1) < 0.4, b
    assert c["variance_without_replacement"][c["n"]] < 1e-12  # the full batch is exact
    rough = c["roughness"]
    assert rough[1] > 3 * rough[32] > 3 * rough[c["n"]]


def test_universal_approximation(results):
    c = results["universal-approximation"].checks
    widths = c["widths"]
    for key in ("smooth_errors", "step_errors"):
        err = c[key]
        for a, b in zip(widths, widths[1:]):
            assert err[b] <= 1.2 * err[a] + 1e-6, (key, a, b)
        assert err[widths[-1]] < 0.01 * err[widths[0]], key
    assert c["smooth_errors"][widths[-1]] < 1e-3
    assert c["step_errors"][widths[-1]] < 1e-3


def test_run_demo_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="unknown demo"):
        run_demo("no-such-demo", tmp_path, fast=True)
