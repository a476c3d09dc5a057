"""Paper-style figures and tables from finished runs, read from their folders only.

A run is any folder with ``csv/metrics.csv``; its task, init, seed and embedding
regime come from ``.hydra/config.yaml`` or, for runs trained without Hydra's
folders (tests, notebooks), from the hyper-parameters in its checkpoints. Runs are
grouped by (task, ART embedding regime, init), one group per line or table row:

    fig2_art_<regime>.png    val NLL and accuracy per epoch (the paper's Fig. 2)
    fig5_lcd.png             val squared error per epoch (Fig. 5), and rollout MSE
    fig6_lcd_trajectories.png  10 sampled h0s rolled out from x0 (Fig. 6), from the
                             contextual LCD run with the lowest final val/loss
    tables.md, summary.json  final / best metrics as mean ± std over seeds, epochs to
                             99% / 100% val accuracy, wall time per run, one row per run

Epochs on the x axis are epochs of training done at each validation (1 = after the
first epoch; fractions when a run validates more often than once an epoch).
Run it as ``python scripts/aggregate.py --help``.
"""

import argparse
import csv
import json
import math
from pathlib import Path

import numpy as np

INIT_NAMES = {"ZeroInit": "zero", "FreeInit": "free", "ContextualInit": "contextual"}
INIT_ORDER = ("zero", "free", "contextual")
ART_METRICS = ("val/loss", "val/acc")
LCD_METRICS = ("val/loss", "val/mse", "val/rollout_mse")
THRESHOLDS = (0.99, 1.0)  # val accuracy the ART table counts epochs to
EARLY_EPOCHS = (1, 2, 4)  # the ART table's val accuracy after this many epochs: the early curve


# --- reading runs ---------------------------------------------------------------------------


def find_runs(paths: list[str | Path]) -> list[Path]:
    """Every run folder at or under the given paths, each once."""
    found = set()
    for path in map(Path, paths):
        if (path / "csv" / "metrics.csv").is_file():
            found.add(path.resolve())
        found.update(p.parent.parent.resolve() for p in path.rglob("csv/metrics.csv"))
    return sorted(found)


def run_config(folder: Path) -> dict:
    """The run's config as written (unresolved), else what its checkpoint recorded."""
    hydra_config = folder / ".hydra" / "config.yaml"
    if hydra_config.is_file():
        from omegaconf import OmegaConf

        return OmegaConf.to_container(OmegaConf.load(hydra_config), resolve=False)
    import torch

    for checkpoint in sorted((folder / "checkpoints").rglob("*.ckpt")):
        hparams = torch.load(checkpoint, map_location="cpu", weights_only=True)
        hparams = hparams.get("hyper_parameters") or {}
        data = hparams.get("data") or {}
        return {"model": hparams.get("model", {}), "data": data, "seed": data.get("train_seed")}
    return {}


def class_name(node) -> str:
    return str((node or {}).get("_target_", "")).rsplit(".", 1)[-1]


