"""Time the project against the fastest straightforward plain PyTorch loop, in one run.

Each ratio is against a baseline timed in the same run (docs/performance.md): an ART and
an LCD epoch of the project as `train.py experiment=<task>_paper` builds it (logging,
callbacks and validation off) against plain loops for the same maths from the same
weights (ART: the fast-weights loop in each of its natural forms, the fastest taken; LCD:
a batch-first nn.LSTM); `python train.py` against 65 plain LCD epochs; a 3-seed LCD sweep
side by side against one after another, with the least ratio any launcher could reach
here.

    python scripts/bench.py                  # everything: about 10 minutes on 2 cores
    python scripts/bench.py --skip-jobs      # the two epoch ratios only
    python scripts/bench.py --quick          # smoke run on tiny sizes
    python scripts/bench.py --device cuda
"""

import argparse
import itertools
import logging
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path
from statistics import median

import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils import benchmark

from contextual_rnn.config import compose_config
from contextual_rnn.train import build_run, build_trainer

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
SERIAL = "3-seed sweep, one after another"
# the runs one after another each take every core's thread (side by side: one each)
JOBS = {
    "main job": [],
    SERIAL: ["-m", "seed=0,1,2", "hydra/launcher=basic", f"threads={torch.get_num_threads()}"],
}
JOBS["3-seed sweep, parallel"] = ["-m", "seed=0,1,2"]  # the default launcher
DEFAULT_EPOCHS = {"ART": 1, "LCD": 5}  # per run: an LCD epoch is ~20x shorter than an ART one
OUTER_PRODUCTS = {  # u u^T
    "bmm": lambda u: torch.bmm(u.unsqueeze(2), u.unsqueeze(1)),
    "elementwise": lambda u: u.unsqueeze(2) * u.unsqueeze(1),
}
READS = {  # A h, or h M with the memory kept as M = A^T
    "A h": lambda A, h: torch.bmm(A, h.unsqueeze(2)).squeeze(2),
    "h A": lambda M, h: torch.bmm(h.unsqueeze(1), M).squeeze(1),
}
FORMS = [f"{outer} / {read}" for outer in OUTER_PRODUCTS for read in READS]


class EpochTimer(pl.Callback):
    def __init__(self, sync):
        self.sync, self.epochs, self.started = sync, [], 0.0

    def on_train_epoch_start(self, trainer, module):
        self.sync()
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer, module):
        self.sync()
        self.epochs.append(time.perf_counter() - self.started)


# --- the plain models: what one writes by hand ------------------------------------------------


def plain_mlp(*sizes: int) -> nn.Sequential:
    layers = [m for a, b in itertools.pairwise(sizes) for m in (nn.Linear(a, b), nn.ReLU())]
    return nn.Sequential(*layers[:-1])


class PlainART(nn.Module):
    """Ba et al.'s recurrence step by step, A_t materialised, in one of the ``FORMS``."""

    RENAMES = {  # the project's weights (its state dict's names) -> the plain model's
        "embedding.": "embedding.",
        "net.cell.recurrent.": "W.",
        "net.cell.input.": "C.",
        "net.cell.norm.": "norm.",
        "net.initial_state.net.0.": "g.",
        "net.readout.": "readout.",
    }

    def __init__(self, cfg, layout, form: str = FORMS[0]):
        super().__init__()
        cell, embedding = cfg.model.cell, cfg.model.embedding_dim
        hidden = self.hidden = cell.hidden_size
        self.embedding = nn.Embedding(layout.input_size, embedding)
        self.W, self.C = nn.Linear(hidden, hidden, bias=False), nn.Linear(embedding, hidden)
        self.norm, self.g = nn.LayerNorm(hidden), nn.Linear(embedding, hidden + hidden * hidden)
        self.readout = plain_mlp(hidden, *cfg.model.readout_hidden, layout.output_size)
        self.decay, self.eta, self.inner_steps = cell.decay, cell.eta, cell.inner_steps
        self.preliminary, self.form = cell["update"] == "preliminary", form.split(" / ")

    def forward(self, batch):
        x = self.embedding(batch["inputs"])
        state = self.g(x[:, 0])
        h, A = state[:, : self.hidden], state[:, self.hidden :].reshape(len(x), self.hidden, -1)
        outer, read = OUTER_PRODUCTS[self.form[0]], READS[self.form[1]]
        A = A.transpose(1, 2) if self.form[1] == "h A" else A
        driven = self.C(x)
        for t in range(x.shape[1]):
            z = self.W(h) + driven[:, t]
            h_s = F.relu(z)
            u = h_s if self.preliminary else h
            A = self.decay * A + self.eta * outer(u)
            for _ in range(self.inner_steps):
                h_s = F.relu(self.norm(z + read(A, h_s)))
            h = h_s
        return self.readout(h)

    def loss(self, batch):
        return F.cross_entropy(self(batch), batch["targets"])


