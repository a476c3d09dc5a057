"""scripts/bench.py runs end to end on tiny sizes, and its plain loops compute what the
project computes."""

import importlib.util
import statistics
from pathlib import Path

import pytest
import torch

from contextual_rnn.config import compose_config
from contextual_rnn.train import build_run

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def check_table(results: list[dict], printed: str) -> None:
    """Each case's row: the project's median time against the fastest plain path's."""
    for r in results:
        line = next(line for line in printed.splitlines() if line.startswith(r["name"] + " "))
        plain = {path: times for path, times in r.items() if path.startswith("plain")}
        assert r["project"] and plain and all(plain.values())
        measured = statistics.median(r["project"]) / min(map(statistics.median, plain.values()))
        _, _, ratio, target, *verdict = line.removeprefix(r["name"]).split()
        assert abs(float(ratio) - measured) < 0.01 and target.startswith("<=")
        assert verdict in (["met"], ["NOT", "met"])
    assert "cores" in printed and "load average" in printed and "peak resident memory" in printed


def test_quick_bench_prints_each_ratio_and_target(capsys):
    bench = load_bench()
    results = bench.main(["--quick", "--skip-jobs"])
    assert [r["name"] for r in results] == ["ART epoch", "LCD epoch"]
    assert {p for p in results[0] if p.startswith("plain")} == {f"plain {f}" for f in bench.FORMS}
    check_table(results, capsys.readouterr().out)


@pytest.mark.slow
def test_quick_bench_times_whole_processes(capsys):
    results = load_bench().main(["--quick"])
    assert [r["name"] for r in results] == ["ART epoch", "LCD epoch", "main job"]
    check_table(results, capsys.readouterr().out)


@pytest.mark.parametrize("form", [*load_bench().FORMS, None])
def test_the_plain_loop_computes_what_the_project_computes(form, tmp_path):
    """Same weights, same batch, same noise: the same outputs and loss gradients, so the
    ratio compares two ways of doing the same maths (ART: in each form of its loop)."""
    bench = load_bench()
    experiment, _, tiny = bench.CASES["ART" if form else "LCD"]
    cfg = compose_config([*experiment, *bench.QUIET, *tiny], output_dir=tmp_path)
    torch.manual_seed(0)
    datamodule, module, _ = build_run(cfg)
    plain = bench.plain_copy(cfg, datamodule.task.layout, module, form)
    batch = next(iter(datamodule.train_dataloader()))
    module.train()
    torch.manual_seed(1)
    ours = module(batch)
    torch.manual_seed(1)
    theirs = plain(batch)
    if form:
        ours = ours[:, -1]  # the classifier reads the last step
    torch.testing.assert_close(theirs, ours, rtol=1e-4, atol=1e-5)
    ours.square().sum().backward()
    theirs.square().sum().backward()
    ours_params = dict(module.named_parameters())
    theirs_params = dict(plain.named_parameters())
    pairs = bench.renamed(ours_params, plain.RENAMES)  # every plain weight, by its project name
    assert set(pairs) == set(theirs_params)
    core = {"W.weight", "C.weight", "g.weight", "embedding.weight", "readout.2.weight"}
    if not form:
        core = {"lstm.weight_hh_l0", "lstm.weight_ih_l0", "g.0.weight", "readout.0.weight"}
    assert core <= set(pairs)
    for key, ours_param in pairs.items():
        scale = ours_param.grad.abs().max().item()  # float32 sums in another order
        torch.testing.assert_close(
            theirs_params[key].grad, ours_param.grad, rtol=1e-3, atol=1e-4 * scale
        )