def read_metrics(folder: Path) -> tuple[list[dict], str]:
    """Validation rows as {"epochs": x, metric: value}; x as the module docstring says."""
    with (folder / "csv" / "metrics.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    first_train = next((r for r in rows if r.get("train/loss") and r["epoch"] == "0"), None)
    steps_per_epoch = int(first_train["step"]) + 1 if first_train else None
    curve = []
    for row in rows:
        if not row.get("val/loss"):
            continue
        if steps_per_epoch:
            x = round((int(row["step"]) + 1) / steps_per_epoch, 4)
        else:
            x = int(row["epoch"]) + 1
        values = {k: float(v) for k, v in row.items() if k.startswith("val/") and v != ""}
        curve.append({"epochs": x, **values})
    return curve, ("val/rollout_mse" in rows[0] if rows else False)


def wall_time(folder: Path) -> tuple[float | None, str]:
    """(seconds, source): W&B's ``_runtime`` if the run logged to W&B, else file mtimes.

    From mtimes a run lasts from its ``.hydra/`` files (written as the job starts) to the
    last file it wrote; without ``.hydra/`` it starts at its first file, which
    undercounts by up to an epoch.
    """
    runtimes = []
    for path in folder.glob("wandb/*run-*/run-*.wandb"):
        try:
            from contextual_rnn.analysis.wandb_files import history

            runtimes += [row["_runtime"] for row in history(path) if "_runtime" in row]
        except Exception:  # noqa: BLE001 - a torn or foreign file: fall back to mtimes
            continue
    if runtimes:
        return float(max(runtimes)), "W&B _runtime"
    starts = [p.stat().st_mtime for p in (folder / ".hydra").glob("*.yaml")]
    files = [p for p in folder.rglob("*") if p.is_file()]
    if not files:
        return None, "none"
    start = min(starts) if starts else min(p.stat().st_mtime for p in files)
    end = max(p.stat().st_mtime for p in files if "wandb" not in p.parts)
    return end - start, "file mtimes" + ("" if starts else ", from the first file")


def read_run(folder: Path) -> dict:
    cfg = run_config(folder)
    model, data = cfg.get("model") or {}, cfg.get("data") or {}
    curve, has_rollout = read_metrics(folder)
    task_class = class_name(data.get("task"))
    task = task_class.lower() or ("lcd" if has_rollout else "art")
    init_class = class_name(model.get("init"))
    seconds, source = wall_time(folder)
    seed = cfg.get("seed", data.get("train_seed"))
    trainer = cfg.get("trainer") or {}
    return {
        "folder": str(folder),
        "task": task,
        "regime": str(model.get("embedding_init", "normal")) if task == "art" else "",
        "init": INIT_NAMES.get(init_class, init_class.lower() or "unknown"),
        "seed": seed if isinstance(seed, int) else None,
        "max_epochs": trainer.get("max_epochs") if isinstance(trainer, dict) else None,
        "curve": curve,
        "wall_s": seconds,
        "wall_source": source,
    }


# --- per-run and per-group numbers ------------------------------------------------------------


def epochs_to(curve: list[dict], threshold: float) -> float | None:
    """Epochs of training at the first validation with accuracy >= threshold."""
    return next((p["epochs"] for p in curve if p.get("val/acc", -1) >= threshold - 1e-9), None)


def run_numbers(run: dict) -> dict:
    """Final (last validation) and best values of each metric, and the ART thresholds."""
    curve = run["curve"]
    metrics = ART_METRICS if run["task"] == "art" else LCD_METRICS
    numbers = {"epochs": curve[-1]["epochs"] if curve else 0, "wall_s": run["wall_s"]}
    for metric in metrics:
        values = [p[metric] for p in curve if metric in p]
        if not values:
            continue
        best = max(values) if metric == "val/acc" else min(values)
        numbers[f"final {metric}"], numbers[f"best {metric}"] = values[-1], best
    if run["task"] == "art":
        for threshold in THRESHOLDS:
            numbers[f"epochs to {threshold:.0%}"] = epochs_to(curve, threshold)
        for epochs in EARLY_EPOCHS:
            at = [p["val/acc"] for p in curve if p["epochs"] == epochs and "val/acc" in p]
            numbers[f"val/acc at {epochs} ep"] = at[0] if at else None
    return numbers


def mean_std(values: list[float]) -> dict:
    """Mean and sample std (ddof=1; 0 for one run) of the values that exist."""
    present = [v for v in values if v is not None]
    if not present:
        return {"mean": None, "std": None, "n": 0, "of": len(values)}
    std = float(np.std(present, ddof=1)) if len(present) > 1 else 0.0
    return {"mean": float(np.mean(present)), "std": std, "n": len(present), "of": len(values)}


def group_key(run: dict) -> tuple:
    order = INIT_ORDER.index(run["init"]) if run["init"] in INIT_ORDER else len(INIT_ORDER)
    return run["task"], run["regime"], order, run["init"]


def groups(runs: list[dict]) -> dict[tuple, list[dict]]:
    grouped: dict[tuple, list[dict]] = {}
    for run in sorted(runs, key=lambda r: (group_key(r), r["seed"] is None, r["seed"] or 0)):
        grouped.setdefault(group_key(run)[:2] + (run["init"],), []).append(run)
    return grouped


def summarise(runs: list[dict]) -> list[dict]:
    rows = []
    for (task, regime, init), members in groups(runs).items():
        numbers = [run_numbers(r) for r in members]
        keys = list(dict.fromkeys(k for n in numbers for k in n))
        rows.append(
            {
                "task": task,
                "regime": regime,
                "init": init,
                "runs": len(members),
                "seeds": [r["seed"] for r in members],
                "wall_source": sorted({r["wall_source"] for r in members}),
                "stats": {k: mean_std([n.get(k) for n in numbers]) for k in keys},
                "per_run": [
                    {"folder": r["folder"], "seed": r["seed"], **n}
                    for r, n in zip(members, numbers, strict=True)
                ],
            }
        )
    return rows


# --- tables -----------------------------------------------------------------------------------


def number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


def cell(stat: dict, threshold: bool = False) -> str:
    """'mean ± std'; thresholds also say how many runs reached them."""
    if stat["n"] == 0:
        return "not reached" if threshold else "-"
    text = f"{number(stat['mean'])} ± {number(stat['std'])}"
    if threshold and stat["n"] < stat["of"]:
        text += f" ({stat['n']}/{stat['of']} reached)"
    return text


def table_columns(task: str) -> list[str]:
    metrics = ART_METRICS if task == "art" else LCD_METRICS
    columns = [f"{which} {m}" for m in metrics for which in ("final", "best")]
    if task == "art":
        columns += [f"val/acc at {e} ep" for e in EARLY_EPOCHS]
        columns += [f"epochs to {t:.0%}" for t in THRESHOLDS]
    return ["epochs", *columns, "wall_s"]


def markdown_tables(rows: list[dict]) -> str:
    lines = [
        "# Results by init",
        "",
        "Mean ± sample std (ddof=1) over seeds. final = last validation, best = lowest "
        "loss / highest accuracy over validations. epochs = epochs trained at the last "
        "validation. wall_s = seconds per run.",
        "",
    ]
    for task, regime in dict.fromkeys((r["task"], r["regime"]) for r in rows):
        block = [r for r in rows if (r["task"], r["regime"]) == (task, regime)]
        columns = table_columns(task)
        title = task.upper() + (f", embedding init {regime}" if regime else "")
        sources = sorted({s for r in block for s in r["wall_source"]})
        lines += [
            f"## {title}",
            "",
            f"Wall time from: {', '.join(sources)}.",
            "",
            "| init | runs (seeds) | " + " | ".join(columns) + " |",
            "|---" * (len(columns) + 2) + "|",
        ]
        for r in block:
            seeds = ", ".join(str(s) for s in r["seeds"])
            cells = [
                cell(r["stats"].get(c, mean_std([])), c.startswith("epochs to")) for c in columns
            ]
            lines.append(f"| {r['init']} | {r['runs']} ({seeds}) | " + " | ".join(cells) + " |")
        lines += [
            "",
            f"### {title}: every run",
            "",
            "| init | seed | " + " | ".join(columns) + " | folder |",
            "|---" * (len(columns) + 3) + "|",
        ]
        for r in block:
            for run in r["per_run"]:
                cells = [
                    ("not reached" if c.startswith("epochs to") else "-")
                    if run.get(c) is None
                    else number(run[c])
                    for c in columns
                ]
                lines.append(
                    f"| {r['init']} | {run['seed']} | "
                    + " | ".join(cells)
                    + f" | {run['folder']} |"
                )
        lines.append("")
    return "\n".join(lines)


# --- figures ----------------------------------------------------------------------------------


def plot_curves(ax, members: dict[str, list[dict]], metric: str, ylabel: str, log: bool = False):
    """One line per init: the mean over seeds at each validation, band from min to max."""
    for color, (init, runs) in enumerate(members.items()):
        by_x: dict[float, list[float]] = {}
        for run in runs:
            for point in run["curve"]:
                if metric in point:
                    by_x.setdefault(point["epochs"], []).append(point[metric])
        if not by_x:
            continue
        x = np.array(sorted(by_x))
        values = [by_x[k] for k in sorted(by_x)]
        mean = np.array([np.mean(v) for v in values])
        ax.plot(
            x,
            mean,
            color=f"C{color}",
            marker="." if len(x) < 30 else None,
            label=f"{init} (n={len(runs)})",
        )
        ax.fill_between(
            x, [min(v) for v in values], [max(v) for v in values], color=f"C{color}", alpha=0.2
        )
    ax.set(xlabel="epochs trained", ylabel=ylabel)
    if log:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def by_init(runs: list[dict]) -> dict[str, list[dict]]:
    members: dict[str, list[dict]] = {}
    for run in sorted(runs, key=group_key):
        members.setdefault(run["init"], []).append(run)
    return members


def figure_art(runs: list[dict], regime: str, path: Path, dpi: int) -> None:
    import matplotlib.pyplot as plt

    from contextual_rnn.analysis.plotting import save

    fig, (nll, acc) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=dpi)
    members = by_init(runs)
    plot_curves(nll, members, "val/loss", "validation NLL", log=True)
    plot_curves(acc, members, "val/acc", "validation accuracy")
    fig.suptitle(f"ART, fast weights, embedding init {regime}: mean over seeds, band min-max")
    fig.tight_layout()
    save(fig, path)


