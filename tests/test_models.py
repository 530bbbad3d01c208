"""Model specs (mlp, cnn, gru/lstm/rnn) as ``bricks train --model`` builds them, the
command end to end with a CNN and a GRU, and the two demos of issue 12 on their fast
settings."""

from __future__ import annotations

import pytest

import bricks
from bricks import nn
from bricks.cli import main
from bricks.models import SequenceOutputs, build_model

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("spec,shape,layer", [
    ("cnn:4,8", (28, 28), nn.Conv2d), ("cnn:4/16,8", (3, 8, 8), nn.Conv2d),
    ("cnn:4", (40,), nn.Conv1d), ("gru:6", (40,), nn.GRU), ("lstm:5,7", (28, 28), nn.LSTM),
    ("rnn:3", (10,), nn.RNN), ("mlp:8", (28, 28), nn.Linear), ("linear", (5,), nn.Linear)])
def test_specs_build_models_that_take_flat_samples(spec, shape, layer):
    bricks.manual_seed(0)
    model = build_model(spec, shape, 10)
    n = 1
    for s in shape:
        n *= s
    out = model(bricks.randn(3, n))
    assert out.shape == (3, 10)
    assert any(isinstance(m, layer) for m in model.modules())
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_cnn_spec_layout_and_options():
    model = build_model("cnn:32,64", (28, 28), 10, batch_norm=True, dropout=0.25)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Unflatten", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Conv2d",
                     "BatchNorm2d", "ReLU", "MaxPool2d", "Flatten", "Dropout", "Linear",
                     "ReLU", "Dropout", "Linear"]
    assert model[11].in_features == 64 * 7 * 7 and model[11].out_features == 128
    assert [type(m).__name__ for m in build_model("cnn:4/", (8, 8), 2)][-2:] == ["Flatten",
                                                                               "Linear"]


def test_rnn_spec_reads_rows_or_steps_and_stacks_layers():
    model = build_model("gru:8,6", (28, 28), 10)
    grus = [m for m in model.modules() if isinstance(m, nn.GRU)]
    assert [(g.input_size, g.hidden_size) for g in grus] == [(28, 8), (8, 6)]
    assert isinstance(model[2], SequenceOutputs)
    assert model[-1].in_features == 28 * 6  # every row's output feeds the head
    assert build_model("gru:4", (40,), 3)[1].rnn.input_size == 1


@pytest.mark.parametrize("spec,message", [
    ("cnn:", "at least one conv width"), ("cnn:3,x", "positive integers"),
    ("gru:", "give the hidden size"), ("transformer:4", "unknown model")])
def test_bad_specs_say_what_is_expected(spec, message):
    with pytest.raises(ValueError, match=message):
        build_model(spec, (28, 28), 10)
    with pytest.raises(ValueError, match="not signals|not sequences|cnn"):
        build_model("cnn:3" if spec != "cnn:3" else spec, (2, 3, 4, 5), 10)


def test_summary_shows_shapes_and_parameter_counts_of_conv_and_recurrent_layers():
    text = build_model("cnn:6", (28, 28), 10).summary((1, 784))
    assert "Conv2d     (1, 6, 28, 28)" in text and "MaxPool2d  (1, 6, 14, 14)" in text
    assert "60" in text  # 6 filters of 3x3 plus 6 biases
    text = build_model("gru:8", (40,), 10).summary((1, 40))
    assert "GRU" in text and "(1, 40, 8)" in text
    assert f"{3 * 8 * (1 + 8) + 2 * 3 * 8:,}" in text  # W_ih, W_hh, b_ih, b_hh
    assert f"{40 * 8 * 10 + 10:,}" in text  # the head reads all 40 steps


def test_command_trains_evaluates_and_predicts_with_a_cnn_and_a_gru(tmp_path, capsys):
    for spec in ("cnn:4/", "gru:8"):
        out = str(tmp_path / spec.replace(":", "_").replace("/", ""))
        code = main(["train", "--data", "mnist1d", "--model", spec, "--epochs", "1",
                     "--batch-size", "64", "--out", out])
        text = capsys.readouterr().out
        assert code == 0, text
        assert ("Conv1d" if spec.startswith("cnn") else "GRU") in text
        assert "total parameters" in text
        accuracy = float(text.split("test accuracy: ")[1].split("%")[0])
        if spec.startswith("cnn"):
            assert accuracy > 20.0  # 10 classes: well above guessing after one epoch
        # the checkpoint rebuilds the same model from its spec and evaluates it
        assert main(["evaluate", out]) == 0
        again = float(capsys.readouterr().out.split("test accuracy: ")[1].split("%")[0])
        if spec.startswith("cnn"):
            assert again > 20.0


# ---------------------------------------------------------------- demos


@pytest.mark.slow
def test_mnist1d_demo_orders_the_architectures_as_the_paper(tmp_path):
    from bricks.demos import run_demo

    r = run_demo("mnist1d", tmp_path, fast=True)
    c = r.checks
    assert c["logistic_accuracy"] < c["MLP_accuracy"] < c["GRU_accuracy"] <= c["CNN_accuracy"]
    assert 25 < c["logistic_accuracy"] < 40  # the paper's 32%: no model beats linear much
    assert r.figures[0].read_bytes().startswith(PNG)
    assert any("paper" in line for line in r.lines)


@pytest.mark.slow
def test_conv_filters_demo_trains_and_draws_filters_and_maps(tmp_path):
    from bricks.demos import run_demo

    r = run_demo("conv-filters", tmp_path, fast=True)
    assert r.checks["test_accuracy"] > 0.6
    assert r.checks["roughness_after"] < r.checks["roughness_before"]  # smoother than noise
    assert r.checks["n_filters"] == 8 and r.checks["feature_map_shape"] == (8, 28, 28)
    assert len(r.figures) == 2
    for f in r.figures:
        assert f.read_bytes().startswith(PNG)


@pytest.mark.parametrize("spec,shape,bn", [
    ("cnn:4,8", (28, 28), False), ("cnn:4,8/16", (3, 9, 9), True), ("cnn:5", (40,), True),
    ("gru:6,4", (40,), False), ("lstm:5", (28, 28), False), ("rnn:3", (7, 2), False),
    ("mlp:8,4", (5,), True)])
def test_count_parameters_matches_the_built_model(spec, shape, bn):
    from bricks.models import count_parameters

    model = build_model(spec, shape, 10, batch_norm=bn)
    stats = sum(b.numel() for b in model.buffers() if b.dtype != bricks.int64)
    assert count_parameters(spec, shape, 10, bn) == model.num_parameters() + stats


def test_command_refuses_a_model_over_the_parameter_limit(monkeypatch, capsys):
    monkeypatch.setenv("BRICKS_MAX_PARAMETERS", "1000")
    assert main(["train", "--data", "mnist1d", "--model", "cnn:32", "--quiet"]) == 2
    assert "BRICKS_MAX_PARAMETERS" in capsys.readouterr().err
