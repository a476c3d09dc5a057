"""Time the project against the fastest straightforward plain PyTorch loop, in one run.

Each ratio is against a baseline timed in the same run, the runs alternating who goes first:
- ART epoch: an epoch of `train.py experiment=art_paper` (logging, callbacks and validation
  off) against a plain loop for the same maths from the same weights, in each of its natural
  forms (u u^T by bmm or elementwise, the memory read as A h or as h A), the fastest taken;
- LCD epoch: the same for `experiment=lcd_paper`, against a batch-first nn.LSTM loop;
- main job: the process `python train.py` (the default LCD run) against a plain process that
  trains the same epochs on as many threads (torch alone, data and weights from a file).

    python scripts/bench.py               # everything: several minutes on 2 cores
    python scripts/bench.py --skip-jobs   # the two epoch ratios only
    python scripts/bench.py --quick       # smoke run on tiny sizes
"""

import argparse
import itertools
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from statistics import median

import torch
from torch import nn
from torch.nn import functional as F

# the project is imported where it is used: the main job's plain process imports torch alone
QUIET = ["logger=none", "callbacks=none", "trainer.enable_progress_bar=false"]
QUIET += [f"++trainer.{key}=false" for key in ("enable_model_summary", "enable_checkpointing")]
QUIET += ["++trainer.limit_val_batches=0"]
CASES = {  # the experiment without its task's callbacks, epochs a run, the sizes of --quick
    "ART": (["experiment=art_paper", "~callbacks.stop_at_perfect_accuracy"], 1,
            ["data.task.train_size=256", "data.task.val_size=64"]),
    "LCD": (["experiment=lcd_paper", "~callbacks.trajectory_figures"], 5,
            ["data.task.train_per_period=40", "data.task.val_per_period=8"]),
}  # fmt: skip
TARGETS = {"ART epoch": 0.5, "LCD epoch": 1.0, "main job": 1.25}
OUTER = {"bmm": lambda u: torch.bmm(u.unsqueeze(2), u.unsqueeze(1))}
OUTER["elementwise"] = lambda u: u.unsqueeze(2) * u.unsqueeze(1)
READ = {"A h": lambda A, h: torch.bmm(A, h.unsqueeze(2)).squeeze(2)}
READ["h A"] = lambda M, h: torch.bmm(h.unsqueeze(1), M).squeeze(1)  # the memory kept as A^T
FORMS = [f"{outer} / {read}" for outer in OUTER for read in READ]


def mlp(*sizes: int) -> nn.Sequential:
    layers = [m for a, b in itertools.pairwise(sizes) for m in (nn.Linear(a, b), nn.ReLU())]
    return nn.Sequential(*layers[:-1])


class PlainART(nn.Module):
    """Ba et al.'s recurrence step by step, A_t materialised, in one of the ``FORMS``."""

    # the project's names of the weights -> the plain model's
    RENAMES = {"embedding.": "embedding.", "net.cell.recurrent.": "W.", "net.cell.input.": "C.",
               "net.cell.norm.": "norm.", "net.initial_state.net.0.": "g.",
               "net.readout.": "readout."}  # fmt: skip

    def __init__(self, cfg, layout, form: str):
        super().__init__()
        cell, embedding = cfg.model.cell, cfg.model.embedding_dim
        hidden = cell.hidden_size
        self.embedding, self.hidden = nn.Embedding(layout.input_size, embedding), hidden
        self.W, self.C = nn.Linear(hidden, hidden, bias=False), nn.Linear(embedding, hidden)
        self.norm, self.g = nn.LayerNorm(hidden), nn.Linear(embedding, hidden + hidden * hidden)
        self.readout = mlp(hidden, *cfg.model.readout_hidden, layout.output_size)
        self.decay, self.eta, self.inner_steps = cell.decay, cell.eta, cell.inner_steps
        self.preliminary, self.form = cell["update"] == "preliminary", form.split(" / ")

    def forward(self, batch):
        x = self.embedding(batch["inputs"])
        state = self.g(x[:, 0])
        h, A = state[:, : self.hidden], state[:, self.hidden :].reshape(len(x), self.hidden, -1)
        A, driven = A.transpose(1, 2) if self.form[1] == "h A" else A, self.C(x)
        for t in range(x.shape[1]):
            z = self.W(h) + driven[:, t]
            h_s = F.relu(z)
            A = self.decay * A + self.eta * OUTER[self.form[0]](h_s if self.preliminary else h)
            for _ in range(self.inner_steps):
                h_s = F.relu(self.norm(z + READ[self.form[1]](A, h_s)))
            h = h_s
        return self.readout(h)

    def loss(self, batch):
        return F.cross_entropy(self(batch), batch["targets"])


