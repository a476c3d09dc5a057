"""Time the project against the fastest straightforward plain PyTorch loop, in one run.

Each ratio is measured against a baseline timed in the same run, interleaved:

  ART epoch    project (DataModule + LightningModule + Trainer from the Hydra config,
               logging, callbacks and validation off) vs a plain loop a competent user
               writes for the same maths: nn.Embedding, the fast-weights recurrence with
               A_t materialised and read as a row-vector product (h^T A, the fast way to
               read it), g as nn.Linear, the readout MLP, cross-entropy, torch.optim.Adam.
               Same initial weights, same batches. Target <= 0.5.
  LCD epoch    the same for LCD: nn.LSTM, g, dense output, Adam, clip_grad_norm_(10).
               Target <= 1.0.
  main job     `python train.py` (LCD, 65 epochs, W&B, CSV, checkpoints, a fan figure per
               period every epoch: what `make train` runs), wall time, vs 65 plain LCD
               epochs. Target <= 1.25.
  3-seed sweep `python train.py -m seed=0,1,2` with the default parallel launcher vs the
               same three runs one after another (hydra/launcher=basic). Target <= 0.6.
               Printed with it: the least ratio any launcher could reach on this
               machine (``sweep_bound``), from the main job's training and other time
               and how much slower the LSTM step runs on one thread than on all.

An epoch is one pass over the training split. The plain loops run the model of the
paper's experiments with the default initial state of each (contextual); the project's
path is what `train.py experiment=<task>_paper` trains.

    python scripts/bench.py                  # everything: about 10 minutes on 2 cores
    python scripts/bench.py --skip-jobs      # the two epoch ratios only
    python scripts/bench.py --quick          # smoke run on tiny sizes
    python scripts/bench.py --device cuda
"""

import argparse
import copy
import logging
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F

from contextual_rnn.training.compose import compose_config
from contextual_rnn.training.train import build_datamodule, build_module, build_trainer

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["logger=none", "callbacks=none", "trainer.enable_progress_bar=false"]
QUIET += [f"++trainer.{key}" for key in ("enable_model_summary=false", "limit_val_batches=0")]
QUIET += ["++trainer.enable_checkpointing=false"]
CASES = {  # the experiment without its task's callbacks, and the sizes of --quick
    "ART": (
        ["experiment=art_paper", "~callbacks.stop_at_perfect_accuracy"],
        ["data.task.train_size=256", "data.task.val_size=64"],
    ),
    "LCD": (
        ["experiment=lcd_paper", "~callbacks.trajectory_figures"],
        ["data.task.train_per_period=40", "data.task.val_per_period=8"],
    ),
}
TARGETS = {"ART": 0.5, "LCD": 1.0, "main job": 1.25, "3-seed sweep": 0.6}
DEFAULT_EPOCHS = {"ART": 1, "LCD": 5}  # per run: an LCD epoch is ~20x shorter than an ART one


@dataclass
class Timings:
    epochs: list[float] = field(default_factory=list)

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


# --- the plain models: what one writes by hand ----------------------------------------------


class PlainFastWeights(nn.Module):
    """Ba et al.'s recurrence step by step: A_t materialised, read as h^T A_t^T."""

    def __init__(self, cell):
        super().__init__()
        self.W, self.C, self.norm = cell.recurrent, cell.input, cell.norm
        self.decay, self.eta, self.preliminary = cell.decay, cell.eta, cell.update == "preliminary"

    def forward(self, x, h, A):
        driven, outputs = self.C(x), []
        for t in range(x.shape[1]):
            z = self.W(h) + driven[:, t]
            h0 = F.relu(z)
            u = h0 if self.preliminary else h
            A = self.decay * A + self.eta * torch.bmm(u.unsqueeze(2), u.unsqueeze(1))
            h = F.relu(self.norm(z + torch.bmm(h0.unsqueeze(1), A.transpose(1, 2)).squeeze(1)))
            outputs.append(h)
        return torch.stack(outputs, dim=1)


