"""Every initialisation detail: the two presets, and each default pinned to its distribution.

The numbers are those of docs/paper_setup.md: glorot-uniform bounds, He truncated normal
standard deviations, the LSTM's forget bias, the fast-weights identity. Each check draws
thousands of values and compares their bounds and moments, not a trained result.
"""

import math

import pytest
import torch

from contextual_rnn.config import compose_config
from contextual_rnn.model.cells import LSTM, TRUNCATED_STD, FastWeights, init_linear
from contextual_rnn.train import build_run

ART_SMALL = ["data.task.train_size=64", "data.task.val_size=64", "logger=none"]


def draws(make, count: int = 200) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.cat([make().detach().flatten() for _ in range(count)])


def assert_uniform(values: torch.Tensor, bound: float) -> None:
    assert values.abs().max() <= bound
    assert values.max() > 0.98 * bound and values.min() < -0.98 * bound  # fills its range
    assert abs(values.mean()) < 0.02 * bound
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)


def test_fast_weights_input_bias_is_glorot_uniform_by_default():
    """The authors' b has no initialiser: TF's glorot-uniform, U(+-sqrt(3/H)), +-0.245 at H=50."""
    values = draws(lambda: FastWeights(100, 50).input.bias)
    assert_uniform(values, math.sqrt(3 / 50))
    assert math.sqrt(3 / 50) == pytest.approx(0.2449, abs=1e-4)


def test_fast_weights_input_bias_options():
    assert (FastWeights(100, 50, input_bias="zeros").input.bias == 0).all()
    values = draws(lambda: FastWeights(100, 50, input_bias="torch").input.bias)
    assert_uniform(values, 1 / math.sqrt(100))  # nn.Linear's U(+-1/sqrt(fan_in))


def test_fast_weights_slow_weights():
    cell = FastWeights(100, 50)  # identity: 0.05 I, C the rectangular identity
    torch.testing.assert_close(cell.recurrent.weight, 0.05 * torch.eye(50))
    torch.testing.assert_close(cell.input.weight, 0.05 * torch.eye(50, 100))
    values = draws(lambda: FastWeights(100, 50, weight_init="uniform").recurrent.weight, 20)
    assert_uniform(values, 1 / math.sqrt(50))
    assert (
        cell.update == "preliminary" and FastWeights(3, 4, update="previous").update == "previous"
    )


def test_lstm_is_tensorflows_lstm_cell_by_default():
    """One glorot-uniform kernel of shape (I + H, 4H), zero biases, forget gate + 1.0."""
    cell = LSTM(1, 128)
    bound = math.sqrt(6 / (1 + 128 + 4 * 128))
    weights = draws(lambda: torch.cat([LSTM(1, 128).rnn.weight_hh_l0.flatten()]), 10)
    assert_uniform(weights, bound)
    assert cell.rnn.weight_ih_l0.abs().max() <= bound
    bias_ih, bias_hh = cell.rnn.bias_ih_l0, cell.rnn.bias_hh_l0
    assert (bias_hh == 0).all()
    assert (bias_ih[128:256] == 1.0).all()  # torch's gate order: input, forget, cell, output
    assert (bias_ih[:128] == 0).all() and (bias_ih[256:] == 0).all()


def test_lstm_torch_option_keeps_torchs_default():
    values = draws(lambda: LSTM(1, 128, weight_init="torch", forget_bias=0.0).rnn.weight_hh_l0, 10)
    assert_uniform(values, 1 / math.sqrt(128))
    biases = draws(lambda: LSTM(1, 128, weight_init="torch", forget_bias=0.0).rnn.bias_ih_l0, 50)
    assert_uniform(biases, 1 / math.sqrt(128))


def test_he_is_tensorflows_truncated_normal_with_zero_bias():
    """variance_scaling(2.0): truncated at 2 sigma, rescaled so the std is sqrt(2 / fan_in)."""
    values = draws(lambda: init_linear(torch.nn.Linear(100, 50), "he").weight, 50)
    std = math.sqrt(2 / 100)
    assert values.std() == pytest.approx(std, rel=0.02)
    assert values.abs().max() <= 2 * std / TRUNCATED_STD
    assert values.abs().max() > 0.98 * 2 * std / TRUNCATED_STD
    assert abs(values.mean()) < 0.02 * std
    assert (init_linear(torch.nn.Linear(100, 50), "he").bias == 0).all()


PRESETS = {
    "authors": {
        "model.cell.update": "preliminary",
        "model.cell.weight_init": "identity",
        "model.cell.input_bias": "glorot",
        "model.embedding_init": "zeros",
        "model.readout_init": "he",
        "model.init.init": "he",
        "data.task.classes": "vocabulary",
    },
    "ba2016": {
        "model.cell.update": "previous",
        "model.cell.weight_init": "uniform",
        "model.cell.input_bias": "torch",
        "model.embedding_init": "normal",
        "model.readout_init": "torch",
        "model.init.init": "torch",
        "data.task.classes": "digits",
    },
}


def select(cfg, key):
    for part in key.split("."):
        cfg = cfg[part]
    return cfg


@pytest.mark.parametrize("preset", PRESETS)
def test_presets_set_every_detail_in_one_word(preset):
    overrides = ["data=art"] + ([] if preset == "authors" else [f"preset={preset}"])
    cfg = compose_config(overrides)  # authors is the default
    for key, value in PRESETS[preset].items():
        assert select(cfg, key) == value, key
    lcd = compose_config([] if preset == "authors" else [f"preset={preset}"])
    forget, weights = (1.0, "glorot") if preset == "authors" else (0.0, "torch")
    assert (lcd.model.cell.forget_bias, lcd.model.cell.weight_init) == (forget, weights)


def test_the_authors_art_model_as_built():
    cfg = compose_config(["data=art", *ART_SMALL])
    module = build_run(cfg)[1]
    assert (module.embedding.weight == 0).all()  # the authors' zero embedding
    assert module.net.readout[-1].out_features == 37  # logits over the whole vocabulary
    assert (module.net.readout[0].bias == 0).all() and (
        module.net.initial_state.net[0].bias == 0
    ).all()
    assert module.net.cell.input.bias.abs().max() <= math.sqrt(3 / 50)
    assert module.net.cell.input.bias.abs().sum() > 0  # never the zero bias of a fixed point
    ba = compose_config(["data=art", "preset=ba2016", *ART_SMALL])
    module = build_run(ba)[1]
    assert module.net.readout[-1].out_features == 10 and module.embedding.weight.std() > 0.5