class PlainLCD(nn.Module):
    """A batch-first nn.LSTM from h0 ~ N(g(context), softplus(s)), a dense output."""

    RENAMES = {"net.cell.rnn.": "lstm.", "net.initial_state.net.": "g.",
               "net.initial_state.raw_scale": "raw_scale", "net.readout.": "readout."}  # fmt: skip

    def __init__(self, inputs, hidden, context, context_hidden, readout_hidden, outputs):
        super().__init__()
        self.sizes = [inputs, hidden, context, list(context_hidden), list(readout_hidden), outputs]
        self.lstm = nn.LSTM(inputs, hidden, batch_first=True)
        self.g = mlp(context, *context_hidden, 2 * hidden)
        self.raw_scale = nn.Parameter(torch.zeros(2 * hidden))
        self.readout = mlp(hidden, *readout_hidden, outputs)

    def forward(self, batch):
        mean = self.g(batch["context"])
        state = mean + F.softplus(self.raw_scale) * torch.randn_like(mean)  # reparameterised
        h, c = state.unsqueeze(0).chunk(2, dim=-1)
        return self.readout(self.lstm(batch["inputs"], (h.contiguous(), c.contiguous()))[0])

    def loss(self, batch):
        return F.mse_loss(self(batch), batch["targets"])


def renamed(state: dict, renames: dict[str, str]) -> dict:
    """The project's weights under the plain model's names; the rest (metric states) left out."""
    return {new + key.removeprefix(old): value for key, value in state.items()
            for old, new in renames.items() if key.startswith(old)}  # fmt: skip


def plain_copy(cfg, layout, module, form: str | None = None) -> nn.Module:
    """The plain model (ART with a ``form``, else LCD) holding a copy of the project's weights."""
    model = cfg.model
    if form:
        plain = PlainART(cfg, layout, form)
    else:
        sizes = [model.cell.hidden_size, layout.context_size, model.context_net.hidden_sizes]
        plain = PlainLCD(layout.input_size, *sizes, model.readout_hidden, layout.output_size)
    plain.load_state_dict(renamed(module.state_dict(), plain.RENAMES))  # strict: every weight
    return plain


def plain_epoch(plain, optimizer, tensors: dict, batch_size: int, clip: float | None) -> None:
    """A shuffled pass over the data, the loss read once at the end."""
    order, total = torch.randperm(len(tensors["targets"])), torch.zeros(())
    for start in range(0, len(order), batch_size):
        loss = plain.loss({k: v[order[start : start + batch_size]] for k, v in tensors.items()})
        optimizer.zero_grad()
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(plain.parameters(), clip)
        optimizer.step()
        total += loss.detach()
    total.item()


def interleaved(runs: dict, rounds: int) -> dict[str, list[float]]:
    """Each run once a round, who goes first alternating; the times each returned, by name."""
    times = {name: [] for name in runs}
    for round_ in range(rounds):
        for name in list(runs)[:: -1 if round_ % 2 else 1]:
            times[name] += runs[name]()
    return times


def laps(marks: list[float]) -> list[float]:
    """The times between starts and ends: ``marks`` alternate the two."""
    return [end - start for start, end in zip(marks[::2], marks[1::2], strict=True)]


