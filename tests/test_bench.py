"""scripts/bench.py runs end to end on tiny sizes and prints the comparison table."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"


def test_quick_bench_prints_ratios(capsys):
    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.main(["--quick"])
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.startswith("case"))
    assert "project/plain" in header and "project s/epoch" in header and "plain s/epoch" in header
    assert [r["name"] for r in results] == ["ART", "LCD"]
    assert all(r["project"].epochs and r["plain"].epochs for r in results)
    assert "speedup" in printed and "peak resident memory" in printed
