"""Packaging: every package of the source tree is installed, and nothing as a top-level "bench"."""

from __future__ import annotations

from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # (Python 3.11+)

ROOT = Path(__file__).resolve().parent.parent


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_under_tapegrad_and_bench_is_installed():
    listed = set(_config()["packages"])
    # (a folder of modules is a package, with or without an __init__.py)
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for p in (ROOT / "tapegrad").rglob("*.py")}
    found |= {".".join(("tapegrad_bench",) + p.parent.relative_to(ROOT / "bench").parts)
              for p in (ROOT / "bench").rglob("*.py")}
    assert found - listed == set(), "add these packages to pyproject.toml"
    assert listed - found == set(), "these listed packages do not exist"


def test_the_benchmark_runner_is_not_installed_as_a_top_level_bench():
    assert "bench" not in _config()["packages"]
    assert _config()["package-dir"] == {"tapegrad_bench": "bench"}
