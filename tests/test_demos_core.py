"""The core lecture demos (linear-collapse, activations, vanishing-gradients, init-symmetry,
optimizers) assert their claims on the fast setting."""

import math

import pytest

import bricks
import bricks.demos
from bricks import optim
from bricks.demos import DemoResult

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CORE = ["linear-collapse", "activations", "vanishing-gradients", "init-symmetry", "optimizers"]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """Each demo run once (fast) through the public ``run_demo``, into its own folder."""
    out = {}
    for name in CORE:
        folder = tmp_path_factory.mktemp(name)
        out[name] = (bricks.demos.run_demo(name, folder, fast=True), folder)
    return out


def _check_figures(result, folder, count):
    assert len(result.figures) == count
    for path in result.figures:
        assert path.parent == folder
        data = path.read_bytes()
        assert data[:8] == PNG_SIGNATURE
        assert len(data) > 10_000  # a drawn figure, not an empty canvas


@pytest.mark.parametrize("name", CORE)
def test_demo_module_contract(name, results):
    module = bricks.demos.get_demo(name)
    assert module.NAME == name
    assert module.TITLE and module.CLAIM
    result, _ = results[name]
    assert isinstance(result, DemoResult)
    assert result.claim == module.CLAIM
    assert result.lines and all(isinstance(line, str) for line in result.lines)
    report = result.report()
    assert module.CLAIM in report
    for path in result.figures:
        assert str(path) in report
    assert name in dict(bricks.demos.list_demos())


def test_linear_collapse(results):
    result, folder = results["linear-collapse"]
    c = result.checks
    _check_figures(result, folder, 1)
    # two linear layers equal the single layer (W2 W1, W2 b1 + b2) up to rounding
    assert c["collapse_gap_float32"] < 1e-5
    assert c["collapse_gap_float64"] < 1e-12
    assert c["collapse_gap_after_training"] < 1e-5
    # a tanh between them breaks the equality
    assert c["collapse_gap_tanh"] > 1e-2
    # the collapsed net cannot do XOR; the nonlinear one does, for every seed
    assert c["linear_best_accuracy"] <= 0.75
    assert c["tanh_min_final_accuracy"] == 1.0


def test_activations(results):
    result, folder = results["activations"]
    c = result.checks
    _check_figures(result, folder, 1)
    assert c["n_activations"] == 14
    assert c["sigmoid_formula_gap"] < 1e-12
    assert c["tanh_formula_gap"] < 1e-12
    assert c["relu_formula_gap"] == 0.0
    assert c["max_finite_difference_gap"] < 1e-6
    assert c["sigmoid_derivative_max"] <= 0.25
    assert c["sigmoid_derivative_max"] > 0.2499  # and it reaches 1/4 at 0
    assert c["step_derivative_max_abs"] == 0.0
    table = "\n".join(result.lines)
    for name in ("sigmoid", "tanh", "relu", "leaky relu", "ELU", "SELU", "GELU", "softplus",
                 "SiLU", "softsign", "step", "hardtanh", "mish", "PReLU"):
        assert name in table


def test_vanishing_gradients(results):
    result, folder = results["vanishing-gradients"]
    c = result.checks
    _check_figures(result, folder, 1)
    assert c["depth"] >= 10
    # the first layer's gradient is many orders of magnitude below the last's for sigmoid
    assert c["sigmoid_grad_ratio"] < 1e-3
    assert c["sigmoid_xavier_grad_ratio"] < 1e-3
    assert c["sigmoid_signal_ratio"] < 1e-3
    # and of the same order for ReLU with He init
    assert c["relu_grad_ratio"] > 1e-2
    assert 0.1 < c["relu_signal_ratio"] < 10
    # ReLU's loss falls far below chance, the sigmoid net's does not
    assert c["sigmoid_final_loss"] > 0.6
    assert c["relu_final_loss"] < 0.2
    assert c["relu_final_loss"] < c["sigmoid_final_loss"] / 3
    assert c["relu_accuracy"] >= 0.95
    assert c["sigmoid_accuracy"] <= 0.7


def test_init_symmetry(results):
    result, folder = results["init-symmetry"]
    c = result.checks
    _check_figures(result, folder, 1)
    # zero init: the hidden units moved but are exact copies of each other
    assert c["zeros_hidden_weight_norm"] > 0.1
    assert c["zeros_hidden_max_difference"] == 0.0
    assert c["zeros_output_weight_spread"] == 0.0
    assert c["tanh_zeros_hidden_weight_max"] == 0.0
    # random init: the units differ and the net fits the circle
    assert c["random_hidden_max_difference"] > 0.5
    assert c["random_accuracy"] >= 0.97
    assert c["zeros_accuracy"] <= 0.8
    assert c["random_final_loss"] < c["zeros_final_loss"] / 5


def test_optimizers(results):
    result, folder = results["optimizers"]
    c = result.checks
    _check_figures(result, folder, 3)
    assert [p.name for p in result.figures] == [
        "optimizers_canyon.png", "optimizers_rosenbrock.png", "optimizers_mlp.png"]
    # Newton solves the quadratic in one step, to rounding
    assert c["canyon_Newton_iterations"] == 1
    assert c["canyon_newton_final_value"] < 1e-20
    # gradient descent zig-zags across the canyon; momentum beats it
    assert c["canyon_gd_zigzag_sign_changes"] >= 20
    assert c["canyon_momentum_iterations"] < c["canyon_GD_iterations"]
    assert c["canyon_GD_iterations"] < math.inf
    # second-order methods reach Rosenbrock's minimum far sooner than gradient descent
    gd = c["rosenbrock_GD_iterations"]  # inf when it did not converge within the cap
    assert gd > 1000
    for name in ("Newton", "BFGS", "L-BFGS", "CG"):
        assert c[f"rosenbrock_{name}_iterations"] <= 60, name
        assert 10 * c[f"rosenbrock_{name}_iterations"] < gd, name
    # every optimizer lowers the MLP's loss
    for name, loss in c["mlp_final_loss"].items():
        assert loss < c["mlp_initial_loss"], name
    assert c["mlp_final_loss"]["Newton"] < c["mlp_final_loss"]["GD"]


def test_optimizers_table_lists_every_optimizer(results):
    result, _ = results["optimizers"]
    table = "\n".join(result.lines)
    for name in ("GD", "momentum", "Nesterov", "AdaGrad", "RMSProp", "Adadelta", "Adam",
                 "Newton", "BFGS", "L-BFGS", "CG"):
        assert f"\n{name} " in table, name


def test_run_demo_rejects_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="unknown demo"):
        bricks.demos.run_demo("no-such-demo", tmp_path, fast=True)


def test_conjugate_gradient_one_iteration_per_step_makes_progress():
    w = bricks.nn.Parameter(bricks.tensor([-4.0, 1.0], dtype=bricks.float64))
    opt = optim.ConjugateGradient([w], max_iter=1)

    def closure():
        opt.zero_grad()
        loss = 0.5 * (w[0] ** 2 + 50.0 * w[1] ** 2)
        loss.backward()
        return loss

    for _ in range(50):
        opt.step(closure)
    assert max(abs(v) for v in w.tolist()) < 1e-3