def figure_lcd(runs: list[dict], path: Path, dpi: int) -> None:
    import matplotlib.pyplot as plt

    from contextual_rnn.analysis.plotting import save

    fig, (mse, rollout) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=dpi)
    members = by_init(runs)
    plot_curves(mse, members, "val/mse", "val squared error (scaled dx, teacher forced)", True)
    plot_curves(rollout, members, "val/rollout_mse", "val rollout MSE (from x0, mean h0)", True)
    fig.suptitle("LCD, LSTM 128, unseen periods 1-4: mean over seeds, band min-max")
    fig.tight_layout()
    save(fig, path)


def final_loss(run: dict) -> float:
    values = [p["val/loss"] for p in run["curve"] if "val/loss" in p]
    return values[-1] if values else math.inf


def figure_trajectories(
    runs: list[dict], periods: list[float], samples: int, path: Path, dpi: int, seed: int = 0
) -> dict | None:
    """Fig. 6 from the contextual LCD run with the lowest final val/loss (its best checkpoint)."""
    candidates = [r for r in runs if r["task"] == "lcd" and r["init"] == "contextual"]
    candidates = [r for r in candidates if any((Path(r["folder"]) / "checkpoints").rglob("*.ckpt"))]
    if not candidates:
        return None
    import matplotlib.pyplot as plt
    import torch

    from contextual_rnn.analysis.plotting import save, trajectory_fan
    from contextual_rnn.cli import evaluation_data
    from contextual_rnn.core.checkpoints import CheckpointError, load_module

    run = min(candidates, key=final_loss)
    try:
        module = load_module(run["folder"], "best")
    except CheckpointError:
        module = load_module(run["folder"], "last")
    raw = evaluation_data(module, None, None).raw["val"]
    chosen = [p for p in periods if bool((raw["period"] == p).any())]
    index = torch.stack([(raw["period"] == p).nonzero()[0, 0] for p in chosen])
    torch.manual_seed(seed)
    drawn = module.rollout(
        raw["x0"][index], raw["period"][index], sample=True, num_samples=samples
    ).cpu()
    fig, axes = plt.subplots(1, len(chosen), figsize=(5 * len(chosen), 3.4), dpi=dpi, squeeze=False)
    for row, (ax, i) in enumerate(zip(axes[0], index.tolist(), strict=True)):
        trajectory_fan(
            drawn[row],
            raw["curve"][i],
            f"period {chosen[row]:g} (unseen), x0 {raw['x0'][i]:.2f}",
            ax=ax,
        )
    fig.suptitle(
        f"{samples} sampled h0, contextual seed {run['seed']} "
        f"(lowest final val/loss {final_loss(run):.3g})",
        fontsize=9,
    )
    fig.tight_layout()
    save(fig, path)
    np.savez(
        path.with_suffix(".npz"),
        samples=drawn.numpy(),
        truth=raw["curve"][index].numpy(),
        periods=np.array(chosen),
        x0=raw["x0"][index].numpy(),
    )
    truth = raw["curve"][index][:, None, :]
    return {
        "run": run["folder"],
        "seed": run["seed"],
        "checkpoint": str(module.checkpoint_path),
        "final val/loss": final_loss(run),
        "periods": chosen,
        "samples": samples,
        "distinct trajectories": [len({tuple(t) for t in d.numpy().round(6)}) for d in drawn],
        "sampled h0": bool(module.net.initial_state.stochastic),
        "spread at t=25 (std)": drawn[:, :, -1].std(dim=1).tolist(),
        "rollout MSE of the samples": ((drawn - truth) ** 2)[:, :, 1:].mean(dim=(1, 2)).tolist(),
    }


