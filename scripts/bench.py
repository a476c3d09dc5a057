"""Time the project's training path against a plain PyTorch loop, side by side in one process.

Two cases, each trained through both paths, interleaved, the median epoch reported:

  project  SequenceDataModule + LightningModule + pytorch_lightning.Trainer, built by
           contextual_rnn.train from the Hydra config (logger=none, callbacks=none, no
           checkpoints, no progress bar, no validation).
  plain    What a researcher writes by hand: an identical network (the module's
           embedding and ContextualRNN, same weights), the training tensors in memory,
           torch.randperm slicing, Adam, no Lightning.

An epoch is one pass over the training split, training only, in both paths. The
project's epoch runs from on_train_epoch_start to on_train_epoch_end (its loader's
iterator included); what a fit spends before and after its epochs is shown on its own
("fit setup").

ART (fast weights, 50 units, batch 128, k=8, 100k training samples): the plain loop runs
the fast-weights cell as the equations stand (implementation=loop), the per-step code one
writes first; the project runs its default (implementation=fast). The ratio shows the
framework's overhead paid back by the faster cell. LCD (LSTM, 128 units, batch 128, 5000
training sequences, gradient clipping at 10 in both paths) runs torch's fused LSTM in both
paths: its ratio is the framework's overhead alone.

    python scripts/bench.py                    # both cases, 3 repeats: a few minutes on 2 cores
    python scripts/bench.py --device cuda
    python scripts/bench.py --quick            # smoke run on tiny sizes
"""

import argparse
import copy
import logging
import math
import os
import resource
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass, field

import pytorch_lightning as pl
import torch
from contextual_rnn.cells.fast_weights import FastWeights
from contextual_rnn.config import compose_config
from contextual_rnn.train import build_datamodule, build_module, build_trainer
from torch import nn
from torch.nn import functional as F

QUIET = ["logger=none", "callbacks=none", "trainer.enable_progress_bar=false"]
QUIET += [f"++trainer.{key}" for key in ("enable_model_summary=false", "limit_val_batches=0")]
QUIET += ["++trainer.enable_checkpointing=false"]
CASES = {
    "ART": (["experiment=art_paper"], ["data.task.train_size=256", "data.task.val_size=64"]),
    "LCD": (
        ["experiment=lcd_paper"],
        ["data.task.train_per_period=40", "data.task.val_per_period=8"],
    ),
}
PATHS = ("project", "plain")
DEFAULT_EPOCHS = {"ART": 1, "LCD": 5}  # per run: an LCD epoch is ~20x shorter than an ART one


@dataclass
class Timings:
    epochs: list[float] = field(default_factory=list)
    setup: list[float] = field(default_factory=list)  # fit time outside its epochs
    peak_gpu_bytes: int = 0

    @property
    def epoch(self) -> float:
        return statistics.median(self.epochs)


class EpochTimer(pl.Callback):
    def __init__(self, sync):
        self.sync, self.epochs, self.started = sync, [], 0.0

    def on_train_epoch_start(self, trainer, module):
        self.sync()
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        self.sync()
        self.epochs.append(time.perf_counter() - self.started)


