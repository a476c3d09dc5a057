"""Use a trained model: ``contextual-rnn evaluate | generate | answer`` (or python -m ...).

    evaluate CKPT_OR_RUN [--which best|last] [--test-size N --test-seed S]
    generate CKPT_OR_RUN --period 1 2.5 --x0 3 [--samples 10] [--steps 25] [--out DIR]
    answer   CKPT_OR_RUN c9k8j3f1??c [more sequences]

Every failure (bad path, truncated or foreign checkpoint, wrong task, malformed
input) is one line on stderr and exit code 2.
"""

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate

from contextual_rnn.checkpoints import CheckpointError, load_module
from contextual_rnn.data.art import ALPHABET, NUM_LETTERS, encode_text
from contextual_rnn.data.datamodule import SequenceDataModule
from contextual_rnn.data.lcd import lcd_curve
from contextual_rnn.plotting import save, trajectory_fan


class InputError(ValueError):
    """Malformed user input; the message is one line."""


# --- evaluate -------------------------------------------------------------------------------

SPLIT_SIZE_KEYS = ("val_size", "val_per_period")  # ART, LCD: how big the validation split is


def evaluation_data(module, test_size: int | None, test_seed: int | None) -> SequenceDataModule:
    """The run's own validation split, or a fresh one of the given size and seed."""
    data = dict(module.hparams.get("data") or {})
    if not data:
        raise CheckpointError("this checkpoint does not record its data config")
    task_cfg = dict(data.pop("task"))
    if test_size is not None:
        key = next((k for k in SPLIT_SIZE_KEYS if k in task_cfg), None)
        if key is None:
            raise InputError("--test-size: this task has no validation size to change")
        task_cfg[key] = test_size
    if test_seed is not None:
        data["val_seed"] = test_seed
    datamodule = SequenceDataModule(instantiate(task_cfg), **data)
    datamodule.setup("validate")
    return datamodule


