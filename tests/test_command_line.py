"""The command users type, run as a subprocess, and its bad-input errors."""

import pytest

from contextual_rnn import wandb_files
from contextual_rnn.train import run

from .conftest import TINY_LCD, train_command


def test_the_users_multirun_command(tmp_path):
    """`python train.py model/init=contextual data=lcd -m seed=0,1,2` (tiny sizes)."""
    result = train_command(
        "model/init=contextual",
        "data=lcd",
        "-m",
        "seed=0,1,2",
        "debug=tiny",
        *TINY_LCD,
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p for p in tmp_path.iterdir() if p.is_dir() and p.name.isdigit())
    assert [p.name for p in jobs] == ["0", "1", "2"]
    infos = []
    for seed, job in enumerate(jobs):
        files = list(job.glob("wandb/offline-run-*/run-*.wandb"))
        assert len(files) == 1  # one W&B run per job, in the job's own folder
        info = wandb_files.run_info(files[0])
        infos.append(info)
        assert info["name"] == f"contextual-seed{seed}"
        rows = wandb_files.history(files[0])
        val_losses = [r["val/loss"] for r in rows if "val/loss" in r]
        assert len(val_losses) == 2 and all(v > 0 for v in val_losses)  # two epochs
        assert any("train/loss" in r for r in rows)
        images = [
            k
            for r in rows
            for k in r
            if k.startswith("val/trajectories/") and k.endswith("/filenames")
        ]
        assert len(images) == 2 * 4  # one per validation period per epoch
        media = list(files[0].parent.glob("files/media/images/val/trajectories/*.png"))
        assert len(media) == 8
        assert (job / "checkpoints" / "last.ckpt").exists()
        assert wandb_files.run_config(files[0])["seed"] == seed
    assert len({i["group"] for i in infos}) == 1 and infos[0]["group"] == "lcd_lstm"
    assert len({i["id"] for i in infos}) == 3


@pytest.mark.parametrize(
    "override,expected",
    [
        (
            "model/cell=lstn",
            "model/cell=lstn is not an option; allowed: fast_weights, gru, lstm, rnn",
        ),
        (
            "model/init=random",
            "model/init=random is not an option; allowed: contextual, free, zero",
        ),
        ("data=mnist", "data=mnist is not an option; allowed: art, lcd"),
    ],
)
def test_unknown_choice_is_one_line(override, expected, tmp_path):
    result = train_command(override)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {expected}"


def test_unknown_choice_in_a_sweep_is_refused_before_any_job(tmp_path):
    result = train_command("-m", "model/cell=lstm,gru,lsmt", f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 2
    assert "model/cell=lsmt is not an option" in result.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "data,override,message",
    [
        (
            "art",
            "data.task.k=7",
            "data.task.k=7 is not allowed: expected an even integer from 2 to 52",
        ),
        ("art", "data.task.k=60", "data.task.k=60 is not allowed"),
        (
            "art",
            "data.task.train_size=0",
            "data.task.train_size=0 is not allowed: expected a positive",
        ),
        (
            "lcd",
            "data.batch_size=-4",
            "data.batch_size=-4 is not allowed: expected a positive integer",
        ),
        ("lcd", "model.cell.hidden_size=0", "model.cell.hidden_size=0 is not allowed"),
        (
            "lcd",
            "data.task.val_periods=[]",
            "data.task.val_periods=[] is not allowed: expected a non",
        ),
        (
            "lcd",
            "data.task.context=[]",
            "model/init='ContextualInit' is not allowed: expected an init without context",
        ),
    ],
)
def test_bad_values_are_one_line_before_training(
    tiny_config, capsys, tmp_path, data, override, message
):
    cfg = tiny_config(data, "model/init=contextual", override)
    with pytest.raises(SystemExit) as exit_info:
        run(cfg)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {message}") and "\n" not in err
    assert not (tmp_path / "checkpoints").exists()


def test_bad_value_from_the_command_line(tmp_path):
    result = train_command("data=art", "data.task.k=9", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: data.task.k=9 is not allowed: expected an even integer from 2 to 52"
    )
