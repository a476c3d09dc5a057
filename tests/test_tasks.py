import math
import re

import pytest
import torch

from contextual_rnn.errors import ConfigError, InputError
from contextual_rnn.tasks.art import ALPHABET, ART, NUM_LETTERS, QUERY_TOKEN, decode_tokens
from contextual_rnn.tasks.data import SequenceDataModule
from contextual_rnn.tasks.lcd import LCD, from_unit, lcd_curve


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
    raw = dm.raw["train"]
    assert sorted(raw["period"].unique().tolist()) == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert sorted(val["period"].unique().tolist()) == [1.0, 2.0, 3.0, 4.0]
    assert (raw["x0"] >= 2).all() and (raw["x0"] <= 4).all()
    assert train["targets"].min() == pytest.approx(-1) and train["targets"].max() == pytest.approx(
        1
    )
    assert train["inputs"].abs().max() <= 1.002  # x(0) = 1.001 x0 may pass 4 by beta
    changes = from_unit(train["targets"][..., 0], *task.target_range)
    torch.testing.assert_close(changes, dm.raw["train"]["curve"].diff(dim=1), atol=1e-6, rtol=0)
    assert task.layout.context_size == 2 and task.layout.side_size == 1
    torch.testing.assert_close(train["side"][:, 0], train["context"][:, 1])
    assert set(train["context"][:, 1].unique().tolist()) == {-1.0, -0.5, 0.0, 0.5, 1.0}
    assert set(val) >= {"x0", "period"} and "x0" not in train  # training reads only what it needs


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


def test_art_classes_digits_or_the_whole_vocabulary():
    raw = ART().sample(50, torch.Generator().manual_seed(1))
    digits, tokens = ART(classes="digits"), ART(classes="vocabulary")
    assert digits.layout.output_size == 10 and tokens.layout.output_size == 37
    assert torch.equal(tokens.encode(raw)["targets"], digits.encode(raw)["targets"] + NUM_LETTERS)
    assert digits.describe_class(9) == tokens.describe_class(NUM_LETTERS + 9) == "9"


@pytest.mark.parametrize(
    "sequence,message",
    [
        ("c9k8j3f1?c", "has 10 characters; this model (k=8) needs 11"),
        ("c9k8j3f1??C", "characters ['C'] are not lowercase letters"),
        ("c9k8j3ff??c", "positions 2, 4, ... of the pairs must be digits"),
        ("c9c8j3f1??c", "the letters of the pairs must be distinct"),
        ("c9k8j3f1?1c", "expected '??' after the pairs"),
        ("c9k8j3f1??x", "the query 'x' is not one of the keys"),
    ],
)
def test_art_refuses_malformed_queries(sequence, message):
    with pytest.raises(InputError, match=re.escape(message)):
        ART().parse_query(sequence)
    assert ART().parse_query("c9k8j3f1??c").shape == (1, 11)


def test_lcd_generation_api_rebuilds_the_validation_curves():
    task = LCD()
    dm = SequenceDataModule(task)
    dm.setup()
    raw = dm.raw["val"]
    conditions = task.conditions(raw)
    torch.testing.assert_close(task.truth(conditions, 25), raw["curve"])
    x0 = task.start_value(conditions)
    torch.testing.assert_close(x0, raw["curve"][:, 0])  # x(0) = x0 (1 + beta), the first input
    # one step with the true change reproduces the next value
    change = dm.splits["val"].tensors["targets"][:, 0]
    torch.testing.assert_close(task.advance(x0, change), raw["curve"][:, 1], atol=1e-5, rtol=0)
    examples = task.figure_examples(raw)
    assert [task.example_name(conditions, int(i)) for i in examples] == [
        "period_1",
        "period_2",
        "period_3",
        "period_4",
    ]
