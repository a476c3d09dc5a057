"""The paper's study in one command: ART and LCD over zero / free / contextual x seeds.

Each sweep is one Hydra multirun of ``train.py`` in a subprocess (its jobs run one
after another). Every init of a sweep gets the same overrides, data, seeds and budget:
the only thing a sweep varies is ``model/init`` x ``seed``, so nothing is tuned toward
a winner. Budget cuts (fewer epochs than the paper's, for a CPU) are recorded, with
the exact commands and wall times, in ``study.json`` and ``study.md`` in the study
folder, next to one folder per sweep and the sweeps' logs:

    outputs/study/<time>/{art_normal, art_zeros, lcd}/<job>/   the runs
    outputs/study/<time>/logs/<sweep>.log                       their output
    outputs/study/<time>/study.{json,md}                        what was run

Run it as ``python scripts/study.py --help``.
"""

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
# Commands name the experiment (the W&B group) themselves: conf/train.yaml's own ``name``
# comes last in its defaults list and would otherwise win over the experiment's.

# What the paper ran (SETUP.md); anything less is a budget cut and is said so.
PAPER = {"art_epochs": 200, "lcd_epochs": 65, "seeds": 3, "inits": ("zero", "free", "contextual")}
REGIMES = ("normal", "zeros")  # ART's embedding init: ours, the authors' code


def csv_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="study.py", description=__doc__.splitlines()[0], allow_abbrev=False
    )
    main.add_argument("--out", help="study folder (default: outputs/study/<UTC time>)")
    main.add_argument("--tasks", default="art,lcd", help="comma list of art, lcd")
    main.add_argument("--inits", default="zero,free,contextual")
    main.add_argument("--seeds", default="0,1,2")
    main.add_argument("--regimes", default="normal,zeros", help="ART embedding inits to run")
    main.add_argument(
        "--art-epochs",
        type=int,
        default=PAPER["art_epochs"],
        help="ART max epochs (stops earlier at 100%% val accuracy)",
    )
    main.add_argument(
        "--art-zeros-epochs",
        type=int,
        help="max epochs for the zero-embedding regime (default: --art-epochs)",
    )
    main.add_argument(
        "--art-val-every",
        type=float,
        default=1.0,
        help="ART: validate every this fraction of an epoch (finer curves)",
    )
    main.add_argument("--lcd-epochs", type=int, default=PAPER["lcd_epochs"])
    main.add_argument(
        "--lcd-figures-every",
        type=int,
        default=1,
        help="LCD: draw the trajectory fans every N epochs (the aggregate draws Fig. 6 anyway)",
    )
    main.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Hydra override added to every sweep (repeatable)",
    )
    main.add_argument(
        "--dry-run", action="store_true", help="print the plan and commands; run and write nothing"
    )
    return main


def sweep_plan(args, study_dir: Path) -> list[dict]:
    """One entry per sweep: its name, command and budget, identical across inits."""
    tasks, inits, seeds = csv_list(args.tasks), csv_list(args.inits), csv_list(args.seeds)
    common = [
        f"model/init={','.join(inits)}",
        f"seed={','.join(seeds)}",
        "trainer.enable_progress_bar=false",
        *args.override,
    ]
    sweeps = []
    if "art" in tasks:
        for regime in csv_list(args.regimes):
            epochs = args.art_epochs
            if regime == "zeros" and args.art_zeros_epochs is not None:
                epochs = args.art_zeros_epochs
            extra = [f"++trainer.val_check_interval={args.art_val_every}"]
            sweeps.append(
                {
                    "name": f"art_{regime}",
                    "task": "art",
                    "regime": regime,
                    "max_epochs": epochs,
                    "val_every_epochs": args.art_val_every,
                    "paper_epochs": PAPER["art_epochs"],
                    "overrides": [
                        "experiment=art_paper",
                        f"model.embedding_init={regime}",
                        f"name=art_paper_{regime}",
                        f"trainer.max_epochs={epochs}",
                        *(extra if args.art_val_every != 1.0 else []),
                        *common,
                    ],
                }
            )
    if "lcd" in tasks:
        # The per-epoch fan figures only illustrate; drawing fewer saves time, not results.
        every = args.lcd_figures_every
        figures = [f"callbacks.trajectory_figures.every_n_epochs={every}"] if every != 1 else []
        sweeps.append(
            {
                "name": "lcd",
                "task": "lcd",
                "regime": None,
                "max_epochs": args.lcd_epochs,
                "val_every_epochs": 1.0,
                "paper_epochs": PAPER["lcd_epochs"],
                "overrides": [
                    "experiment=lcd_paper",
                    "name=lcd_paper",
                    f"trainer.max_epochs={args.lcd_epochs}",
                    *figures,
                    *common,
                ],
            }
        )
    # The authors' zero-embedding regime goes last: it is the one to cut if time runs out.
    sweeps.sort(key=lambda sweep: sweep["regime"] == "zeros")
    for sweep in sweeps:
        sweep.update(
            inits=inits,
            seeds=[int(s) for s in seeds],
            folder=str(study_dir / sweep["name"]),
            log=str(study_dir / "logs" / f"{sweep['name']}.log"),
        )
        sweep["command"] = [
            sys.executable,
            "train.py",
            "-m",
            *sweep["overrides"],
            f"hydra.sweep.dir={sweep['folder']}",
        ]
        sweep["cuts"] = budget_cuts(sweep, args)
    return sweeps


