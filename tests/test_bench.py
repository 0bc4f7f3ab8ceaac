"""The benchmark runner's smoke run: it runs, checks gradients, and writes its JSON.

Timings are never asserted here; speed is measured by ``python -m bench`` itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_CASES = {"seed", "chain-1", "vjp-doubling", "rosenbrock-10", "mlp-fwd", "mlp-fwd+bwd",
                  "scalar-mlp", "adam-step-337", "hvp-rosenbrock-10", "hvp-scalar-mlp"}
WORKLOADS = {"seed", "chain", "vjp-doubling", "rosenbrock", "mlp", "scalar-mlp", "train-mlp",
             "hvp-rosenbrock", "hvp-scalar-mlp"}


def test_quick_run_writes_every_workload(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--frameworks", "tapegrad,numpy",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(out.read_text())

    ran = {(r["case"], r["framework"]): r for r in data["results"]}
    assert EXPECTED_CASES <= {case for case, _ in ran}
    assert {r["workload"] for r in data["results"]} == WORKLOADS
    for case in EXPECTED_CASES:
        assert ran[case, "tapegrad"]["status"] == "ok", ran[case, "tapegrad"]
    # the hand-written NumPy gradients (and Hessian-vector product) agree with tapegrad's
    # (checked before timing)
    for case in ("rosenbrock-10", "mlp-fwd", "mlp-fwd+bwd", "hvp-rosenbrock-10"):
        assert ran[case, "numpy"]["status"] == "ok", ran[case, "numpy"]
    assert ran["seed", "numpy"]["status"] == "n/a"
    assert data["failures"] == []
    assert {r["framework"] for r in data["coldstart"]} == {"tapegrad", "numpy"}
    assert data["versions"]["numpy"] and data["machine"]["cpu_count"]
    assert "rosenbrock-10" in proc.stdout and "x torch" in proc.stdout


def test_unknown_names_are_refused() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "--only", "nosuch"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "nosuch" in proc.stderr