class PlainNetwork(nn.Module):
    """The model as one writes it by hand: optional embedding, then the ContextualRNN."""

    def __init__(self, embedding: nn.Module | None, net: nn.Module):
        super().__init__()
        self.embedding, self.net = embedding, net

    def forward(self, inputs: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        if self.embedding is not None:  # ART: the context is the embedded first token
            inputs = self.embedding(inputs)
            context = inputs[:, 0]
        outputs, _ = self.net(inputs, context)
        return outputs


def plain_network(module: pl.LightningModule) -> PlainNetwork:
    """A copy of the module's network; a fast-weights cell runs its per-step loop."""
    network = PlainNetwork(copy.deepcopy(module.embedding), copy.deepcopy(module.net))
    if isinstance(network.net.cell, FastWeights):
        network.net.cell.implementation = "loop"
    return network


def plain_epoch(network, optimizer, tensors, batch_size: int, clip: float | None, kind: str):
    """One shuffled pass; the epoch's mean loss is read once at the end, as Lightning does."""
    inputs, targets, context = tensors["inputs"], tensors["targets"], tensors.get("context")
    order = torch.randperm(len(targets), device=targets.device)
    total = torch.zeros((), device=targets.device)
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        outputs = network(inputs[index], None if context is None else context[index])
        if kind == "classification":  # ART: the last step's logits
            loss = F.cross_entropy(outputs[:, -1], targets[index])
        else:
            loss = F.mse_loss(outputs, targets[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(network.parameters(), clip)
        optimizer.step()
        total += loss.detach()
    return total.item() / math.ceil(len(order) / batch_size)


def synchronizer(device: str):
    return torch.cuda.synchronize if device == "cuda" else lambda: None


def reset_gpu_peak(device: str) -> None:
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()


def gpu_peak(device: str) -> int:
    return torch.cuda.max_memory_allocated() if device == "cuda" else 0


def run_case(name: str, args, out_dir: str) -> dict:
    """Both paths on one case, interleaved; returns timings and sizes."""
    experiment, tiny = CASES[name]
    epochs = args.epochs or DEFAULT_EPOCHS[name]
    accelerator = "gpu" if args.device == "cuda" else "cpu"
    overrides = [*experiment, *QUIET, f"trainer.max_epochs={epochs}"]
    overrides += [f"trainer.accelerator={accelerator}", *(tiny if args.quick else [])]
    cfg = compose_config(overrides, output_dir=out_dir)
    torch.manual_seed(0)
    started = time.perf_counter()
    datamodule = build_datamodule(cfg)
    generation = time.perf_counter() - started
    module = build_module(cfg, datamodule)
    network = plain_network(module).to(args.device)
    optimizer = torch.optim.Adam(network.parameters(), lr=cfg.model.optimizer.lr)
    train_split = datamodule.splits["train"]  # both paths read the same tensors, on the device
    train_split.tensors = tensors = {k: v.to(args.device) for k, v in train_split.tensors.items()}
    clip = cfg.trainer.get("gradient_clip_val")
    sync = synchronizer(args.device)
    project, plain = Timings(), Timings()

    def run_project():
        timer = EpochTimer(sync)
        trainer = build_trainer(cfg)
        trainer.callbacks.append(timer)
        reset_gpu_peak(args.device)
        began = time.perf_counter()
        trainer.fit(module, datamodule=datamodule)
        sync()
        project.setup.append(time.perf_counter() - began - sum(timer.epochs))
        project.epochs += timer.epochs
        project.peak_gpu_bytes = max(project.peak_gpu_bytes, gpu_peak(args.device))

    def run_plain():
        reset_gpu_peak(args.device)
        for _ in range(epochs):
            sync()
            began = time.perf_counter()
            plain_epoch(network, optimizer, tensors, cfg.data.batch_size, clip, module.spec.kind)
            sync()
            plain.epochs.append(time.perf_counter() - began)
        plain.peak_gpu_bytes = max(plain.peak_gpu_bytes, gpu_peak(args.device))

    for repeat in range(args.repeats):  # alternate who goes first
        for run in (run_project, run_plain) if repeat % 2 == 0 else (run_plain, run_project):
            run()
    steps = math.ceil(len(tensors["targets"]) / cfg.data.batch_size)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {
        "name": name,
        "project": project,
        "plain": plain,
        "steps": steps,
        "gen": generation,
        "peak_rss_mib": peak_rss,
    }


def cell_step_times(args, steps: int) -> tuple[float, float]:
    """Median ms of one fast-weights training step (forward + backward) at ART size."""
    batch, length, width, hidden = 128, 11, 100, 50
    torch.manual_seed(0)
    loop = FastWeights(width, hidden, implementation="loop").to(args.device)
    fast = FastWeights(width, hidden, implementation="fast").to(args.device)
    fast.load_state_dict(loop.state_dict())
    inputs = torch.randn(batch, length, width, device=args.device, requires_grad=True)
    h0 = torch.randn(batch, hidden, device=args.device, requires_grad=True)
    fast0 = (0.1 * torch.randn(batch, hidden, hidden, device=args.device)).requires_grad_()
    sync = synchronizer(args.device)

    def per_step(cell) -> float:
        sync()
        began = time.perf_counter()
        for _ in range(steps):
            outputs, _ = cell(inputs, (h0, fast0))
            outputs[:, -1].sum().backward()  # ART's loss reads the last step
        sync()
        return (time.perf_counter() - began) / steps * 1e3

    per_step(loop), per_step(fast)  # warm-up
    times = {"loop": [], "fast": []}
    for _ in range(max(args.repeats, 5)):
        times["loop"].append(per_step(loop))
        times["fast"].append(per_step(fast))
    return statistics.median(times["loop"]), statistics.median(times["fast"])


def table(results: list[dict]) -> str:
    header = (
        f"{'case':5} {'steps/epoch':>11} {'project s/epoch':>15} {'plain s/epoch':>13} "
        f"{'project steps/s':>15} {'plain steps/s':>13} {'project/plain':>13} "
        f"{'fit setup s':>11} {'data gen s':>10}"
    )
    lines = [header]
    for r in results:
        project, plain = r["project"].epoch, r["plain"].epoch
        lines.append(
            f"{r['name']:5} {r['steps']:>11} {project:>15.3f} {plain:>13.3f} "
            f"{r['steps'] / project:>15.1f} {r['steps'] / plain:>13.1f} {project / plain:>13.2f} "
            f"{statistics.median(r['project'].setup):>11.2f} {r['gen']:>10.2f}"
        )
    for r in results:  # every epoch, so that a disturbed one is visible
        project, plain = (" ".join(f"{t:.2f}" for t in r[path].epochs) for path in PATHS)
        lines.append(f"{r['name']} epochs (s): project {project} | plain {plain}")
    return "\n".join(lines)


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per path")
    parser.add_argument("--epochs", type=int, help="epochs per run (default: ART 1, LCD 5)")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--quick", action="store_true", help="tiny data, one repeat: smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
        args.epochs = args.epochs or 1
    return args


def main(argv=None) -> list[dict]:
    args = parse(argv)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*GPU available but not used.*")
    load = os.getloadavg()
    print(
        f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, repeats {args.repeats}"
    )
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as out_dir:
        results = [run_case(name, args, out_dir) for name in args.cases]
    print(table(results))
    loop_ms, fast_ms = cell_step_times(args, steps=3 if args.quick else 30)
    print(
        f"fast-weights cell training step at ART size: loop {loop_ms:.2f} ms, "
        f"fast {fast_ms:.2f} ms, speedup {loop_ms / fast_ms:.2f}x"
    )
    for r in results:
        print(f"peak resident memory (ru_maxrss) after {r['name']}: {r['peak_rss_mib']:.0f} MiB")
    for r in results if args.device == "cuda" else []:
        project, plain = (r[path].peak_gpu_bytes / 2**20 for path in PATHS)
        print(f"peak CUDA memory {r['name']}: project {project:.0f} MiB, plain {plain:.0f} MiB")
    load = os.getloadavg()
    print(f"wall time {time.perf_counter() - began:.0f} s, load average at the end {load[0]:.2f}")
    return results


if __name__ == "__main__":
    main()