class PlainLCD(nn.Module):
    """A batch-first nn.LSTM from h0 ~ N(g(context), softplus(s)), a dense output."""

    RENAMES = {
        "net.cell.rnn.": "lstm.",
        "net.initial_state.net.": "g.",
        "net.initial_state.raw_scale": "raw_scale",
        "net.readout.": "readout.",
    }

    def __init__(self, cfg, layout, form=None):
        super().__init__()
        hidden = cfg.model.cell.hidden_size
        self.lstm = nn.LSTM(layout.input_size, hidden, batch_first=True)
        self.g = plain_mlp(layout.context_size, *cfg.model.context_net.hidden_sizes, 2 * hidden)
        self.raw_scale = nn.Parameter(torch.zeros(2 * hidden))
        self.readout = plain_mlp(hidden, *cfg.model.readout_hidden, layout.output_size)

    def forward(self, batch):
        mean = self.g(batch["context"])
        state = mean + F.softplus(self.raw_scale) * torch.randn_like(mean)  # reparameterised
        h, c = state.unsqueeze(0).chunk(2, dim=-1)
        outputs, _ = self.lstm(batch["inputs"], (h.contiguous(), c.contiguous()))
        return self.readout(outputs)

    def loss(self, batch):
        return F.mse_loss(self(batch), batch["targets"])


def renamed(state: dict, renames: dict[str, str]) -> dict:
    """The project's weights under the plain model's names; the rest (metric states) left out."""
    return {
        new + key.removeprefix(old): value
        for key, value in state.items()
        for old, new in renames.items()
        if key.startswith(old)
    }


def plain_copy(name: str, cfg, datamodule, module, form: str | None = None) -> nn.Module:
    """The plain model of ``name`` holding a copy of the project module's weights."""
    plain = (PlainART if name == "ART" else PlainLCD)(cfg, datamodule.task.layout, form)
    plain.load_state_dict(renamed(module.state_dict(), plain.RENAMES))  # strict: every weight
    return plain


def plain_steps(plain, optimizer, tensors, batch_size, clip, limit) -> None:
    """A shuffled pass (or its first ``limit`` batches), the loss read once at the end."""
    order = torch.randperm(len(tensors["targets"]), device=tensors["targets"].device)
    total = torch.zeros((), device=order.device)
    for start in range(0, len(order), batch_size)[:limit]:
        loss = plain.loss({k: v[order[start : start + batch_size]] for k, v in tensors.items()})
        optimizer.zero_grad()
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(plain.parameters(), clip)
        optimizer.step()
        total += loss.detach()
    total.item()


def timed(function, sync) -> float:
    sync()
    began = time.perf_counter()
    function()
    sync()
    return time.perf_counter() - began


def interleaved(runs: dict, rounds: int) -> dict[str, list[float]]:
    """Each run once a round, who goes first alternating; the times each returned, by name."""
    times = {name: [] for name in runs}
    for round_ in range(rounds):
        for name in list(runs)[:: -1 if round_ % 2 else 1]:
            times[name] += runs[name]()
    return times


