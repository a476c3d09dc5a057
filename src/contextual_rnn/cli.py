"""Use a trained model: ``contextual-rnn evaluate | generate | answer`` (or python -m ...).

    evaluate CKPT_OR_RUN [--which best|last] [--test-size N --test-seed S] [--device auto|cpu|cuda]
    generate CKPT_OR_RUN --period 1 2.5 --x0 3 [--samples 10] [--steps 25] [--out DIR]
    answer   CKPT_OR_RUN c9k8j3f1??c [more sequences]

A checkpoint is rebuilt only from the project's registered classes (``core.registry``);
``--import MODULE`` first imports a module of yours that defines more (a cell or an
initial state you trained with). ``generate`` takes the task's conditions as options
(LCD: ``--period``, ``--x0``). Every failure (bad path, truncated, foreign, unsafe or
diverged checkpoint, wrong kind of task, malformed input, a size past its bound) is one
line on stderr and exit code 2; a file that cannot be written, exit code 4. Bounds:
``evaluate``'s splits must fit in half this machine's memory (measured on torch's meta
device); ``generate`` rolls out at most MAX_SAMPLE_STEPS samples x steps over all
conditions (about a minute on one core, most of it drawing).
``--device auto`` (the default) uses the GPU where there is one, as training's
``trainer.accelerator=auto`` does, so evaluate reproduces the metrics training logged.
"""

import argparse
import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from contextual_rnn.core.checkpoints import CheckpointError, load_module
from contextual_rnn.core.data import SequenceDataModule
from contextual_rnn.core.errors import (
    ConfigError,
    InputError,
    check_memory,
    meta_splits,
    split_bytes,
)
from contextual_rnn.core.figures import fan_grid, save
from contextual_rnn.core.registry import build
from contextual_rnn.core.tasks.base import SequenceTask

MAX_SAMPLES = 10_000  # generate: initial states per condition
MAX_STEPS = 10_000  # generate: rollout length
MAX_SAMPLE_STEPS = 1_000_000  # generate: samples x steps, over all conditions
BAD_INPUT, CANNOT_WRITE = 2, 4
DEVICES = ("auto", "cpu", "cuda")


def chosen_device(name: str) -> torch.device:
    """``--device``: auto is CUDA where this machine has a GPU, else the CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: expected cpu or auto: this machine has no GPU")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def load_on_device(args, kind: str | None = None):
    """The checkpoint's module on the ``--device`` chosen (checked before loading)."""
    device = chosen_device(args.device)
    return load_module(args.checkpoint, args.which, kind=kind).to(device)


# --- evaluate -------------------------------------------------------------------------------


def evaluation_data(module, test_size: int | None, test_seed: int | None) -> SequenceDataModule:
    """The run's own validation split, or a fresh one of the given size and seed."""
    data = dict(module.hparams.get("data") or {})
    if not data:
        raise CheckpointError("this checkpoint does not record its data config")
    task_config = dict(module.hparams["task"])
    if test_size is not None:
        if test_size < 1:
            raise InputError(f"--test-size {test_size}: expected a positive integer")
        task_config[type(module.task).val_size_option] = test_size
    if test_seed is not None:
        if test_seed < 0:
            raise InputError(f"--test-seed {test_seed}: expected an integer >= 0")
        data["val_seed"] = test_seed
    try:
        task = build(task_config, SequenceTask, "task")
        datamodule = SequenceDataModule(task, **data)
        check_memory("task", task_config, split_bytes(meta_splits(task)), "splits that fit")
    except ConfigError as error:
        if error.key == "task" and test_size is not None:
            raise InputError(f"--test-size {test_size}: expected {error.allowed}") from None
        raise CheckpointError(f"its data config cannot be rebuilt: {error}") from None
    except TypeError as error:
        raise CheckpointError(f"its data config cannot be rebuilt: {error}") from None
    datamodule.setup("validate")
    return datamodule


def evaluate(args) -> dict:
    module = load_on_device(args)
    datamodule = evaluation_data(module, args.test_size, args.test_seed)
    trainer = pl.Trainer(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="gpu" if module.device.type == "cuda" else "cpu",
        devices=1,
    )
    metrics = {
        k: float(v) for k, v in trainer.validate(module, datamodule, verbose=False)[0].items()
    }
    split = "validation" if args.test_seed is None else "test"
    suffix = "" if split == "validation" else f".test-seed{args.test_seed}"
    suffix += "" if args.test_size is None else f"-size{args.test_size}"
    out = module.checkpoint_path.with_name(module.checkpoint_path.stem + suffix + ".eval.json")
    report = {
        "checkpoint": str(module.checkpoint_path),
        "split": split,
        "sequences": len(datamodule.splits["val"]),
        "metrics": metrics,
    }
    for key, value in sorted(metrics.items()):
        print(f"{key} = {value:.6g}")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {out}")
    return report


# --- generate -------------------------------------------------------------------------------


def condition_options(extra: list[str]) -> dict[str, list[float]]:
    """``--name v1 v2 --other v3`` -> {name: [v1, v2], other: [v3]}, numbers only."""
    values: dict[str, list[float]] = {}
    name = None
    for item in extra:
        if item.startswith("--"):  # never a number: a negative one has one dash
            name = item[2:]
            values.setdefault(name, [])
        elif name is None:
            raise InputError(f"unexpected argument {item!r}")
        else:
            try:
                values[name].append(float(item))
            except ValueError:
                raise InputError(f"--{name} {item}: expected a number") from None
    return values


