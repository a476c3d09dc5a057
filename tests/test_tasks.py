import math

import pytest
import torch

from contextual_rnn.data.art import ALPHABET, ART, NUM_LETTERS, QUERY_TOKEN, decode_tokens
from contextual_rnn.data.datamodule import SequenceDataModule
from contextual_rnn.data.lcd import LCD, from_unit, lcd_curve
from contextual_rnn.errors import ConfigError


def test_art_sequences_follow_the_rules():
    task = ART(k=8)
    batch = task.sample(5000, torch.Generator().manual_seed(0))
    x, y = batch["inputs"], batch["targets"]
    assert x.shape == (5000, 11) and y.shape == (5000,)
    letters, digits = x[:, 0:8:2], x[:, 1:8:2]
    assert (letters < NUM_LETTERS).all()
    assert ((digits >= NUM_LETTERS) & (digits < NUM_LETTERS + 10)).all()
    assert all(len(set(row.tolist())) == 4 for row in letters)  # distinct letters
    assert (x[:, 8:10] == QUERY_TOKEN).all()
    query = x[:, 10]
    position = (letters == query[:, None]).int().argmax(dim=1)
    assert (letters == query[:, None]).any(dim=1).all()  # query is one of the keys
    assert torch.equal(y, digits[torch.arange(5000), position] - NUM_LETTERS)
    # every letter and every digit is used (the authors' code skipped z and 0)
    assert set(letters.unique().tolist()) == set(range(26))
    assert set(y.unique().tolist()) == set(range(10))


def test_art_example_text():
    batch = ART(k=8).sample(1, torch.Generator().manual_seed(3))
    text = decode_tokens(batch["inputs"][0])
    assert len(text) == 11 and text[8:10] == "??"
    assert ALPHABET.index(text[text.index(text[-1]) + 1]) - 26 == batch["targets"][0]


def test_validation_split_is_the_same_for_every_model_seed():
    a = SequenceDataModule(ART(train_size=100, val_size=50), train_seed=0)
    b = SequenceDataModule(ART(train_size=100, val_size=50), train_seed=1)
    a.setup(), b.setup()
    assert torch.equal(a.splits["val"].tensors["inputs"], b.splits["val"].tensors["inputs"])
    assert not torch.equal(a.splits["train"].tensors["inputs"], b.splits["train"].tensors["inputs"])


def test_training_batches_shuffle_samples_not_batches():
    dm = SequenceDataModule(ART(train_size=64, val_size=8), batch_size=8)
    dm.setup()
    torch.manual_seed(0)
    first = next(iter(dm.train_dataloader()))["inputs"]
    data = dm.splits["train"].tensors["inputs"]
    rows = [int((data == row).all(dim=1).nonzero()[0]) for row in first]
    assert rows != list(range(rows[0], rows[0] + 8))  # not a contiguous stored batch
    assert len(set(r // 8 for r in rows)) > 1


@pytest.mark.parametrize("k", [7, 0, 54, "8"])
def test_art_refuses_bad_k(k):
    with pytest.raises(ConfigError, match="k="):
        ART(k=k)


def test_lcd_formula_at_known_points():
    x0, period = torch.tensor([3.0, 2.0]), torch.tensor([1.0, 0.5])
    curve = lcd_curve(x0, period, 26, 26.0)
    assert curve[0, 0] == pytest.approx(3.0 * 1.001)  # t=0: linear=1, cosine=1
    # t=13, T=26, p=1: linear=0.5, cosine=0.5 (1 + cos(pi)) = 0
    assert curve[0, 13] == pytest.approx(3.0 * 0.001)
    # t=13, p=0.5: cosine = 0.5 (1 + cos(pi/2)) = 0.5
    assert curve[1, 13] == pytest.approx(2.0 * (0.5 * 0.5 + 0.001))
    t = 7
    expected = 2.0 * ((26 - t) / 26 * 0.5 * (1 + math.cos(math.pi * 2 * 0.5 * t / 26)) + 0.001)
    assert curve[1, t] == pytest.approx(expected, rel=1e-6)


def test_lcd_splits_scaling_and_context():
    task = LCD()
    dm = SequenceDataModule(task)
    dm.setup()
    train, val = dm.splits["train"].tensors, dm.splits["val"].tensors
    assert train["inputs"].shape == (5000, 25, 1) and val["inputs"].shape == (2000, 25, 1)
    assert sorted(train["period"].unique().tolist()) == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert sorted(val["period"].unique().tolist()) == [1.0, 2.0, 3.0, 4.0]
    assert (train["x0"] >= 2).all() and (train["x0"] <= 4).all()
    assert train["targets"].min() == pytest.approx(-1) and train["targets"].max() == pytest.approx(
        1
    )
    assert train["inputs"].abs().max() <= 1.002  # x(0) = 1.001 x0 may pass 4 by beta
    spec = dm.spec
    changes = from_unit(train["targets"][..., 0], *spec.extra["target_range"])
    torch.testing.assert_close(changes, train["curve"].diff(dim=1), atol=1e-6, rtol=0)
    assert spec.context_size == 2 and spec.side_size == 1
    torch.testing.assert_close(train["side"][:, 0], train["context"][:, 1])
    assert set(train["context"][:, 1].unique().tolist()) == {-1.0, -0.5, 0.0, 0.5, 1.0}


@pytest.mark.parametrize(
    "kwargs,key",
    [
        ({"train_periods": []}, "train_periods"),
        ({"val_periods": []}, "val_periods"),
        ({"train_per_period": 0}, "train_per_period"),
        ({"steps": -1}, "steps"),
        ({"context": ["x0", "phase"]}, "context"),
    ],
)
def test_lcd_refuses_bad_values(kwargs, key):
    with pytest.raises(ConfigError) as error:
        LCD(**kwargs)
    assert error.value.key == key
