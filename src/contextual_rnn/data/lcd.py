"""Linear cosine decay task (TensorFlow's ``linear_cosine_decay``).

    t' = min(t, T);  linear = (T - t') / T;  cosine = 0.5 (1 + cos(2 pi p t' / T))
    x(t) = x0 ((alpha + linear) cosine + beta)

Inputs are x_0..x_{steps-1}, targets the changes dx_t = x_{t+1} - x_t. Values are
scaled to [-1, 1]: states from ``state_range``, periods from ``period_range``,
targets by the training split's min and max. Context is (x0, period); the side
information a non-contextual model gets at every step is the context the inputs do
not already carry (the period).
"""

import math

import torch

from contextual_rnn.data.base import Batch, SequenceTask, TaskSpec
from contextual_rnn.errors import positive_int, require

CONTEXT_FEATURES = ("x0", "period")


def lcd_curve(
    x0: torch.Tensor,
    period: torch.Tensor,
    length: int,
    decay_steps: float,
    alpha: float = 0.0,
    beta: float = 0.001,
) -> torch.Tensor:
    """x(t) for t = 0..length-1, one row per (x0, period) pair."""
    t = torch.arange(length, dtype=torch.float64).clamp(max=decay_steps)
    linear = (decay_steps - t) / decay_steps
    cosine = 0.5 * (1 + torch.cos(2 * math.pi * period.double()[:, None] * t / decay_steps))
    return (x0.double()[:, None] * ((alpha + linear) * cosine + beta)).float()


def to_unit(x, low: float, high: float):
    return 2 * (x - low) / (high - low) - 1


def from_unit(y, low: float, high: float):
    return (y + 1) * (high - low) / 2 + low


class LCD(SequenceTask):
    name = "lcd"

    def __init__(
        self,
        steps: int = 25,
        decay_steps: float = 26,
        alpha: float = 0.0,
        beta: float = 0.001,
        x0_range: tuple[float, float] = (2.0, 4.0),
        train_periods: tuple[float, ...] = (0.5, 1.5, 2.5, 3.5, 4.5),
        train_per_period: int = 1000,
        val_periods: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0),
        val_per_period: int = 500,
        state_range: tuple[float, float] = (0.0, 4.0),
        period_range: tuple[float, float] = (0.5, 4.5),
        context: tuple[str, ...] = CONTEXT_FEATURES,
    ):
        self.steps = positive_int("steps", steps)
        require(decay_steps > 0, "decay_steps", decay_steps, "a number > 0")
        for key, pair in (
            ("x0_range", x0_range),
            ("state_range", state_range),
            ("period_range", period_range),
        ):
            require(
                len(pair) == 2 and pair[0] < pair[1], key, list(pair), "[low, high], low < high"
            )
        for key, periods in (("train_periods", train_periods), ("val_periods", val_periods)):
            require(len(periods) > 0, key, list(periods), "a non-empty list of periods")
            require(all(p >= 0 for p in periods), key, list(periods), "periods >= 0")
        require(
            all(c in CONTEXT_FEATURES for c in context),
            "context",
            list(context),
            f"a subset of {list(CONTEXT_FEATURES)}",
        )
        self.decay_steps, self.alpha, self.beta = float(decay_steps), float(alpha), float(beta)
        self.x0_range, self.state_range = tuple(x0_range), tuple(state_range)
        self.period_range = tuple(period_range)
        self.periods = {"train": list(train_periods), "val": list(val_periods)}
        self.per_period = {
            "train": positive_int("train_per_period", train_per_period),
            "val": positive_int("val_per_period", val_per_period),
        }
        self.context = tuple(c for c in CONTEXT_FEATURES if c in context)
        self.side = tuple(c for c in self.context if c != "x0")  # x0 is already input 0

    def curve(self, x0: torch.Tensor, period: torch.Tensor, length: int | None = None):
        length = self.steps + 1 if length is None else length
        return lcd_curve(x0, period, length, self.decay_steps, self.alpha, self.beta)

    def generate(self, split, generator):
        n = self.per_period[split]
        period = torch.tensor(self.periods[split], dtype=torch.float32).repeat_interleave(n)
        low, high = self.x0_range
        x0 = low + (high - low) * torch.rand(period.shape[0], generator=generator)
        return {"curve": self.curve(x0, period), "x0": x0, "period": period}

    def make_spec(self, train):
        changes = train["curve"].diff(dim=1)
        return TaskSpec(
            name=self.name,
            kind="regression",
            input_kind="features",
            input_size=1,
            output_size=1,
            sequence_length=self.steps,
            context="features" if self.context else None,
            context_size=len(self.context),
            side_size=len(self.side),
            extra={
                "state_range": list(self.state_range),
                "period_range": list(self.period_range),
                "target_range": [changes.min().item(), changes.max().item()],
                "context": list(self.context),
                "side": list(self.side),
                "decay_steps": self.decay_steps,
                "alpha": self.alpha,
                "beta": self.beta,
                "train_periods": self.periods["train"],
            },
        )

    def encode(self, raw, spec):
        return encode_lcd(raw["curve"], raw["x0"], raw["period"], spec)


def lcd_features(
    x0: torch.Tensor, period: torch.Tensor, spec: TaskSpec, names: list[str]
) -> torch.Tensor | None:
    """Scaled (x0, period) columns named in ``names``; None when empty."""
    scaled = {
        "x0": to_unit(x0, *spec.extra["state_range"]),
        "period": to_unit(period, *spec.extra["period_range"]),
    }
    return torch.stack([scaled[n] for n in names], dim=1) if names else None


def encode_lcd(
    curve: torch.Tensor, x0: torch.Tensor, period: torch.Tensor, spec: TaskSpec
) -> Batch:
    batch = {
        "inputs": to_unit(curve[:, :-1], *spec.extra["state_range"]).unsqueeze(2),
        "targets": to_unit(curve.diff(dim=1), *spec.extra["target_range"]).unsqueeze(2),
        "x0": x0,
        "period": period,
        "curve": curve,
    }
    for key, names in (("context", spec.extra["context"]), ("side", spec.extra["side"])):
        features = lcd_features(x0, period, spec, names)
        if features is not None:
            batch[key] = features
    return batch
