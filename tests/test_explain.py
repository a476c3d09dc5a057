"""``train.py --explain``: each value of the composed config and the file that set it."""

from pathlib import Path

from contextual_rnn.training.compose import CONFIG_DIR
from contextual_rnn.training.explain import explain


def lines(*overrides: str) -> dict[str, str]:
    found = {}
    for line in explain(list(overrides), Path(CONFIG_DIR)).splitlines():
        key, rest = line.split(": ", 1)
        found[key] = rest
    return found


def test_the_task_sets_its_paper_values_and_says_so():
    art = lines("data=art")
    assert art["model.optimizer.lr"] == "0.001  # conf/data/art.yaml"
    assert art["trainer.max_epochs"] == "200  # conf/data/art.yaml"
    assert art["model.cell.hidden_size"] == "50  # conf/model/cell/fast_weights.yaml"
    assert art["model.cell.update"].startswith("preliminary  (= ${preset.fast_weights.update})")
    assert art["preset.fast_weights.update"] == "preliminary  # conf/preset/authors.yaml"
    lcd = lines()
    assert lcd["model.optimizer.lr"] == "0.0002  # conf/data/lcd.yaml"


def test_the_command_line_wins_and_says_so():
    mine = lines("data=art", "model.optimizer.lr=0.01", "preset=ba2016")
    assert mine["model.optimizer.lr"] == "0.01  # command line"
    assert mine["preset.fast_weights.update"] == "previous  # conf/preset/ba2016.yaml"