def epoch_case(name: str, args, out_dir: str) -> dict:
    """The project's epochs and each plain form's, interleaved, all from the same weights."""
    from pytorch_lightning.callbacks import LambdaCallback

    from contextual_rnn.training.compose import compose_config
    from contextual_rnn.training.train import build_run, build_trainer

    experiment, epochs, tiny = CASES[name]
    epochs = 1 if args.quick else epochs
    overrides = [*experiment, *QUIET, f"trainer.max_epochs={epochs}"]
    cfg = compose_config(overrides + (tiny if args.quick else []), output_dir=out_dir)
    torch.manual_seed(0)
    datamodule, module, _ = build_run(cfg)
    tensors, batch_size = datamodule.splits["train"].tensors, cfg.data.batch_size
    clip = cfg.trainer.get("gradient_clip_val")
    marks = []  # the start and end of every epoch timed
    mark = lambda *_: marks.append(time.perf_counter())  # noqa: E731

    def plain(form):
        model = plain_copy(cfg, datamodule.task.layout, module, form)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.model.optimizer.lr)

        def run():
            for _ in range(epochs):
                mark()
                plain_epoch(model, optimizer, tensors, batch_size, clip)
                mark()
            return laps(marks[-2 * epochs :])

        return run

    def project():
        trainer = build_trainer(cfg)
        trainer.callbacks.append(LambdaCallback(on_train_epoch_start=mark, on_train_epoch_end=mark))
        trainer.fit(module, datamodule=datamodule)
        return laps(marks[-2 * epochs :])

    forms = FORMS if name == "ART" else [None]
    runs = {"project": project} | {f"plain {form or ''}".strip(): plain(form) for form in forms}
    steps = -(-len(tensors["targets"]) // batch_size)
    return {"name": f"{name} epoch", "of": f"{steps} steps", **interleaved(runs, args.repeats)}


def wall_time(command: list[str]) -> list[float]:
    """A process as a user runs it, from a fresh working directory: its wall time."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.pop("WANDB_SERVICE", None)
    with tempfile.TemporaryDirectory() as cwd:
        began = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return [time.perf_counter() - began]


def main_job(args, out_dir: str) -> dict:
    """``python train.py`` against a plain process that trains the same LCD model as many
    epochs from the same data and initial weights, interleaved."""
    from contextual_rnn.training.compose import compose_config
    from contextual_rnn.training.train import build_run

    shrink = [*CASES["LCD"][2], "trainer.max_epochs=2"] if args.quick else []
    cfg = compose_config([*QUIET, *shrink], output_dir=out_dir)  # the default run: LCD
    torch.manual_seed(cfg.seed)
    datamodule, module, _ = build_run(cfg)
    plain = plain_copy(cfg, datamodule.task.layout, module)
    job = {"sizes": plain.sizes, "state": plain.state_dict(), "lr": cfg.model.optimizer.lr}
    job |= {"tensors": datamodule.splits["train"].tensors, "batch_size": cfg.data.batch_size}
    job |= {"clip": cfg.trainer.get("gradient_clip_val"), "epochs": cfg.trainer.max_epochs}
    job["threads"] = cfg.threads  # as many torch threads as train.py takes
    torch.save(job, Path(out_dir) / "plain_job.pt")
    train = [sys.executable, str(Path(__file__).resolve().parents[1] / "train.py"), *shrink]
    runs = {"project": lambda: wall_time(train)}
    runs["plain"] = lambda: wall_time([sys.executable, __file__, "--plain-job", out_dir])
    of = f"{job['epochs']} epochs, both processes on {cfg.threads} thread(s)"
    return {"name": "main job", "of": of, **interleaved(runs, args.repeats)}


def report(results: list[dict]) -> str:
    """The table (median times, the fastest plain form the baseline), then every time."""
    lines = [f"{'case':10} {'project':>9} {'baseline':>9} {'ratio':>6} {'target':>7}  verdict"]
    for r in results:
        project = median(r["project"])
        plain = min(median(t) for path, t in r.items() if path.startswith("plain"))
        ratio, target = project / plain, TARGETS[r["name"]]
        verdict = "met" if ratio <= target else "NOT met"
        times = f"{project:>9.3f} {plain:>9.3f} {ratio:>6.2f} {'<=' + str(target):>7}"
        lines.append(f"{r['name']:10} {times}  {verdict}")
    for r in results:  # every time, so that a disturbed one shows
        lines.append(f"{r['name']}, {r['of']}, seconds:")
        for path, times in ((p, t) for p, t in r.items() if p not in ("name", "of")):
            lines.append(f"  {path:25}" + " ".join(f"{t:7.3f}" for t in times))
    return "\n".join(lines)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs of each path")
    parser.add_argument("--skip-jobs", action="store_true", help="only the epoch ratios")
    parser.add_argument("--quick", action="store_true", help="tiny data, one repeat: smoke run")
    parser.add_argument("--plain-job", help=argparse.SUPPRESS)  # the main job's plain process
    args = parser.parse_args(argv)
    if args.plain_job:  # load the data and weights, train epoch after epoch
        job = torch.load(Path(args.plain_job) / "plain_job.pt")
        torch.set_num_threads(job["threads"])
        plain = PlainLCD(*job["sizes"])
        plain.load_state_dict(job["state"])
        optimizer = torch.optim.Adam(plain.parameters(), lr=job["lr"])
        for _ in range(job["epochs"]):
            plain_epoch(plain, optimizer, job["tensors"], job["batch_size"], job["clip"])
        return []
    args.repeats = 1 if args.quick else args.repeats
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    cpus = Path("/proc/cpuinfo").read_text().splitlines() if os.path.exists("/proc/cpuinfo") else []
    cpu = next((line for line in cpus if "model name" in line), ": CPU").split(":")[1].strip()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} on {torch.get_num_threads()} "
          f"threads, load average {load}, repeats {args.repeats}", flush=True)  # fmt: skip
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as out_dir:
        results = [epoch_case(name, args, out_dir) for name in CASES]
        results += [] if args.skip_jobs else [main_job(args, out_dir)]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(report(results), flush=True)
    print(f"peak resident memory {peak:.0f} MiB; wall time {time.perf_counter() - began:.0f} s; "
          f"load average at the end {os.getloadavg()[0]:.2f}")  # fmt: skip
    return results


if __name__ == "__main__":
    main()
