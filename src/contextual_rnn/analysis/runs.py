"""Reading runs: a run is any folder with ``csv/metrics.csv``, its sweep (the experiment
``name``), init, preset, seed and task (its ``_target_``) from ``.hydra/``; or a run's rows
in a curves file (``curves/<sweep>.csv``, written by ``write_curves``): the validation curves
of a study, small enough to commit, from which its tables are rebuilt."""

import csv
import json
from pathlib import Path

from omegaconf import OmegaConf

INIT_ORDER = ("zero", "free", "contextual")


def find_runs(paths: list[str | Path]) -> list[Path]:
    """Every run folder at or under the given paths, each once."""
    found = set()
    for path in map(Path, paths):
        found.update(p.parent.parent.resolve() for p in path.rglob("csv/metrics.csv"))
    return sorted(found)


def hydra_facts(folder: Path) -> dict:
    """Sweep name, init, preset, task and seed, from the run's Hydra files."""
    config = OmegaConf.load(folder / ".hydra" / "config.yaml")
    choices = OmegaConf.load(folder / ".hydra" / "hydra.yaml").hydra.runtime.choices
    raw = OmegaConf.to_container(config, resolve=False)
    name = raw.get("name")
    if not isinstance(name, str) or "${" in name:
        name = f"{choices['data']}_{choices['model/cell']}"
    return {
        "sweep": name,
        "run": folder.name,
        "init": choices["model/init"],
        "preset": choices.get("preset"),
        "task": choices["data"],
        "task_target": raw.get("data", {}).get("task", {}).get("_target_"),
        "seed": raw.get("seed"),
        "max_epochs": raw.get("trainer", {}).get("max_epochs"),
    }


def validation_curve(folder: Path) -> list[dict]:
    """The CSV log's validation rows with ``epochs``: epochs trained at that validation
    (fractional)."""
    with (folder / "csv" / "metrics.csv").open(newline="") as file:
        rows = [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(file)]
    epoch_ends = [r for r in rows if "train/loss" in r and r.get("epoch") == 0]
    steps_per_epoch = epoch_ends[0]["step"] + 1 if epoch_ends else None
    curve = []
    for row in rows:
        if "val/loss" not in row:
            continue
        epochs = (row["step"] + 1) / steps_per_epoch if steps_per_epoch else row["epoch"] + 1
        curve.append({"epochs": round(epochs, 4), **row})
    return curve


def read_run(folder: Path) -> dict:
    status_file = folder / "status.json"
    status = json.loads(status_file.read_text()) if status_file.is_file() else {}
    return {
        "folder": str(folder),
        **hydra_facts(folder),
        "status": status.get("status", "unfinished"),
        "curve": validation_curve(folder),
    }


def by_init(runs: list[dict]) -> dict[str, list[dict]]:
    """The runs by init (zero, free, contextual first), each init's runs by seed."""

    def order(run: dict) -> tuple:
        known = run["init"] in INIT_ORDER
        return INIT_ORDER.index(run["init"]) if known else len(INIT_ORDER), run["seed"]

    grouped: dict[str, list[dict]] = {}
    for run in sorted(runs, key=order):
        grouped.setdefault(run["init"], []).append(run)
    return grouped


FACTS = ("sweep", "run", "init", "preset", "task", "task_target", "seed", "max_epochs", "status")


def write_curves(runs: list[dict], folder: Path) -> list[Path]:
    """One CSV per sweep: a row per validation of each run, its facts in the first columns."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for sweep in sorted({r["sweep"] for r in runs}):
        members = [r for r in runs if r["sweep"] == sweep]
        metrics = sorted({k for r in members for point in r["curve"] for k in point})
        path = folder / f"{sweep}.csv"
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, [*FACTS, *metrics])
            writer.writeheader()
            for run in members:
                for point in run["curve"]:
                    writer.writerow({**{k: run[k] for k in FACTS}, **point})
        written.append(path)
    return written


def read_curves(path: Path) -> list[dict]:
    """The runs of a curves file (without run folders: nothing reloads their modules)."""
    runs: dict[str, dict] = {}
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            facts = {k: row.pop(k) for k in FACTS}
            run = runs.setdefault(facts["run"], {
                **facts,
                "folder": None,
                "seed": int(facts["seed"]),
                "max_epochs": int(facts["max_epochs"]),
                "curve": [],
            })  # fmt: skip
            run["curve"].append({k: float(v) for k, v in row.items() if v != ""})
    return list(runs.values())


def identity(run: dict) -> tuple:
    """What makes a run one run of a study: its sweep, init and seed."""
    return run["sweep"], run["init"], run["seed"]


def read_all(paths: list[str | Path]) -> list[dict]:
    """Every run at or under the given paths: run folders, and from curves files (``*.csv``
    under a ``curves`` folder) the runs no run folder holds, so that the committed curves
    of a study and the run folders of its later seeds aggregate together."""
    runs = [read_run(folder) for folder in find_runs(paths)]
    held = {identity(r) for r in runs}
    for path in map(Path, paths):
        found = sorted(p for p in path.rglob("*.csv") if p.parent.name == "curves")
        files = [path] if path.suffix == ".csv" else found
        for file in files:
            runs += [r for r in read_curves(file) if identity(r) not in held]
    return runs
