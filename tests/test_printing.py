"""Check ``tapegrad.printing`` against ``repr`` strings recorded from real torch.

The expected strings come from ``tests/data/printing_cases.json``, written by
``tests/data/make_printing_cases.py`` with torch 2.13; this test needs only
numpy.  The module is loaded by file path so that this test does not depend on
the rest of the package importing cleanly.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CASES_FILE = Path(__file__).with_name("data") / "printing_cases.json"


def _load_printing() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "_tapegrad_printing_under_test", ROOT / "tapegrad" / "printing.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = (
        module  # dataclasses resolves annotations through sys.modules
    )
    spec.loader.exec_module(module)
    return module


printing = _load_printing()
_DATA = json.loads(CASES_FILE.read_text())
INPUTS: dict[str, dict[str, Any]] = _DATA["inputs"]
CASES: list[dict[str, Any]] = _DATA["cases"]


def _array(case: dict[str, Any]) -> np.ndarray:
    data = INPUTS[case["input"]]
    return np.array(data["values"], dtype=data["dtype"]).reshape(data["shape"])


@pytest.fixture(autouse=True)
def _restore_options() -> Iterator[None]:
    saved = printing.get_printoptions()
    yield
    printing.set_printoptions(**saved)


def test_enough_cases() -> None:
    assert len(CASES) >= 60
    assert _DATA["torch_version"].startswith("2.13")


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_matches_torch(case: dict[str, Any]) -> None:
    with printing.printoptions(**case["options"]):
        got = printing.format_tensor(_array(case), case["suffixes"])
    assert got == case["expected"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_needs_dtype_suffix_agrees_with_torch(case: dict[str, Any]) -> None:
    has_dtype = any(suffix.startswith("dtype=") for suffix in case["suffixes"])
    assert printing.needs_dtype_suffix(_array(case), case["default_dtype"]) == has_dtype


def test_options_restored_after_each_case() -> None:
    assert printing.get_printoptions() == {
        "precision": 4,
        "threshold": 1000,
        "edgeitems": 3,
        "linewidth": 80,
        "sci_mode": None,
    }


def test_set_printoptions_resets_sci_mode_like_torch() -> None:
    printing.set_printoptions(sci_mode=True)
    printing.set_printoptions(precision=2)
    assert printing.PRINT_OPTIONS.sci_mode is None
    assert printing.PRINT_OPTIONS.precision == 2


def test_profile_then_override() -> None:
    printing.set_printoptions(profile="short", linewidth=50)
    assert printing.get_printoptions() == {
        "precision": 2,
        "threshold": 1000,
        "edgeitems": 2,
        "linewidth": 50,
        "sci_mode": None,
    }
    printing.set_printoptions(profile="default")
    assert printing.PRINT_OPTIONS == printing.DEFAULT_PRINT_OPTIONS


def test_set_printoptions_changes_output() -> None:
    values = np.array([1 / 3, 2.0])
    assert printing.format_tensor(values, []) == "tensor([0.3333, 2.0000])"
    printing.set_printoptions(precision=1)
    assert printing.format_tensor(values, []) == "tensor([0.3, 2.0])"
    printing.set_printoptions(precision=4, sci_mode=True)
    assert printing.format_tensor(values, []) == "tensor([3.3333e-01, 2.0000e+00])"


def test_accepts_lists_and_keeps_suffix_order() -> None:
    got = printing.format_tensor(
        np.zeros((0, 2), dtype=np.int64), ["dtype=tapegrad.int64", "requires_grad=True"]
    )
    assert got == "tensor([], size=(0, 2), dtype=tapegrad.int64, requires_grad=True)"


def test_rejects_unsupported_dtypes() -> None:
    with pytest.raises(TypeError):
        printing.format_tensor(np.array([1 + 2j]), [])
    with pytest.raises(TypeError):
        printing.format_tensor(np.array(["a"]), [])


def test_docstring_examples() -> None:
    result = doctest.testmod(printing, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
