"""Seeds trained as one vectorised ensemble equal the same seeds trained alone."""

import contextlib
import json
import math
import re
from functools import partial

import pytest
import torch
from pytorch_lightning import Callback

from contextual_rnn.training.callbacks.non_finite import NonFiniteLoss
from contextual_rnn.training.compose import compose_config
from contextual_rnn.training.ensemble import Lockstep
from contextual_rnn.training.train import train
from tests.conftest import tiny_overrides, train_command
from tests.test_resume import fault, same_run

SLOW = pytest.mark.slow
SEEN: dict[int, dict] = {}  # seed -> what RecordSteps saw


class RecordSteps(Callback):
    """The initial weights and every step's training loss of the run with ``seed``; with
    ``stop_after_epoch`` or ``poison_at_step``, that run stops early or gets a NaN weight."""

    def __init__(self, seed: int, stop_after_epoch: int = -1, poison_at_step: int = -1):
        self.seed, self.stop_after, self.poison_at = seed, stop_after_epoch, poison_at_step

    def on_train_start(self, trainer, module):
        initial = {k: v.clone() for k, v in module.state_dict().items()}
        SEEN[self.seed] = {"initial": initial, "losses": []}

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.global_step == self.poison_at:
            with torch.no_grad():
                next(module.net.cell.parameters()).fill_(math.nan)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        SEEN[self.seed]["losses"].append(float(outputs["loss"]))

    def on_train_epoch_end(self, trainer, module):
        if trainer.current_epoch == self.stop_after:
            trainer.should_stop = True


def configs(tmp_path, seeds, tag, data="art", options=(), **record):
    """Tiny runs with a sampled contextual h0 and per-member gradient clipping."""
    made = []
    for seed in seeds:
        extra = "".join(f" +callbacks.record.{k}={v[seed]}" for k, v in record.items())
        overrides = tiny_overrides(
            data,
            f"seed={seed}",
            "model/init=contextual",
            "model.context_net.distribution=normal",
            "trainer.gradient_clip_val=0.05",
            "+callbacks.record._target_=tests.test_ensemble.RecordSteps",
            f"+callbacks.record.seed={seed}",
            *extra.split(),
            *options,
        )
        made.append(compose_config(overrides, output_dir=tmp_path / f"{tag}{seed}"))
    return made


def alone_and_together(tmp_path, seeds, data="art", options=(), **record):
    alone = {}
    made = configs(tmp_path, seeds, "alone", data, options, **record)
    for cfg, seed in zip(made, seeds, strict=True):
        with contextlib.suppress(NonFiniteLoss):
            train(cfg)
        alone[seed] = SEEN.pop(seed)
    jobs = [
        partial(train, cfg) for cfg in configs(tmp_path, seeds, "member", data, options, **record)
    ]
    outcomes = Lockstep().run(jobs)
    together = {seed: SEEN.pop(seed) for seed in seeds}
    return alone, together, dict(zip(seeds, outcomes, strict=True))


@pytest.mark.parametrize(
    "data,options",
    [
        ("art", ()),  # fast weights, batched by vmap, with a sampled contextual h0
        ("lcd", ()),  # an LSTM: torch's fused kernel, member by member
        pytest.param("art", ("model/init=free", "model.init.noise_std=0.1"), marks=SLOW),
        pytest.param("art", ("model/init=zero",), marks=SLOW),
        pytest.param("lcd", ("model/cell=gru", "model.cell.num_layers=2"), marks=SLOW),
        pytest.param("lcd", ("model/cell=rnn",), marks=SLOW),
    ],
)
def test_each_member_has_its_separate_runs_weights_and_losses(tmp_path, data, options):
    seeds = (3, 1, 4)  # not in order: members keep their own streams whatever their place
    alone, together, outcomes = alone_and_together(tmp_path, seeds, data, options)
    for seed in seeds:
        assert isinstance(outcomes[seed], dict), outcomes[seed]
        first, second = alone[seed]["initial"], together[seed]["initial"]
        assert first.keys() == second.keys()
        assert all(torch.equal(first[k], second[k]) for k in first)  # bit for bit
        losses, member = alone[seed]["losses"], together[seed]["losses"]
        assert len(losses) == len(member) >= 6  # 2 epochs of 3 to 5 steps
        assert member == pytest.approx(losses, rel=1e-5)
    # seeds differ: the comparison above is not of one run with itself
    assert alone[3]["losses"][0] != pytest.approx(alone[1]["losses"][0], rel=1e-3)


def test_a_member_that_stops_or_fails_leaves_the_others_unchanged(tmp_path):
    seeds = (3, 1, 4)
    alone, together, outcomes = alone_and_together(
        tmp_path,
        seeds,
        "art",
        stop_after_epoch={3: -1, 1: 0, 4: -1},  # seed 1 stops after its first epoch
        poison_at_step={3: -1, 1: -1, 4: 2},  # seed 4's weights turn NaN at its third step
    )
    assert isinstance(outcomes[4], NonFiniteLoss)  # that member's run fails, alone
    assert isinstance(outcomes[3], dict) and isinstance(outcomes[1], dict)
    assert len(together[1]["losses"]) == 5 and len(together[3]["losses"]) == 10
    for seed in seeds:
        assert together[seed]["losses"] == pytest.approx(
            alone[seed]["losses"], rel=1e-5, nan_ok=True
        )
    status = json.loads((tmp_path / "member1" / "status.json").read_text())
    assert status["status"] == "finished" and status["stopped_early"]


def test_a_seed_sweep_of_a_vectorised_cell_runs_as_one_ensemble(tmp_path):
    result = train_command(
        "-m", *tiny_overrides("art"), "seed=0,1,2", "hydra/launcher=ensemble",
        f"hydra.sweep.dir={tmp_path}", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Ensemble of 3: jobs 0, 1, 2" in result.stdout
    for job in range(3):
        folder = tmp_path / str(job)
        assert json.loads((folder / "status.json").read_text())["status"] == "finished"
        assert (folder / "csv" / "metrics.csv").is_file()
        assert list((folder / "checkpoints").glob("epoch*.ckpt"))
    summary = (tmp_path / "summary.md").read_text()
    assert all(f"| seed={seed} |" in summary for seed in range(3))


@pytest.mark.slow
def test_a_killed_ensemble_resumes_each_member_exactly(tmp_path):
    """SIGKILL mid-epoch kills every member; the same command in the same sweep folder
    resumes each from its own checkpoint and ends as an uninterrupted ensemble does."""
    sweep = [
        "-m",
        *tiny_overrides("art", "trainer.max_epochs=2", "threads=1"),
        "logger=wandb",
        "trainer.limit_train_batches=null",  # 16 steps an epoch, validated at its end only:
        "callbacks.validation_schedule.every=1.0",  # a resume checkpoint every 2 steps
        "callbacks.resume_checkpoint.every_n_train_steps=2",
        "hydra/launcher=ensemble",
        "seed=0,1",
    ]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert train_command(*sweep, f"hydra.sweep.dir={whole}").returncode == 0
    killed = train_command(*sweep, *fault("train_step", 5, "kill"), f"hydra.sweep.dir={cut}")
    assert killed.returncode == -9
    resumed = train_command(*sweep, f"hydra.sweep.dir={cut}")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Ensemble of 2" in resumed.stdout
    steps = re.findall(r"resuming from \S+-step(\d+)\.ckpt", resumed.stderr + resumed.stdout)
    assert len(steps) == 2, resumed.stdout[-3000:]  # both members, each from its own folder
    for job in ("0", "1"):
        same_run(whole / job, cut / job, wandb_from_step=min(map(int, steps)))
