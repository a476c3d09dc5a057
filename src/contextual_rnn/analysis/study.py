"""The paper's study in one command: zero / free / contextual h0 on ART and LCD, many seeds.

Sweeps (each one Hydra multirun of ``train.py``, its jobs side by side on the cores):

    art_authors          ART, the authors' code in every detail (zero embedding)
    art_authors_normal   ART, the authors' code but a N(0, 1) embedding
    art_ba2016           ART, Ba et al. (2016) as written
    lcd_authors          LCD, the authors' code (TensorFlow's LSTMCell details)

Within a sweep every init gets the same overrides, data, seeds and budget: a sweep
varies only ``model/init`` and ``seed``, so nothing is tuned toward a winner. ART runs
stop at 100% validation accuracy or at ``--art-epochs``.

The study is resumable: run the same command again (same ``--out``) and finished runs
are kept as they are, killed ones continue from their last checkpoint, and a larger
``--art-epochs`` continues the runs that hit the old cap. ``study.json`` / ``study.md``
record the commit, the machine, the exact commands, the budget against the paper's and
the wall time of every attempt:

    <out>/<sweep>/<job>/            the runs (Hydra's sweep folders)
    <out>/logs/<sweep>.log          their output
    <out>/study.{json,md}           what was run

Run it as ``python scripts/study.py --help``; aggregate with ``scripts/aggregate.py``.
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
SWEEPS = {
    "art_authors": ["experiment=art_paper", "preset=authors"],
    "art_authors_normal": ["experiment=art_paper", "preset=authors", "model.embedding_init=normal"],
    "art_ba2016": ["experiment=art_paper", "preset=ba2016"],
    "lcd_authors": ["experiment=lcd_paper", "preset=authors"],
}
# What the paper ran (docs/paper_setup.md); anything less is a budget cut and is said so.
PAPER = {"art": 200, "lcd": 65, "seeds": 3}
INITS = ("zero", "free", "contextual")


def csv_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="study.py", description=__doc__.splitlines()[0], allow_abbrev=False
    )
    main.add_argument("--out", help="study folder (default: outputs/study/<UTC time>)")
    main.add_argument(
        "--sweeps", default=",".join(SWEEPS), help="comma list of " + ", ".join(SWEEPS)
    )
    main.add_argument("--seeds", default="0,1,2,3,4")
    main.add_argument(
        "--art-epochs",
        type=int,
        default=PAPER["art"],
        help="ART epoch cap (runs stop earlier at 100%% validation accuracy)",
    )
    main.add_argument("--lcd-epochs", type=int, default=PAPER["lcd"])
    main.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a Hydra override added to every sweep (repeatable; recorded as a budget change)",
    )
    main.add_argument(
        "--dry-run", action="store_true", help="print the plan and commands; run and write nothing"
    )
    return main


def sweep_plan(args, study_dir: Path) -> list[dict]:
    seeds = csv_list(args.seeds)
    plan = []
    for name in csv_list(args.sweeps):
        if name not in SWEEPS:
            raise SystemExit(f"error: --sweeps {name} is not a sweep: use {', '.join(SWEEPS)}")
        task = name.split("_")[0]
        epochs = args.art_epochs if task == "art" else args.lcd_epochs
        overrides = [
            *SWEEPS[name],
            f"name={name}",
            f"model/init={','.join(INITS)}",
            f"seed={','.join(seeds)}",
            f"trainer.max_epochs={epochs}",
            "trainer.enable_progress_bar=false",
            *args.override,
        ]
        folder = study_dir / name
        cuts = []
        if epochs < PAPER[task]:
            cuts.append(f"epoch cap {epochs} instead of the paper's {PAPER[task]}")
        if args.override:
            cuts.append(f"extra overrides: {' '.join(args.override)}")
        plan.append(
            {
                "name": name,
                "task": task,
                "max_epochs": epochs,
                "paper_epochs": PAPER[task],
                "seeds": [int(s) for s in seeds],
                "inits": list(INITS),
                "folder": str(folder),
                "log": str(study_dir / "logs" / f"{name}.log"),
                # hydra.sweep.dir: the study puts each sweep in its own known folder, and
                # passing the same folder again is how a sweep resumes (README)
                "command": [
                    sys.executable,
                    "train.py",
                    "-m",
                    *overrides,
                    f"hydra.sweep.dir={folder}",
                ],
                "cuts": cuts,
                "attempts": [],
            }
        )
    return plan


def git_commit() -> str | None:
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip()

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return commit + (" (with uncommitted changes)" if dirty else "")


def machine() -> dict:
    import torch

    return {
        "cpu_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "code": str(ROOT),
        "git_commit": git_commit(),
    }


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s ({value / 3600:.2f} h)"


def markdown(record: dict) -> str:
    lines = [
        f"# Study {record['folder']}",
        "",
        "Commands, in order: " + "; ".join(f"`{c}`" for c in record["commands"]),
        "",
        "Machine and code: " + ", ".join(f"{k} {v}" for k, v in record["machine"].items()),
        "",
        "| sweep | inits | seeds | epoch cap (paper) | budget cuts "
        "| attempts (status, wall time) |",
        "|---|---|---|---|---|---|",
    ]
    for s in record["sweeps"]:
        attempts = "; ".join(
            f"{a['started']}: {a.get('status', 'running')}, {seconds(a.get('wall_s'))}"
            for a in s["attempts"]
        )
        lines.append(
            f"| {s['name']} | {', '.join(s['inits'])} | {', '.join(map(str, s['seeds']))} "
            f"| {s['max_epochs']} ({s['paper_epochs']}) | {'; '.join(s['cuts']) or 'none'} "
            f"| {attempts or 'not run'} |"
        )
    lines += ["", "Commands (run from the repository root):", ""]
    lines += [f"- {s['name']}: `{shlex.join(s['command'])}`" for s in record["sweeps"]]
    return "\n".join(lines) + "\n"


def write_record(study_dir: Path, record: dict) -> None:
    (study_dir / "study.json").write_text(json.dumps(record, indent=1) + "\n")
    (study_dir / "study.md").write_text(markdown(record))


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def run_sweep(sweep: dict) -> dict:
    """Run (or continue) one sweep, its output appended to its log."""
    Path(sweep["log"]).parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WANDB_SILENT": "true"}
    env.pop("WANDB_SERVICE", None)
    attempt = {"started": now()}
    began = time.time()
    with open(sweep["log"], "a") as log:
        log.write(f"\n=== {attempt['started']}: {shlex.join(sweep['command'])}\n")
        log.flush()
        code = subprocess.run(
            sweep["command"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env
        ).returncode
    attempt.update(wall_s=round(time.time() - began, 1), returncode=code)
    attempt["status"] = "completed" if code == 0 else f"exit {code} (see its log)"
    return attempt


def continued_record(study_dir: Path, plan: list[dict], command: str) -> dict:
    """The study's record with this command's plan: a continued study keeps every earlier
    command, each sweep's earlier attempts (one still marked running was interrupted)
    and the sweeps this command does not run."""
    earlier = {"commands": [], "sweeps": []}
    if (study_dir / "study.json").is_file():
        earlier = json.loads((study_dir / "study.json").read_text())
        earlier.setdefault("commands", [earlier.get("command")])
    planned = {sweep["name"]: sweep for sweep in plan}
    sweeps = []
    for old in earlier["sweeps"]:
        for attempt in old["attempts"]:
            if attempt.get("status") == "running":
                attempt["status"] = "interrupted"
        if old["name"] in planned:
            planned[old["name"]]["attempts"] = old["attempts"]
            sweeps.append(planned.pop(old["name"]))
        else:
            sweeps.append(old)
    return {
        "folder": str(study_dir),
        "commands": [*earlier["commands"], command],
        "machine": machine(),
        "sweeps": sweeps + list(planned.values()),
    }


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d_%H-%M-%S")
    study_dir = Path(args.out or ROOT / "outputs" / "study" / stamp).resolve()
    plan = sweep_plan(args, study_dir)
    command = shlex.join(
        ["python", "scripts/study.py", *(argv if argv is not None else sys.argv[1:])]
    )
    record = continued_record(study_dir, plan, command)
    for sweep in plan:
        print(f"[{sweep['name']}] {shlex.join(sweep['command'])}")
        print(f"[{sweep['name']}] budget cuts: {'; '.join(sweep['cuts']) or 'none'}")
    if args.dry_run:
        return record
    study_dir.mkdir(parents=True, exist_ok=True)
    write_record(study_dir, record)
    for sweep in plan:
        print(f"[{sweep['name']}] started {now()}; log: {sweep['log']}", flush=True)
        sweep["attempts"].append({"started": now(), "status": "running"})
        write_record(study_dir, record)
        sweep["attempts"][-1] = run_sweep(sweep)
        print(f"[{sweep['name']}] {sweep['attempts'][-1]['status']}", flush=True)
        write_record(study_dir, record)
    print(markdown(record))
    print(f"written: {study_dir / 'study.md'} and study.json")
    return record
