"""scripts/bench.py runs end to end on tiny sizes and prints every ratio against its target."""

import copy
import importlib.util
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_quick_bench_prints_each_ratio_and_target(capsys):
    results = load_bench().main(["--quick", "--skip-jobs"])
    printed = capsys.readouterr().out
    assert [r["name"] for r in results["epochs"]] == ["ART", "LCD"]
    assert all(r["project"].epochs and r["plain"].epochs for r in results["epochs"])
    for r in results["epochs"]:
        line = next(line for line in printed.splitlines() if line.startswith(r["name"] + " epoch"))
        ratio = float(line.split()[4])
        assert abs(ratio - r["project"].epoch / r["plain"].epoch) < 0.01 and "met" in line
    assert "load average" in printed and "peak resident memory" in printed


@pytest.mark.parametrize("name", ["ART", "LCD"])
def test_the_plain_loop_computes_what_the_project_computes(name, tmp_path):
    """Same weights, same batch, same noise: the same outputs and loss gradients, so the
    ratio compares two ways of doing the same maths."""
    bench = load_bench()
    experiment, tiny = bench.CASES[name]
    cfg = bench.compose_config([*experiment, *bench.QUIET, *tiny], output_dir=tmp_path)
    torch.manual_seed(0)
    datamodule = bench.build_datamodule(cfg)
    module = bench.build_module(cfg, datamodule)
    plain = (bench.PlainART if name == "ART" else bench.PlainLCD)(copy.deepcopy(module))
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    module.train()
    torch.manual_seed(1)
    ours = module(batch)
    torch.manual_seed(1)
    theirs = plain(batch)
    if name == "ART":
        ours = ours[:, -1]  # the classifier reads the last step
    torch.testing.assert_close(theirs, ours, rtol=1e-4, atol=1e-5)
    ours.square().sum().backward()
    theirs.square().sum().backward()
    net = module.net
    if name == "ART":  # the plain cell holds the copied cell's layers
        pairs = [(plain.embedding.weight, module.embedding.weight)]
        pairs += [(plain.cell.W.weight, net.cell.recurrent.weight)]
        pairs += [(plain.cell.C.weight, net.cell.input.weight)]
    else:
        pairs = [(plain.lstm.weight_hh_l0, net.cell.rnn.weight_hh_l0)]
        pairs += [(plain.lstm.weight_ih_l0, net.cell.rnn.weight_ih_l0)]
    pairs += [(plain.g.weight if name == "ART" else plain.g[0].weight, first_linear(net))]
    pairs += [(plain.readout[-1].weight, net.readout[-1].weight)]
    for theirs_param, ours_param in pairs:
        scale = ours_param.grad.abs().max().item()  # float32 sums in another order
        torch.testing.assert_close(theirs_param.grad, ours_param.grad, rtol=1e-3, atol=1e-4 * scale)


def first_linear(net):
    return next(m for m in net.initial_state.net.modules() if isinstance(m, torch.nn.Linear)).weight


def test_the_sweep_bound_counts_core_seconds():
    bench = load_bench()
    # 50 s of training that takes twice as long on one core, 50 s on one core: 150 core-s
    # per job on 2 cores, against 100 s per job one after another
    assert bench.sweep_bound(100.0, 50.0, 2.0, 2) == 0.75
    assert bench.sweep_bound(100.0, 0.0, 2.0, 2) == 0.5  # nothing but one-core work
    assert bench.sweep_bound(100.0, 100.0, 2.5, 2) == 1.0  # worse than serial: no gain at all