def epoch_case(name: str, args, out_dir: str) -> dict:
    """Project and plain epochs of one case, interleaved; the two start from the same weights."""
    experiment, tiny = CASES[name]
    epochs = args.epochs or DEFAULT_EPOCHS[name]
    accelerator = "gpu" if args.device == "cuda" else "cpu"
    overrides = [*experiment, *QUIET, f"trainer.max_epochs={epochs}"]
    overrides += [f"trainer.accelerator={accelerator}", *(tiny if args.quick else [])]
    cfg = compose_config(overrides, output_dir=out_dir)
    torch.manual_seed(0)
    datamodule, module, _ = build_run(cfg)
    tensors = {k: v.to(args.device) for k, v in datamodule.splits["train"].tensors.items()}
    sync = torch.cuda.synchronize if args.device == "cuda" else lambda: None
    batch, clip = cfg.data.batch_size, cfg.trainer.get("gradient_clip_val")

    def plain_run(form: str | None, count: int, limit: int | None = None):
        """``count`` timed passes (of ``limit`` batches) of a fresh plain model of ``form``."""
        plain = plain_copy(name, cfg, datamodule, module, form).to(args.device)
        optimizer = torch.optim.Adam(plain.parameters(), lr=cfg.model.optimizer.lr)
        step = partial(plain_steps, plain, optimizer, tensors, batch, clip, limit)
        return lambda: [timed(step, sync) for _ in range(count)]

    forms = {}  # ART: a few batches of each form, interleaved; the fastest is the baseline
    if name == "ART":
        probe = 2 if args.quick else 20
        times = interleaved({form: plain_run(form, 1, probe) for form in FORMS}, rounds=3)
        forms = {form: median(t) / probe for form, t in times.items()}

    def run_project():
        timer = EpochTimer(sync)
        trainer = build_trainer(cfg)
        trainer.callbacks.append(timer)
        trainer.fit(module, datamodule=datamodule)
        return timer.epochs

    form = min(forms, key=forms.get) if forms else None
    runs = {"project": run_project, "plain": plain_run(form, epochs)}
    steps = math.ceil(len(tensors["targets"]) / batch)
    return {"name": name, **interleaved(runs, args.repeats), "steps": steps, "forms": forms}


# --- whole jobs -------------------------------------------------------------------------------


def wall_time(args: list[str], cwd: Path) -> float:
    """``python train.py <args>`` as a user runs it: its wall time."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.pop("WANDB_SERVICE", None)
    command = [sys.executable, str(ROOT / "train.py"), *args]
    began = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"train.py {' '.join(args)} failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - began


def lstm_step() -> tuple[str, dict]:
    """An LCD training step's LSTM, forward and backward at batch 128, for a torch Timer."""
    values = {"lstm": nn.LSTM(1, 128), "inputs": torch.randn(25, 128, 1)}
    values["state"] = torch.randn(1, 128, 128, requires_grad=True)
    return "lstm(inputs, (state, state))[0].sum().backward()", values


def thread_scaling(args) -> float:
    """How much slower an LCD training step's LSTM (forward and backward, batch 128) runs on
    one thread than on all of them: what a core given to a second job costs the first."""
    step, values = lstm_step()
    steps, cores = (3 if args.quick else 60), torch.get_num_threads()

    def per_step(threads: int):
        timer = benchmark.Timer(step, globals=values, num_threads=threads)
        return lambda: [timer.timeit(steps).median]

    times = interleaved({1: per_step(1), cores: per_step(cores)}, rounds=3)
    return median(times[1]) / median(times[cores])


def busy_machine(args) -> str:
    """An LCD step's LSTM on one thread and on all of them while other work holds every core
    (one spinning process per core): why ``threads`` is 1 by default."""
    step, values = lstm_step()
    cores, steps = torch.get_num_threads(), (2 if args.quick else 10)
    spin = [sys.executable, "-c", "while True: pass"]
    others = [subprocess.Popen(spin) for _ in range(cores)]
    try:
        time.sleep(0.5)
        times = {
            threads: benchmark.Timer(step, globals=values, num_threads=threads).timeit(steps).median
            for threads in (1, cores)
        }
    finally:
        for process in others:
            process.kill()
            process.wait()
    return (
        f"busy machine ({cores} spinning processes): an LSTM step {1000 * times[1]:.1f} ms on 1 "
        f"thread, {1000 * times[cores]:.1f} ms on {cores} ({times[cores] / times[1]:.1f}x)"
    )


