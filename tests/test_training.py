"""Every cell x init x task, as the config files under conf/ list them, composes and learns."""

import json
from pathlib import Path

import pytest
import torch

from contextual_rnn.config import CONFIG_DIR, compose_config
from contextual_rnn.errors import ConfigError
from contextual_rnn.train import build_run, train


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (Path(CONFIG_DIR) / group).glob("*.yaml"))


CELLS, INITS, TASKS = options("model/cell"), options("model/init"), options("data")


@pytest.mark.parametrize("data", TASKS)
@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("cell", CELLS)
def test_every_combination_composes_and_learns(tiny_config, cell, init, data):
    cfg = tiny_config(data, f"model/cell={cell}", f"model/init={init}", "model.optimizer.lr=0.01")
    torch.manual_seed(0)
    datamodule, module, _ = build_run(cfg)
    optimizer = module.configure_optimizers()
    batch = next(iter(datamodule.train_dataloader()))
    losses = []
    for step in range(8):
        optimizer.zero_grad()
        loss = module.training_step(batch, step)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]  # fits the batch it sees
    if init == "contextual":
        g = module.net.initial_state.net
        assert all(p.grad is not None for p in g.parameters())


def test_fair_baseline_gets_the_period_as_input(tiny_config):
    cfg = tiny_config("lcd", "model/init=zero")
    datamodule, module, _ = build_run(cfg)
    assert module.use_side and module.net.cell.input_size == 2
    inputs, context, _ = module.step_inputs(next(iter(datamodule.val_dataloader())))
    assert inputs.shape[-1] == 2 and context is not None
    contextual = build_run(tiny_config("lcd", "model/init=contextual"))[1]
    assert not contextual.use_side and contextual.net.cell.input_size == 1
    given = tiny_config("lcd", "model/init=contextual", "model.side_input=always")
    assert build_run(given)[1].net.cell.input_size == 2  # period at every step too
    none = build_run(tiny_config("lcd", "model/init=zero", "model.side_input=false"))[1]
    assert not none.use_side and none.net.cell.input_size == 1


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")  # no Trainer: nothing logged
def test_lcd_validates_on_the_training_periods_apart_from_the_unseen_ones(tiny_config):
    """val/ keeps the unseen periods' error whether or not the training periods are also
    validated; val_seen/ is the error on fresh sequences of the training periods."""
    logged = {}
    for seen in (False, True):
        cfg = tiny_config("lcd", "model/init=zero", f"data.task.validate_seen_periods={seen}")
        torch.manual_seed(0)
        datamodule, module, _ = build_run(cfg)
        module.eval()
        with torch.no_grad():
            for index, batch in enumerate(datamodule.val_dataloader()):
                module.validation_step(batch, index)
        logged[seen] = {
            "mse": module.val_mse.compute().item(),
            "seen": module.val_seen_mse.compute().item() if seen else None,
        }
        periods = datamodule.raw["val"]["period"].unique().tolist()
        assert periods == ([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5] if seen else [1, 2, 3, 4])
    assert logged[True]["mse"] == pytest.approx(logged[False]["mse"], rel=1e-6)
    assert logged[True]["seen"] > 0 and logged[True]["seen"] != pytest.approx(logged[True]["mse"])


def test_art_context_is_the_embedded_first_token(tiny_config):
    cfg = tiny_config("art", "model/init=contextual", "model.embedding_dim=12")
    datamodule, module, _ = build_run(cfg)
    batch = next(iter(datamodule.val_dataloader()))
    inputs, context, mapped = module.step_inputs(batch)
    assert mapped == {"inputs": True, "context": True}  # through the first linear maps (below)
    g = module.net.initial_state
    torch.testing.assert_close(context, g.context_map(module.embedding(batch["inputs"][:, 0])))
    assert g.context_size == 12


