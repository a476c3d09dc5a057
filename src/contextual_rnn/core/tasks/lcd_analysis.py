"""What a study shows of LCD runs: Fig. 5 (errors per epoch), Fig. 6 (sampled fans of the
best contextual run) and the calibration of the fans, from the runs' trained modules."""

from pathlib import Path

import numpy as np
import torch

from contextual_rnn.core.figures import curve_figure, fan_grid, save
from contextual_rnn.core.modules import SequenceRegressor
from contextual_rnn.core.tasks.base import Groups


def error_figure(name: str, groups: Groups, out: Path) -> Path:
    panels = [
        ("val/mse", "val squared error\n(scaled changes, teacher forced)", True),
        ("val/rollout_mse", "val rollout MSE\n(from x(0), mean h0)", True),
    ]
    fig, _ = curve_figure(f"{name}: LCD, LSTM 128, unseen periods 1-4", groups, panels)
    save(fig, out / f"fig5_{name}.png")
    return out / f"fig5_{name}.png"


def fan_figure(name: str, groups: Groups, out: Path, samples: int = 10) -> Path | None:
    """The paper's Fig. 6: fans of the contextual run with the lowest final val/loss."""
    contextual = [r for r in groups.get("contextual", []) if r["curve"]]
    if not contextual:
        return None
    best = min(contextual, key=lambda r: r["curve"][-1]["val/loss"])
    module = SequenceRegressor.load(best["folder"], "last")
    task = module.task
    periods = [task.periods["train"][1], task.periods["val"][2]]  # one seen, one unseen
    conditions = {"x0": torch.full((2,), 3.0), "period": torch.tensor(periods)}
    torch.manual_seed(0)
    fans = module.rollout(conditions, sample=True, num_samples=samples)
    truth = task.truth(conditions, fans.shape[-1] - 1)
    titles = [task.describe(conditions, i) for i in range(len(periods))]
    title = f"{name}: {samples} sampled h0, contextual seed {best['seed']}"
    save(fan_grid(fans, truth, titles, title), out / f"fig6_{name}.png")
    return out / f"fig6_{name}.png"


def calibration(groups: Groups, samples: int = 100, per_period: int = 20) -> list[dict]:
    """Coverage of the true curves by each run's sampled fans, seen and unseen periods."""
    rows = []
    for init, members in groups.items():
        found: dict[str, list[list[float]]] = {"training": [], "validation": []}
        for run in members:
            module = SequenceRegressor.load(run["folder"], "last")
            task = module.task
            for split, periods in (
                ("training", task.periods["train"]),
                ("validation", task.periods["val"]),
            ):
                generator = torch.Generator().manual_seed(run["seed"] or 0)
                low, high = task.x0_range
                x0 = low + (high - low) * torch.rand(per_period * len(periods), generator=generator)
                period = torch.tensor(periods).repeat_interleave(per_period)
                conditions = {"x0": x0, "period": period}
                torch.manual_seed(0)
                fans = module.rollout(conditions, sample=True, num_samples=samples)
                truth = task.truth(conditions, fans.shape[-1] - 1)[:, 1:]
                mean, std = fans.mean(dim=1)[:, 1:], fans.std(dim=1)[:, 1:]
                distance = (truth - mean).abs()
                found[split].append(
                    [
                        float((distance <= std).float().mean()),
                        float((distance <= 2 * std).float().mean()),
                        float(std.mean()),
                    ]
                )
        for split, values in found.items():
            one, two, width = np.mean(values, axis=0)
            rows.append(
                {"init": init, "periods": split, "inside_1": one, "inside_2": two, "width": width}
            )
    return rows
