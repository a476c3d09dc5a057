"""The aggregate as one offline W&B run in the study's group (job type ``aggregate``): the
tables as ``wandb.Table`` and the figures, so that ``wandb sync`` of the study folder
gives one dashboard."""

import math
import os
from pathlib import Path


def finite(value):
    return float(value) if math.isfinite(value) else None


def log_to_wandb(summary: dict, figures: list[Path], out: Path, group: str) -> str | None:
    import wandb

    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(
        project="contextual-rnn",
        group=group,
        job_type="aggregate",
        name=f"aggregate-{group}",
        dir=str(out),
        mode=os.environ.get("WANDB_MODE", "offline"),
        config={"sweeps": list(summary["sweeps"])},
    )
    try:
        for name, sweep in summary["sweeps"].items():
            numbers = [k for k in sweep["per_run"][0] if k not in ("init", "seed", "folder")]
            rows = [
                [r["init"], r["seed"], *[finite(r[k]) for k in numbers]] for r in sweep["per_run"]
            ]
            run.log({f"{name}/runs": wandb.Table(columns=["init", "seed", *numbers], data=rows)})
            tests = [
                [key, pair, t["p"], t.get("holm_p"), (t["paired"] or {}).get("p"),
                 t.get("holm_paired"), finite(t["effect"]["estimate"]), t["p_better"]]
                for key, comparison in sweep["comparisons"].items()
                for pair, t in comparison["tests"].items()
            ]  # fmt: skip
            columns = ["measure", "comparison", "p", "p Holm", "paired p", "paired p Holm",
                       "effect", "P(contextual better)"]  # fmt: skip
            run.log({f"{name}/tests": wandb.Table(columns=columns, data=tests)})
            for key, comparison in sweep["comparisons"].items():
                for init, stats in comparison["per_init"].items():
                    median = stats["interval"]["median"]
                    if math.isfinite(median):
                        run.summary[f"{name}/{key}/{init}/median"] = median
        if summary.get("calibration"):
            rows = summary["calibration"]
            table = wandb.Table(columns=list(rows[0]), data=[list(r.values()) for r in rows])
            run.log({"calibration": table})
        for path in figures:
            run.log({f"figures/{path.stem}": wandb.Image(str(path))})
        return run.id
    finally:
        run.finish()