@pytest.mark.parametrize("cell", ["fast_weights", "lstm"])
def test_the_embedding_folded_into_the_first_linear_maps_gives_the_plain_numbers(tiny_config, cell):
    """Mapping the table through the cell's and g's first linear maps and picking rows
    (``network.embed``) gives the outputs and gradients of embedding every position."""
    cfg = tiny_config("art", "model/init=contextual", f"model/cell={cell}")
    datamodule, module, _ = build_run(cfg)
    module = module.double().eval()
    torch.nn.init.normal_(module.embedding.weight)
    batch = next(iter(datamodule.val_dataloader()))
    tokens = batch["inputs"]
    results = []
    for folded in (True, False):
        if folded:
            outputs = module(batch)
        else:
            rows = module.embedding(tokens)
            outputs, _ = module.net(rows, rows[:, 0], return_state=False)
        loss = (outputs * torch.linspace(-1, 1, outputs.shape[-1], dtype=outputs.dtype)).sum()
        results.append([outputs, *torch.autograd.grad(loss, list(module.parameters()))])
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want)


def test_contextual_init_on_a_task_without_context_is_refused(tiny_config):
    cfg = tiny_config("lcd", "model/init=contextual", "data.task.context=[]")
    with pytest.raises(ConfigError, match="model/init"):
        build_run(cfg)[1]


def test_full_fit_logs_metrics_and_learns_lcd(lcd_run):
    metrics = json.loads((lcd_run / "metrics.json").read_text())
    for key in ("train/loss", "val/loss", "val/mse", "val/rollout_mse", "time/wall_s"):
        assert key in metrics
    assert metrics["val/loss"] == pytest.approx(metrics["val/mse"], rel=1e-4)
    csv = (lcd_run / "csv" / "metrics.csv").read_text().splitlines()
    header = csv[0].split(",")
    losses = [
        float(row.split(",")[header.index("val/loss")])
        for row in csv[1:]
        if row.split(",")[header.index("val/loss")]
    ]
    assert len(losses) == 2 and losses[-1] < losses[0]  # two epochs
    assert sorted(p.name for p in (lcd_run / "figures").glob("*.png")) == [
        f"trajectories_period_{p}.png" for p in (1, 2, 3, 4)
    ]
    checkpoint = torch.load(lcd_run / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["hyper_parameters"]["task"]["_target_"].endswith(".LCD")


def test_full_fit_art_reports_accuracy(art_run):
    metrics = json.loads((art_run / "metrics.json").read_text())
    assert 0.0 <= metrics["val/acc"] <= 1.0
    assert metrics["val/loss"] > 0


def test_choosing_a_task_gives_its_paper_settings():
    art, lcd = compose_config(["data=art"]), compose_config([])
    assert art.model.cell._target_.endswith(".FastWeights") and art.model.cell.hidden_size == 50
    assert art.model.optimizer.lr == 1e-3 and list(art.model.readout_hidden) == [100]
    assert art.trainer.max_epochs == 200 and art.trainer.gradient_clip_val is None
    assert "stop_at_perfect_accuracy" in art.callbacks and "trajectory_figures" not in art.callbacks
    assert lcd.model.cell._target_.endswith(".LSTM") and lcd.model.cell.hidden_size == 128
    assert lcd.model.optimizer.lr == 2e-4 and lcd.trainer.max_epochs == 65
    assert lcd.trainer.gradient_clip_val == 10.0 and "trajectory_figures" in lcd.callbacks
    # the user's choices still win over the task's
    mine = compose_config(["data=art", "model/cell=lstm", "model.optimizer.lr=0.01"])
    assert mine.model.cell._target_.endswith(".LSTM") and mine.model.optimizer.lr == 0.01


def test_experiments_hold_only_their_diff():
    for name, data in (("art_paper", "art"), ("lcd_paper", "lcd")):
        experiment = compose_config([f"experiment={name}"])
        task = compose_config([f"data={data}"])
        assert experiment.name == name
        for key in ("model", "data", "trainer", "callbacks"):
            assert experiment[key] == task[key], key


def test_an_art_run_stops_at_100_percent_validation_accuracy(tmp_path):
    """k=2 (one letter-digit pair) is learnt within a few epochs; the run then stops."""
    cfg = compose_config(
        ["data=art", "debug=tiny", "data.task.k=2", "data.task.train_size=512",
         "data.task.val_size=64", "trainer.limit_train_batches=null",
         "trainer.limit_val_batches=null", "trainer.max_epochs=10", "model.optimizer.lr=0.01",
         "model.cell.hidden_size=16", "logger=csv"],
        output_dir=tmp_path,
    )  # fmt: skip
    metrics = train(cfg)
    status = json.loads((tmp_path / "status.json").read_text())
    assert metrics["val/acc"] == 1.0
    assert status["stopped_early"] and status["epoch"] < 10