class PlainART(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.embedding = nn.Embedding.from_pretrained(
            module.embedding.weight.detach().clone(), freeze=False
        )
        net = module.net
        self.cell = PlainFastWeights(net.cell)
        self.g = net.initial_state.net[0]  # one linear layer (the paper's ART g)
        self.readout = net.readout
        self.hidden = net.cell.hidden_size

    def forward(self, batch):
        x = self.embedding(batch["inputs"])
        state = self.g(x[:, 0])
        h, A = (
            state[:, : self.hidden],
            state[:, self.hidden :].reshape(-1, self.hidden, self.hidden),
        )
        return self.readout(self.cell(x, h, A)[:, -1])


class PlainLCD(nn.Module):
    def __init__(self, module):
        super().__init__()
        net = module.net
        rnn = net.cell.rnn  # the same weights in the batch-first nn.LSTM one writes by hand
        self.lstm = nn.LSTM(rnn.input_size, rnn.hidden_size, batch_first=True)
        self.lstm.load_state_dict(rnn.state_dict())
        self.g, self.readout = net.initial_state.net, net.readout
        self.raw_scale = net.initial_state.raw_scale
        self.hidden = net.cell.hidden_size

    def forward(self, batch):
        mean = self.g(batch["context"])
        state = mean + F.softplus(self.raw_scale) * torch.randn_like(mean)  # h0 ~ N(g, sigma)
        h, c = state[:, : self.hidden], state[:, self.hidden :]
        outputs, _ = self.lstm(
            batch["inputs"], (h.unsqueeze(0).contiguous(), c.unsqueeze(0).contiguous())
        )
        return self.readout(outputs)


def plain_epoch(network, optimizer, tensors, batch_size: int, clip: float | None, kind: str):
    """One shuffled pass, the loss read once at the end of the epoch."""
    order = torch.randperm(len(tensors["targets"]), device=tensors["targets"].device)
    total = torch.zeros((), device=order.device)
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        batch = {k: v[index] for k, v in tensors.items()}
        outputs = network(batch)
        if kind == "classification":
            loss = F.cross_entropy(outputs, batch["targets"])
        else:
            loss = F.mse_loss(outputs, batch["targets"])
        optimizer.zero_grad()
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(network.parameters(), clip)
        optimizer.step()
        total += loss.detach()
    return total.item() / math.ceil(len(order) / batch_size)


def synchronizer(device: str):
    return torch.cuda.synchronize if device == "cuda" else lambda: None


def epoch_case(name: str, args, out_dir: str) -> dict:
    """Project and plain epochs of one case, interleaved; the two start from the same weights."""
    experiment, tiny = CASES[name]
    epochs = args.epochs or DEFAULT_EPOCHS[name]
    accelerator = "gpu" if args.device == "cuda" else "cpu"
    overrides = [*experiment, *QUIET, f"trainer.max_epochs={epochs}"]
    overrides += [f"trainer.accelerator={accelerator}", *(tiny if args.quick else [])]
    cfg = compose_config(overrides, output_dir=out_dir)
    torch.manual_seed(0)
    datamodule = build_datamodule(cfg)
    module = build_module(cfg, datamodule)
    # its own copy of the module's initial weights
    plain = (PlainART if name == "ART" else PlainLCD)(copy.deepcopy(module)).to(args.device)
    optimizer = torch.optim.Adam(plain.parameters(), lr=cfg.model.optimizer.lr)
    split = datamodule.splits["train"]
    split.tensors = tensors = {k: v.to(args.device) for k, v in split.tensors.items()}
    clip = cfg.trainer.get("gradient_clip_val")
    sync = synchronizer(args.device)
    project_times, plain_times = Timings(), Timings()

    def run_project():
        timer = EpochTimer(sync)
        trainer = build_trainer(cfg)
        trainer.callbacks.append(timer)
        trainer.fit(module, datamodule=datamodule)
        project_times.epochs.extend(timer.epochs)

    def run_plain():
        for _ in range(epochs):
            sync()
            began = time.perf_counter()
            plain_epoch(plain, optimizer, tensors, cfg.data.batch_size, clip, module.task.kind)
            sync()
            plain_times.epochs.append(time.perf_counter() - began)

    for repeat in range(args.repeats):  # alternate who goes first
        for run in (run_project, run_plain) if repeat % 2 == 0 else (run_plain, run_project):
            run()
    steps = math.ceil(len(tensors["targets"]) / cfg.data.batch_size)
    return {"name": name, "project": project_times, "plain": plain_times, "steps": steps}


# --- whole jobs -------------------------------------------------------------------------------


def wall_time(args: list[str], cwd: Path) -> float:
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.pop("WANDB_SERVICE", None)
    began = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"train.py {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - began


def thread_scaling(args) -> float:
    """How much slower an LCD training step's LSTM (forward and backward, batch 128) runs on
    one thread than on all of them: what a core given to a second job costs the first."""
    lstm = nn.LSTM(1, 128)
    inputs, state = torch.randn(25, 128, 1), torch.randn(1, 128, 128, requires_grad=True)
    steps = 3 if args.quick else 60

    def per_step(threads: int) -> float:
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            for _ in range(5):
                lstm(inputs, (state, state))[0].sum().backward()
            began = time.perf_counter()
            for _ in range(steps):
                lstm(inputs, (state, state))[0].sum().backward()
            return (time.perf_counter() - began) / steps
        finally:
            torch.set_num_threads(previous)

    times = {1: [], torch.get_num_threads(): []}
    for _ in range(3):  # interleaved
        for threads in times:
            times[threads].append(per_step(threads))
    return statistics.median(times[1]) / statistics.median(times[torch.get_num_threads()])


def sweep_bound(main_job: float, training: float, slowdown: float, cores: int) -> float:
    """The least parallel/serial ratio a sweep of equal jobs can reach on ``cores`` cores.

    A job is ``training`` seconds that use every core (``slowdown`` times longer on one)
    and ``main_job - training`` seconds that use one. Run side by side, each job has one
    core or less, so the sweep needs at least (slowdown * training + rest) / cores
    seconds per job, against main_job per job one after another.
    """
    rest = main_job - training
    return min(1.0, (slowdown * training + rest) / (cores * main_job))


def jobs(args, lcd_plain_epoch: float) -> dict:
    size = ["data.task.train_per_period=40", "data.task.val_per_period=8", "trainer.max_epochs=2"]
    extra = size if args.quick else []
    with tempfile.TemporaryDirectory() as cwd:
        main_job = wall_time(extra, Path(cwd))
        print(f"main job: {main_job:.1f} s", flush=True)
        serial = wall_time(["-m", "seed=0,1,2", "hydra/launcher=basic", *extra], Path(cwd))
        print(f"3-seed sweep, one after another: {serial:.1f} s", flush=True)
        parallel = wall_time(["-m", "seed=0,1,2", *extra], Path(cwd))
        print(f"3-seed sweep, parallel: {parallel:.1f} s", flush=True)
    epochs = 2 if args.quick else 65
    return {
        "wall": {
            "main job": (main_job, epochs * lcd_plain_epoch),
            "3-seed sweep": (parallel, serial),
        },
        "epochs": epochs,
    }


# --- report -----------------------------------------------------------------------------------


def report(results: list[dict], job_results: dict | None) -> str:
    lines = [
        f"{'case':13} {'project':>10} {'baseline':>10} {'ratio':>7} {'target':>7}  verdict  "
        "(seconds: an epoch, or a whole job)"
    ]
    for r in results:
        ratio = r["project"].epoch / r["plain"].epoch
        target = TARGETS[r["name"]]
        lines.append(
            f"{r['name'] + ' epoch':13} {r['project'].epoch:>10.3f} {r['plain'].epoch:>10.3f} "
            f"{ratio:>7.2f} {'<=' + str(target):>7}  {'met' if ratio <= target else 'NOT met'}"
        )
    for name, (project, baseline) in (job_results or {}).get("wall", {}).items():
        ratio, target = project / baseline, TARGETS[name]
        lines.append(
            f"{name:13} {project:>10.1f} {baseline:>10.1f} {ratio:>7.2f} {'<=' + str(target):>7}  "
            f"{'met' if ratio <= target else 'NOT met'}"
        )
    for r in results:  # every epoch, so that a disturbed one is visible
        project, plain = (
            " ".join(f"{t:.2f}" for t in r[path].epochs) for path in ("project", "plain")
        )
        lines.append(
            f"{r['name']} epochs (s), {r['steps']} steps each: project {project} | plain {plain}"
        )
    if job_results:
        lines.append(
            f"main job baseline: {job_results['epochs']} plain LCD epochs; sweep baseline: the "
            "same three runs one after another (hydra/launcher=basic)"
        )
        if "bound" in job_results:
            bound = job_results["bound"]
            lines.append(
                f"sweep bound on {bound['cores']} cores: >= {bound['ratio']:.2f} (an LSTM step "
                f"is {bound['slowdown']:.2f}x slower on 1 thread; training "
                f"{bound['training']:.1f} s of the main job's {bound['main job']:.1f} s)"
            )
    return "\n".join(lines)


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs per path")
    parser.add_argument("--epochs", type=int, help="epochs per run (default: ART 1, LCD 5)")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--skip-jobs", action="store_true", help="only the epoch ratios")
    parser.add_argument("--quick", action="store_true", help="tiny data, one repeat: smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
        args.epochs = args.epochs or 1
    return args


def main(argv=None) -> dict:
    args = parse(argv)
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*GPU available but not used.*")
    load = os.getloadavg()
    print(
        f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"repeats {args.repeats}",
        flush=True,
    )
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as out_dir:
        results = [epoch_case(name, args, out_dir) for name in args.cases]
    job_results = None
    lcd = next((r for r in results if r["name"] == "LCD"), None)
    if not args.skip_jobs and lcd is not None and args.device == "cpu":
        job_results = jobs(args, lcd["plain"].epoch)
        slowdown, cores = thread_scaling(args), torch.get_num_threads()
        training = job_results["epochs"] * lcd["project"].epoch
        main_job = job_results["wall"]["main job"][0]
        job_results["bound"] = {
            "ratio": sweep_bound(main_job, training, slowdown, cores),
            "main job": main_job,
            "slowdown": slowdown,
            "training": training,
            "cores": cores,
        }
    print(report(results, job_results))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    load = os.getloadavg()
    print(
        f"peak resident memory {peak:.0f} MiB; wall time {time.perf_counter() - began:.0f} s; "
        f"load average at the end {load[0]:.2f}"
    )
    return {"epochs": results, "jobs": job_results}


if __name__ == "__main__":
    main()
