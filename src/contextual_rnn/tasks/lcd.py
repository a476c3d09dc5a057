"""Linear cosine decay task (TensorFlow's ``linear_cosine_decay``).

    t' = min(t, T);  linear = (T - t') / T;  cosine = 0.5 (1 + cos(2 pi p t' / T))
    x(t) = x0 ((alpha + linear) cosine + beta)

A sequence is conditioned on (x0, period). Inputs are x_0..x_{steps-1}, targets the
changes dx_t = x_{t+1} - x_t. Values are scaled to [-1, 1]: states from
``state_range``, periods from ``period_range``, targets by the training split's min
and max (learned by ``fit``). The context g sees is the scaled (x0, period); the side
information a model without context gets at every step is the part of the context
the inputs do not already carry (the period).
"""

import math
from typing import Annotated, Literal

import torch
from annotated_types import Ge, MinLen

from contextual_rnn.errors import (
    FiniteFloat,
    Flag,
    PositiveFloat,
    PositiveInt,
    allowed,
    checked,
    number,
    that,
)
from contextual_rnn.tasks.base import Batch, Conditions, GenerativeTask, TaskLayout

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


Range = Annotated[
    tuple[FiniteFloat, FiniteFloat], that(lambda r: r[0] < r[1]), allowed("[low, high], low < high")
]
Periods = Annotated[
    list[number("a period >= 0", Ge(0))], MinLen(1), allowed("a non-empty list of periods >= 0")
]
Context = Annotated[
    list[Literal[CONTEXT_FEATURES]], allowed(f"a subset of {list(CONTEXT_FEATURES)}")
]


class LCD(GenerativeTask):
    val_size_option = "val_per_period"

    @checked
    def __init__(
        self,
        steps: PositiveInt = 25,
        decay_steps: PositiveFloat = 26,
        alpha: FiniteFloat = 0.0,
        beta: FiniteFloat = 0.001,
        x0_range: Range = (2.0, 4.0),
        train_periods: Periods = (0.5, 1.5, 2.5, 3.5, 4.5),
        train_per_period: PositiveInt = 1000,
        val_periods: Periods = (1.0, 2.0, 3.0, 4.0),
        val_per_period: PositiveInt = 500,
        state_range: Range = (0.0, 4.0),
        period_range: Range = (0.5, 4.5),
        context: Context = CONTEXT_FEATURES,
        validate_seen_periods: Flag = False,
    ):
        self.steps = steps
        self.decay_steps, self.alpha, self.beta = float(decay_steps), float(alpha), float(beta)
        self.x0_range, self.state_range, self.period_range = (
            tuple(map(float, r)) for r in (x0_range, state_range, period_range)
        )
        self.periods = {
            "train": list(map(float, train_periods)),
            "val": list(map(float, val_periods)),
        }
        self.per_period = {"train": train_per_period, "val": val_per_period}
        self.validate_seen_periods = validate_seen_periods
        self.context_names = tuple(c for c in CONTEXT_FEATURES if c in context)
        self.side_names = tuple(c for c in self.context_names if c != "x0")  # x0 is input 0
        self.target_range: tuple[float, float] | None = None

    @property
    def layout(self) -> TaskLayout:
        return TaskLayout(
            input_kind="features",
            input_size=1,
            output_size=1,
            sequence_length=self.steps,
            context="features" if self.context_names else None,
            context_size=len(self.context_names),
            side_size=len(self.side_names),
        )

    # --- data -------------------------------------------------------------------------------

    def curve(self, x0: torch.Tensor, period: torch.Tensor, length: int) -> torch.Tensor:
        return lcd_curve(x0, period, length, self.decay_steps, self.alpha, self.beta)

    def split_periods(self, split: str) -> list[float]:
        """A split's periods; validation also holds the training periods (fresh x0s) when
        ``validate_seen_periods``, reported apart as ``val_seen/``."""
        periods = self.periods[split]
        if split == "val" and self.validate_seen_periods:
            periods = periods + [p for p in self.periods["train"] if p not in periods]
        return periods

    def generate(self, split, generator):
        n = self.per_period[split]
        periods = self.split_periods(split)
        period = torch.tensor(periods, dtype=torch.float32).repeat_interleave(n)
        low, high = self.x0_range
        x0 = low + (high - low) * torch.rand(period.shape[0], generator=generator)
        return {"curve": self.curve(x0, period, self.steps + 1), "x0": x0, "period": period}

    def fit(self, train):
        changes = train["curve"].diff(dim=1)
        self.target_range = (changes.min().item(), changes.max().item())

    def fitted(self):
        return {"target_range": list(self.target_range)}

    def load_fitted(self, values):
        self.target_range = tuple(values["target_range"])

    def encode(self, raw):
        batch = {
            "inputs": to_unit(raw["curve"][:, :-1], *self.state_range).unsqueeze(2),
            "targets": to_unit(raw["curve"].diff(dim=1), *self.target_range).unsqueeze(2),
            "x0": raw["x0"],
            "period": raw["period"],
        }
        conditions = self.conditions(raw)
        for key, features in (
            ("context", self.context(conditions)),
            ("side", self.side(conditions)),
        ):
            if features is not None:
                batch[key] = features
        return batch

    # --- generation -----------------------------------------------------------------------------

    def conditions(self, batch: Batch) -> Conditions:
        return {"x0": batch["x0"], "period": batch["period"]}

    def start_value(self, conditions):
        """x(0) = x0 ((1 + alpha) + beta): the first input of every sequence."""
        return self.curve(conditions["x0"], conditions["period"], 1)[:, 0]

    def step_input(self, value):
        return to_unit(value, *self.state_range).unsqueeze(1)

    def advance(self, value, output):
        return value + from_unit(output[:, 0], *self.target_range)

    def features(self, conditions: Conditions, names: tuple[str, ...]) -> torch.Tensor | None:
        scaled = {
            "x0": lambda: to_unit(conditions["x0"].float(), *self.state_range),
            "period": lambda: to_unit(conditions["period"].float(), *self.period_range),
        }
        return torch.stack([scaled[n]() for n in names], dim=1) if names else None

    def context(self, conditions):
        return self.features(conditions, self.context_names)

    def side(self, conditions):
        return self.features(conditions, self.side_names)

    def seen(self, conditions):
        if not self.validate_seen_periods:
            return None
        train = torch.tensor(self.periods["train"], dtype=torch.float32)
        return torch.isin(conditions["period"].float().cpu(), train).to(conditions["period"].device)

    def truth(self, conditions, steps):
        return self.curve(conditions["x0"], conditions["period"], steps + 1)

    def figure_examples(self, raw):
        """The first sequence of each validation period."""
        periods = raw["period"]
        return torch.stack([(periods == p).nonzero()[0, 0] for p in periods.unique()])

    def describe(self, conditions, index):
        period, x0 = conditions["period"][index].item(), conditions["x0"][index].item()
        seen = "seen" if period in self.periods["train"] else "unseen"
        return f"period {period:g} ({seen}), x0 {x0:.2f}"

    def example_name(self, conditions, index):
        return f"period_{conditions['period'][index].item():g}"
