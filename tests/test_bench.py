"""scripts/bench.py runs end to end on tiny sizes and prints every ratio against its target."""

import importlib.util
import re
import statistics
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
    assert all(r["project"] and r["plain"] for r in results["epochs"])
    for r in results["epochs"]:
        line = next(line for line in printed.splitlines() if line.startswith(r["name"] + " epoch"))
        ratio = float(line.split()[4])
        measured = statistics.median(r["project"]) / statistics.median(r["plain"])
        assert abs(ratio - measured) < 0.01 and "met" in line
    art = results["epochs"][0]["forms"]  # every natural form of the plain ART loop timed
    assert set(art) == set(load_bench().FORMS) and all(t > 0 for t in art.values())
    assert f"baseline: {min(art, key=art.get)}" in printed
    assert "load average" in printed and "peak resident memory" in printed


def test_the_busy_machine_line_compares_one_thread_with_all():
    bench = load_bench()
    line = bench.busy_machine(bench.parse(["--quick"]))
    one, many, ratio = (float(x) for x in re.findall(r"([\d.]+)(?: ms on| ms on \d+ |x\))", line))
    assert one > 0 and many > 0 and abs(ratio - many / one) < 0.1


CASES = [("ART", form) for form in load_bench().FORMS] + [("LCD", None)]


@pytest.mark.parametrize(("name", "form"), CASES)
def test_the_plain_loop_computes_what_the_project_computes(name, form, tmp_path):
    """Same weights, same batch, same noise: the same outputs and loss gradients, so the
    ratio compares two ways of doing the same maths (ART: in each form of its loop)."""
    bench = load_bench()
    experiment, tiny = bench.CASES[name]
    cfg = bench.compose_config([*experiment, *bench.QUIET, *tiny], output_dir=tmp_path)
    torch.manual_seed(0)
    datamodule, module, _ = bench.build_run(cfg)
    plain = bench.plain_copy(name, cfg, datamodule, module, form)
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
    ours_params = dict(module.named_parameters())
    theirs_params = dict(plain.named_parameters())
    pairs = bench.renamed(ours_params, plain.RENAMES)  # every plain weight, by its project name
    assert set(pairs) == set(theirs_params)
    core = {"ART": {"W.weight", "C.weight", "g.weight", "embedding.weight", "readout.2.weight"}}
    core["LCD"] = {"lstm.weight_hh_l0", "lstm.weight_ih_l0", "g.0.weight", "readout.0.weight"}
    assert core[name] <= set(pairs)
    for key, ours_param in pairs.items():
        scale = ours_param.grad.abs().max().item()  # float32 sums in another order
        torch.testing.assert_close(
            theirs_params[key].grad, ours_param.grad, rtol=1e-3, atol=1e-4 * scale
        )


def test_the_sweep_bound_counts_core_seconds():
    bench = load_bench()
    # 50 s of training that takes twice as long on one core, 50 s on one core: 150 core-s
    # per job on 2 cores, against 100 s per job one after another
    assert bench.sweep_bound(100.0, 50.0, 2.0, 2) == 0.75
    assert bench.sweep_bound(100.0, 0.0, 2.0, 2) == 0.5  # nothing but one-core work
    assert bench.sweep_bound(100.0, 100.0, 2.5, 2) == 1.0  # worse than serial: no gain at all