def evaluate(args) -> dict:
    module = load_module(args.checkpoint, args.which)
    datamodule = evaluation_data(module, args.test_size, args.test_seed)
    trainer = pl.Trainer(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        accelerator="cpu",
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
    out.write_text(json.dumps(report, indent=2) + "\n")
    for key, value in sorted(metrics.items()):
        print(f"{key} = {value:.6g}")
    print(f"written: {out}")
    return report


# --- generate -------------------------------------------------------------------------------


def contexts(periods: list[float], x0s: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    if len(x0s) not in (1, len(periods)):
        raise InputError(f"--x0 takes one value or one per period ({len(periods)}), got {len(x0s)}")
    x0s = x0s * len(periods) if len(x0s) == 1 else x0s
    return torch.tensor(x0s, dtype=torch.float32), torch.tensor(periods, dtype=torch.float32)


def outside_training_range(module, x0: torch.Tensor, period: torch.Tensor) -> list[str]:
    extra, task = module.spec.extra, (module.hparams.get("data") or {}).get("task", {})
    ranges = {"period": (min(extra["train_periods"]), max(extra["train_periods"]), period)}
    if "x0_range" in task:
        ranges["x0"] = (*task["x0_range"], x0)
    return [
        f"{name}={v:g} is outside the training range [{low:g}, {high:g}]"
        for name, (low, high, values) in ranges.items()
        for v in values.tolist()
        if not low <= v <= high
    ]


def generate(args) -> dict:
    module = load_module(args.checkpoint, args.which, kind="regression")
    if args.samples < 1 or (args.steps is not None and args.steps < 1):
        raise InputError("--samples and --steps must be positive")
    x0, period = contexts(args.period, args.x0)
    for warning in outside_training_range(module, x0, period):
        print(f"warning: {warning}: extrapolating", file=sys.stderr)
    initial = module.net.initial_state
    if not initial.stochastic:
        print(
            f"note: {type(initial).__name__} gives one initial state per context: "
            f"all {args.samples} samples coincide",
            file=sys.stderr,
        )
    torch.manual_seed(args.seed)
    steps = args.steps or module.spec.sequence_length
    samples = module.rollout(x0, period, steps, sample=True, num_samples=args.samples).cpu()
    extra = module.spec.extra
    truth = lcd_curve(x0, period, steps + 1, extra["decay_steps"], extra["alpha"], extra["beta"])
    out = Path(args.out or module.checkpoint_path.parent.parent / "generated")
    out.mkdir(parents=True, exist_ok=True)
    np.savez(
        out / "trajectories.npz",
        samples=samples.numpy(),
        truth=truth.numpy(),
        x0=x0.numpy(),
        period=period.numpy(),
    )
    figure = fan_grid(samples, truth, x0, period)
    save(figure, out / "trajectories.png")
    print(f"written: {out / 'trajectories.png'} and {out / 'trajectories.npz'}")
    return {"samples": samples, "truth": truth, "out": out}


def fan_grid(samples, truth, x0, period):
    import matplotlib.pyplot as plt

    count = len(period)
    cols = min(count, 3)
    rows = math.ceil(count / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.4 * rows), squeeze=False, dpi=100)
    for i, ax in enumerate(axes.flat):
        if i >= count:
            ax.axis("off")
            continue
        trajectory_fan(samples[i], truth[i], f"period {period[i]:g}, x0 {x0[i]:g}", ax=ax)
    fig.tight_layout()
    return fig


# --- answer ---------------------------------------------------------------------------------


def check_art_sequence(text: str, k: int) -> None:
    """Raise InputError unless ``text`` is an ART query for a model trained with this k."""
    length = k + 3
    form = f"{k // 2} letter-digit pairs, '??', then one of the letters (like c9k8j3f1??c)"
    if len(text) != length:
        raise InputError(
            f"{text!r} has {len(text)} characters; this model (k={k}) needs {length}: {form}"
        )
    if bad := sorted({ch for ch in text if ch not in ALPHABET}):
        raise InputError(f"{text!r}: characters {bad} are not lowercase letters, digits or '?'")
    letters, digits = text[0:k:2], text[1:k:2]
    if not all(ch in ALPHABET[:NUM_LETTERS] for ch in letters):
        raise InputError(f"{text!r}: positions 1, 3, ... of the pairs must be letters: {form}")
    if not all(ch.isdigit() for ch in digits):
        raise InputError(f"{text!r}: positions 2, 4, ... of the pairs must be digits: {form}")
    if len(set(letters)) != len(letters):
        raise InputError(f"{text!r}: the letters of the pairs must be distinct")
    if text[k : k + 2] != "??":
        raise InputError(f"{text!r}: expected '??' after the pairs: {form}")
    if text[-1] not in letters:
        raise InputError(f"{text!r}: the query {text[-1]!r} is not one of the keys {letters!r}")


def answer(args) -> list[tuple[int, float]]:
    module = load_module(args.checkpoint, args.which, kind="classification")
    k = module.spec.extra["k"]
    answers = []
    for text in args.sequences:
        check_art_sequence(text, k)
        with torch.no_grad():
            logits = module.logits({"inputs": encode_text(text)[None]}, sample=False)
        probabilities = logits.softmax(dim=-1)[0]
        digit = int(probabilities.argmax())
        answers.append((digit, float(probabilities[digit])))
        print(f"{text} -> {digit} (p={probabilities[digit]:.3f})")
    return answers


# --- command line ---------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="contextual-rnn", description=__doc__.splitlines()[0])
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
        sub.set_defaults(function=function)
        return sub

    sub = command("evaluate", evaluate, "validation metrics of a checkpoint, as training logged")
    sub.add_argument("--test-size", type=int, help="a fresh split of this size (LCD: per period)")
    sub.add_argument("--test-seed", type=int, help="a fresh split from this seed")
    sub = command("generate", generate, "sample initial states and roll out trajectories (LCD)")
    sub.add_argument("--period", type=float, nargs="+", required=True)
    sub.add_argument("--x0", type=float, nargs="+", default=[3.0])
    sub.add_argument("--samples", type=int, default=10, help="initial states per context")
    sub.add_argument("--steps", type=int, help="rollout length (default: the task's)")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--out", help="folder for the figure and .npz (default: <run>/generated)")
    sub = command("answer", answer, "the digit an ART model retrieves for a query")
    sub.add_argument("sequences", nargs="+", metavar="SEQUENCE")
    return main


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "evaluate" and args.test_size is not None and args.test_seed is None:
        args.test_seed = 0  # a fresh split always has a seed
    try:
        args.function(args)
    except (CheckpointError, InputError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