def budget_cuts(sweep: dict, args) -> list[str]:
    """How this sweep falls short of the paper's setting, in words."""
    cuts = []
    if sweep["max_epochs"] < sweep["paper_epochs"]:
        cuts.append(f"max epochs {sweep['max_epochs']} instead of {sweep['paper_epochs']}")
    if len(sweep["seeds"]) < PAPER["seeds"]:
        cuts.append(f"{len(sweep['seeds'])} seeds instead of {PAPER['seeds']}")
    missing = [i for i in PAPER["inits"] if i not in sweep["inits"]]
    if missing:
        cuts.append(f"inits left out: {', '.join(missing)}")
    if args.override:
        cuts.append(f"extra overrides: {' '.join(args.override)}")
    return cuts


def machine() -> dict:
    import torch

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpu_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "git_commit": commit or None,
    }


def write_record(study_dir: Path, record: dict) -> None:
    (study_dir / "study.json").write_text(json.dumps(record, indent=1) + "\n")
    (study_dir / "study.md").write_text(markdown(record))


def markdown(record: dict) -> str:
    lines = [
        f"# Study {record['folder']}",
        "",
        f"Started {record['started']}, finished {record.get('finished') or '(running)'}; "
        f"total wall time {seconds(record.get('wall_s'))}.",
        "",
        f"Command: `{record['command']}`",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in record["machine"].items()),
        "",
        "| sweep | inits | seeds | max epochs (paper) | budget cuts | status | wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in record["sweeps"]:
        lines.append(
            f"| {s['name']} | {', '.join(s['inits'])} | {', '.join(map(str, s['seeds']))} "
            f"| {s['max_epochs']} ({s['paper_epochs']}) | {'; '.join(s['cuts']) or 'none'} "
            f"| {s.get('status', 'planned')} | {seconds(s.get('wall_s'))} |"
        )
    lines += ["", "Commands (run from the repository root):", ""]
    lines += [f"- {s['name']}: `{shlex.join(s['command'])}`" for s in record["sweeps"]]
    return "\n".join(lines) + "\n"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s ({value / 60:.1f} min)"


def run_sweep(sweep: dict) -> None:
    """Run one multirun, its output to its log; a failed job does not stop the study."""
    Path(sweep["log"]).parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WANDB_SILENT": "true", "HYDRA_FULL_ERROR": "1"}
    start = time.time()
    sweep["started"] = now()
    with open(sweep["log"], "w") as log:
        code = subprocess.run(
            sweep["command"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env
        ).returncode
    sweep["wall_s"] = round(time.time() - start, 1)
    sweep["returncode"] = code
    sweep["status"] = "completed" if code == 0 else f"exit {code} (see log)"


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d_%H-%M-%S")
    study_dir = Path(args.out or ROOT / "outputs" / "study" / stamp).resolve()
    sweeps = sweep_plan(args, study_dir)
    record = {
        "folder": str(study_dir),
        "started": now(),
        "finished": None,
        "wall_s": None,
        "command": shlex.join(["python", "scripts/study.py", *(argv or sys.argv[1:])]),
        "machine": machine(),
        "sweeps": sweeps,
    }
    for s in sweeps:
        print(f"[{s['name']}] {shlex.join(s['command'])}")
        print(f"[{s['name']}] budget cuts: {'; '.join(s['cuts']) or 'none'}")
    if args.dry_run:
        return record
    study_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    write_record(study_dir, record)
    for s in sweeps:
        print(f"[{s['name']}] started {now()}; log: {s['log']}", flush=True)
        run_sweep(s)
        print(f"[{s['name']}] {s['status']} after {seconds(s['wall_s'])}", flush=True)
        write_record(study_dir, record)
    record.update(finished=now(), wall_s=round(time.time() - start, 1))
    write_record(study_dir, record)
    print(markdown(record))
    print(f"written: {study_dir / 'study.md'} and study.json")
    return record