# --- command line -----------------------------------------------------------------------------


def aggregate(
    paths: list[str | Path], out: str | Path, periods=(1.0, 3.0), samples: int = 10, dpi: int = 100
) -> dict:
    """Read every run under ``paths``, write figures and tables to ``out``; return the summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    runs = [read_run(folder) for folder in find_runs(paths)]
    runs = [r for r in runs if r["curve"]]  # a run killed before its first validation
    rows = summarise(runs)
    figures = []
    for regime in sorted({r["regime"] for r in runs if r["task"] == "art"}):
        path = out / f"fig2_art_{regime}.png"
        figure_art(
            [r for r in runs if r["task"] == "art" and r["regime"] == regime], regime, path, dpi
        )
        figures.append(path.name)
    lcd = [r for r in runs if r["task"] == "lcd"]
    fans = None
    if lcd:
        figure_lcd(lcd, out / "fig5_lcd.png", dpi)
        figures.append("fig5_lcd.png")
        fans = figure_trajectories(
            lcd, list(periods), samples, out / "fig6_lcd_trajectories.png", dpi
        )
        if fans:
            figures.append("fig6_lcd_trajectories.png")
    text = markdown_tables(rows)
    if fans:
        text += "\n## Fig. 6 source\n\n" + "\n".join(f"- {k}: {v}" for k, v in fans.items()) + "\n"
    (out / "tables.md").write_text(text)
    summary = {"runs": len(runs), "groups": rows, "figures": figures, "fig6": fans}
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="aggregate.py", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", help="run folders, sweep folders or a study folder")
    parser.add_argument("--out", help="output folder (default: <first path>/aggregate)")
    parser.add_argument(
        "--periods",
        type=float,
        nargs="+",
        default=[1.0, 3.0],
        help="validation periods for the Fig. 6 fans",
    )
    parser.add_argument("--samples", type=int, default=10, help="sampled h0 per fan")
    parser.add_argument("--dpi", type=int, default=100)
    args = parser.parse_args(argv)
    out = Path(args.out or Path(args.paths[0]) / "aggregate")
    summary = aggregate(args.paths, out, args.periods, args.samples, args.dpi)
    print((out / "tables.md").read_text())
    print(
        f"{summary['runs']} runs; written to {out}: {', '.join(summary['figures'])}, "
        "tables.md, summary.json"
    )
    return summary
