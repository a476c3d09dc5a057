"""A study in one command: sweeps of train.py over every init and many seeds.

``conf/study.yaml`` (``--config``) lists the sweeps, their overrides, inits (a sweep may
name its own), seeds and epoch caps (``--<name>-epochs``, by default what the paper ran).
Each sweep is one Hydra
multirun of ``train.py`` in ``<out>/<sweep>/``, its output in ``<out>/logs/<sweep>.log``;
rerunning the command with the same ``--out`` continues it. ``<out>/study.{json,md}``
record the commit, the machine, the commands, the budget against the paper's and the
wall time of every attempt.
"""

import argparse
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "conf" / "study.yaml"

# A run's folder named by its seed and init, not by its place in the grid: a later call
# with other seeds adds runs beside the earlier ones, and each continues its own.
RUN_FOLDER = "hydra.sweep.subdir=seed${seed}-${hydra:runtime.choices.model/init}"


def csv_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parser(study: dict) -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="study.py", description=__doc__.splitlines()[0], allow_abbrev=False
    )
    main.add_argument("--config", default=str(CONFIG), help="the study's sweeps (YAML)")
    main.add_argument("--out", help="study folder (default: outputs/study/<UTC time>)")
    sweeps = list(study["sweeps"])
    main.add_argument(
        "--sweeps", default=",".join(sweeps), help="comma list of " + ", ".join(sweeps)
    )
    main.add_argument("--seeds", default=",".join(map(str, study["seeds"])))
    for name, cap in study["epochs"].items():
        text = cap["help"].replace("%", "%%")
        main.add_argument(f"--{name}-epochs", type=int, default=cap["paper"], help=text)
    main.add_argument(
        "--override", action="append", default=[], metavar="KEY=VALUE",
        help="a Hydra override added to every sweep (repeatable; recorded as a budget change)",
    )  # fmt: skip
    main.add_argument(
        "--dry-run", action="store_true", help="print the plan and commands; run and write nothing"
    )
    return main


def planned_sweep(name: str, args, study: dict, study_dir: Path) -> dict:
    """One sweep's Hydra multirun and its budget against the paper's."""
    if name not in study["sweeps"]:
        raise SystemExit(f"error: --sweeps {name} is not a sweep: use {', '.join(study['sweeps'])}")
    sweep, seeds = study["sweeps"][name], csv_list(args.seeds)
    inits = sweep.get("inits", study["inits"])  # a sweep may compare fewer inits
    epochs = getattr(args, f"{sweep['epochs']}_epochs")
    paper = study["epochs"][sweep["epochs"]]["paper"]
    cuts = [f"epoch cap {epochs} instead of the paper's {paper}"] if epochs < paper else []
    cuts += [f"extra overrides: {' '.join(args.override)}"] if args.override else []
    overrides = [
        *sweep["overrides"],
        f"name={name}",
        # seeds outermost: a study stopped part way holds whole seeds, each with every init
        f"seed={','.join(seeds)}",
        f"model/init={','.join(inits)}",
        f"trainer.max_epochs={epochs}",
        "trainer.enable_progress_bar=false",
        *args.override,
        RUN_FOLDER,
        # each sweep in its own known folder: passing the same folder again resumes it
        f"hydra.sweep.dir={study_dir / name}",
    ]
    return {
        "name": name,
        "max_epochs": epochs,
        "paper_epochs": paper,
        "seeds": [int(s) for s in seeds],
        "inits": list(inits),
        "folder": str(study_dir / name),
        "log": str(study_dir / "logs" / f"{name}.log"),
        "command": [sys.executable, "train.py", "-m", *overrides],
        "cuts": cuts,
        "attempts": [],
    }


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def machine() -> dict:
    import torch

    commit = git("rev-parse", "HEAD") or None
    if commit and git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {
        "cpu_cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "code": str(ROOT),
        "git_commit": commit,
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


GRACE_S = 120  # after Ctrl-C, how long a sweep may take to stop before it is sent one itself


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
        child = subprocess.Popen(
            sweep["command"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env
        )
        try:
            code = child.wait()
        except KeyboardInterrupt:  # Ctrl-C reaches the sweep too: it saves its jobs and stops
            try:
                child.wait(timeout=GRACE_S)
            except subprocess.TimeoutExpired:  # the signal came to this process alone
                child.send_signal(signal.SIGINT)
                child.wait()
            raise
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
    config = argparse.ArgumentParser(add_help=False)
    config.add_argument("--config", default=str(CONFIG))
    study = OmegaConf.to_container(OmegaConf.load(config.parse_known_args(argv)[0].config))
    args = parser(study).parse_args(argv)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d_%H-%M-%S")
    study_dir = Path(args.out or ROOT / "outputs" / "study" / stamp).resolve()
    plan = [planned_sweep(name, args, study, study_dir) for name in csv_list(args.sweeps)]
    given = argv if argv is not None else sys.argv[1:]
    command = shlex.join(["python", "scripts/study.py", *given])
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
        try:
            sweep["attempts"][-1] = run_sweep(sweep)
        except KeyboardInterrupt:
            sweep["attempts"][-1]["status"] = "interrupted"
            write_record(study_dir, record)
            print("error: interrupted; the same command continues it", file=sys.stderr)
            sys.exit(130)
        print(f"[{sweep['name']}] {sweep['attempts'][-1]['status']}", flush=True)
        write_record(study_dir, record)
    print(markdown(record))
    print(f"written: {study_dir / 'study.md'} and study.json")
    return record