def generate(args, extra: list[str]) -> dict:
    module = load_on_device(args, kind="regression")
    if not 1 <= args.samples <= MAX_SAMPLES:
        raise InputError(f"--samples {args.samples}: expected an integer from 1 to {MAX_SAMPLES}")
    if args.steps is not None and not 1 <= args.steps <= MAX_STEPS:
        raise InputError(f"--steps {args.steps}: expected an integer from 1 to {MAX_STEPS}")
    task = module.task
    conditions = task.parse_conditions(condition_options(extra))
    steps = args.steps or module.layout.sequence_length
    rollouts = len(next(iter(conditions.values()))) * args.samples * steps
    if rollouts > MAX_SAMPLE_STEPS:
        raise InputError(
            f"--samples {args.samples} --steps {steps}: expected at most {MAX_SAMPLE_STEPS:,} "
            f"samples x steps over all conditions ({rollouts:,} asked)"
        )
    for warning in task.outside_training(conditions):
        print(f"warning: {warning}: extrapolating", file=sys.stderr)
    if not module.net.stochastic:
        print(
            f"note: {type(module.net.initial_state).__name__} gives one initial state per "
            f"condition: all {args.samples} samples coincide",
            file=sys.stderr,
        )
    torch.manual_seed(args.seed)
    samples = module.rollout(conditions, steps, sample=True, num_samples=args.samples).cpu()
    truth = task.truth(conditions, steps)
    out = Path(args.out or module.checkpoint_path.parent.parent / "generated")
    out.mkdir(parents=True, exist_ok=True)
    np.savez(
        out / "trajectories.npz",
        samples=samples.numpy(),
        truth=truth.numpy(),
        **{name: value.numpy() for name, value in conditions.items()},
    )
    titles = [task.describe(conditions, i) for i in range(len(samples))]
    save(fan_grid(samples, truth, titles), out / "trajectories.png")
    print(f"written: {out / 'trajectories.png'} and {out / 'trajectories.npz'}")
    return {"samples": samples, "truth": truth, "out": out}


# --- answer ---------------------------------------------------------------------------------


def answer(args) -> list[tuple[str, float]]:
    module = load_on_device(args, kind="classification")
    answers = []
    for text in args.sequences:  # each printed as it comes: a malformed one stops there
        answers.append(module.answer(text))
        print(f"{text} -> {answers[-1][0]} (p={answers[-1][1]:.3f})")
    return answers


# --- command line ---------------------------------------------------------------------------


class OneLineParser(argparse.ArgumentParser):
    """argparse's usage errors in one line (its own print the usage first), exit code 2."""

    def error(self, message: str):
        self.exit(BAD_INPUT, f"error: {message}\n")


def parser() -> argparse.ArgumentParser:
    main = OneLineParser(prog="contextual-rnn", description=__doc__.splitlines()[0])
    main.add_argument(
        "--import",
        dest="modules",
        action="append",
        default=[],
        metavar="MODULE",
        help="import this module first (it registers cells, inits or tasks of yours)",
    )
    commands = main.add_subparsers(dest="command", required=True)

    def command(name, function, help_text):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("checkpoint", help="a .ckpt file or a run folder")
        sub.add_argument(
            "--which",
            choices=("best", "last"),
            default="best",
            help="for a run folder: its best (default) or last checkpoint",
        )
        sub.add_argument(
            "--device",
            choices=DEVICES,
            default="auto",
            help="where the model runs: auto (default) is the GPU where there is one",
        )
        sub.set_defaults(function=function)
        return sub

    sub = command("evaluate", evaluate, "validation metrics of a checkpoint, as training logged")
    sub.add_argument("--test-size", type=int, help="a fresh split of this size (LCD: per period)")
    sub.add_argument("--test-seed", type=int, help="a fresh split from this seed")
    sub = command("generate", generate, "sample initial states and roll out trajectories")
    sub.add_argument(
        "--samples", type=int, default=10, help=f"initial states per condition (<= {MAX_SAMPLES})"
    )
    sub.add_argument("--steps", type=int, help="rollout length (default: the task's)")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--out", help="folder for the figure and .npz (default: <run>/generated)")
    sub.epilog = "conditions: the task's, e.g. LCD: --period 1 2.5 --x0 3"
    sub = command("answer", answer, "the answer a classification model gives a query")
    sub.add_argument("sequences", nargs="+", metavar="SEQUENCE")
    return main


def main(argv: list[str] | None = None) -> None:
    args, extra = parser().parse_known_args(argv)
    if args.command != "generate" and extra:
        parser().error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command == "evaluate" and args.test_size is not None and args.test_seed is None:
        args.test_seed = 0  # a fresh split always has a seed
    try:
        for module in args.modules:
            importlib.import_module(module)
        if args.command == "generate":
            args.function(args, extra)
        else:
            args.function(args)
    except (ImportError, CheckpointError, InputError) as error:
        where = "--import: " if isinstance(error, ImportError) else ""
        print(f"error: {where}{error}", file=sys.stderr)
        sys.exit(BAD_INPUT)
    except OSError as error:  # what it writes: the .eval.json, the generated files
        print(f"error: could not write {error.filename}: {error.strerror}", file=sys.stderr)
        sys.exit(CANNOT_WRITE)


if __name__ == "__main__":
    main()