def sweep_bound(main_job: float, training: float, slowdown: float, cores: int) -> float:
    """The least parallel/serial ratio a sweep of equal jobs can reach on ``cores`` cores.

    A job is ``training`` seconds that use every core (``slowdown`` times longer on one)
    and ``main_job - training`` seconds that use one. Run side by side, each job has one
    core or less, so the sweep needs at least (slowdown * training + rest) / cores
    seconds per job, against main_job per job one after another.
    """
    rest = main_job - training
    return min(1.0, (slowdown * training + rest) / (cores * main_job))


def jobs(args, lcd: dict) -> tuple[list[tuple], list[str]]:
    """The main job's and the sweep's rows of the table, and the lines printed under it."""
    quick = ["data.task.train_per_period=40", "data.task.val_per_period=8", "trainer.max_epochs=2"]
    extra, epochs = (quick, 2) if args.quick else ([], 65)
    walls = {}
    with tempfile.TemporaryDirectory() as cwd:
        for label, job in JOBS.items():
            walls[label] = wall_time([*job, *extra], Path(cwd))
            print(f"{label}: {walls[label]:.1f} s", flush=True)
    slowdown, cores = thread_scaling(args), torch.get_num_threads()
    main_job, training = walls["main job"], epochs * median(lcd["project"])
    bound = sweep_bound(main_job, training, slowdown, cores)
    rows = [("main job", main_job, epochs * median(lcd["plain"]), 1)]
    rows.append(("3-seed sweep", walls["3-seed sweep, parallel"], walls[SERIAL], 1))
    notes = [
        busy_machine(args),
        f"main job baseline: {epochs} plain LCD epochs; sweep baseline: the same three runs "
        "one after another (hydra/launcher=basic)",
        f"sweep bound on {cores} cores: >= {bound:.2f} (an LSTM step is {slowdown:.2f}x slower "
        f"on 1 thread; training {training:.1f} s of the main job's {main_job:.1f} s)",
    ]
    return rows, notes


# --- report -----------------------------------------------------------------------------------


def row(name: str, project: float, baseline: float, digits: int) -> str:
    ratio, target = project / baseline, TARGETS[name.removesuffix(" epoch")]
    verdict = "met" if ratio <= target else "NOT met"
    times = f"{project:>10.{digits}f} {baseline:>10.{digits}f}"
    return f"{name:17} {times} {ratio:>7.2f} {'<=' + str(target):>7}  {verdict}"


def report(results: list[dict], job_rows: list[tuple], notes: list[str]) -> str:
    rows = [(f"{r['name']} epoch", median(r["project"]), median(r["plain"]), 3) for r in results]
    lines = [
        f"{'case':17} {'project':>10} {'baseline':>10} {'ratio':>7} {'target':>7}  verdict  "
        "(seconds: an epoch, or a whole job)",
        *(row(*r) for r in rows + job_rows),
    ]
    for r in results:  # every epoch, so that a disturbed one is visible
        project, plain = (" ".join(f"{t:.2f}" for t in r[path]) for path in ("project", "plain"))
        lines.append(
            f"{r['name']} epochs (s), {r['steps']} steps each: project {project} | plain {plain}"
        )
        if r["forms"]:
            forms = ", ".join(f"{form} {1000 * t:.2f}" for form, t in r["forms"].items())
            fastest = min(r["forms"], key=r["forms"].get)
            lines.append(f"{r['name']} plain forms (ms a step): {forms}; baseline: {fastest}")
    return "\n".join(lines + notes)


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
        args.repeats, args.epochs = 1, args.epochs or 1
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
    lcd = next((r for r in results if r["name"] == "LCD"), None)
    job_rows, notes = [], []
    if not args.skip_jobs and lcd is not None and args.device == "cpu":
        job_rows, notes = jobs(args, lcd)
    print(report(results, job_rows, notes))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak resident memory {peak:.0f} MiB; wall time {time.perf_counter() - began:.0f} s; "
        f"load average at the end {os.getloadavg()[0]:.2f}"
    )
    return {"epochs": results, "jobs": job_rows}


if __name__ == "__main__":
    main()
