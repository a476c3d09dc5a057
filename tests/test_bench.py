"""scripts/bench.py runs end to end on tiny sizes and prints every ratio against its target."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


def test_quick_bench_prints_each_ratio_and_target(capsys):
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.main(["--quick", "--skip-jobs"])
    printed = capsys.readouterr().out
    assert [r["name"] for r in results["epochs"]] == ["ART", "LCD"]
    assert all(r["project"].epochs and r["plain"].epochs for r in results["epochs"])
    for r in results["epochs"]:
        line = next(line for line in printed.splitlines() if line.startswith(r["name"] + " epoch"))
        ratio = float(line.split()[4])
        assert abs(ratio - r["project"].epoch / r["plain"].epoch) < 0.01 and "met" in line
    assert "load average" in printed and "peak resident memory" in printed
