"""Generate ``printing_cases.json``: real ``repr(torch.Tensor)`` strings.

torch is not a tapegrad dependency, so the expected strings are produced once
with a separate virtualenv and stored next to this script::

    /work/tvenv/bin/python tests/data/make_printing_cases.py

Each case names its input (flat values, shape and dtype, stored once in
``inputs`` and shared by its variants) and stores the print options, the
suffixes a tapegrad caller would pass (``dtype=...`` and the autograd part),
the default float dtype, and torch's ``repr`` of the same tensor.  Data-dependent ``size=`` suffixes
are not in ``suffixes``: ``format_tensor`` must add them itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

OUT = Path(__file__).with_name("printing_cases.json")
rng = np.random.default_rng(20240613)

# How the autograd suffix is produced on the torch side. Each keeps the values bit-exact.
GRAD_MODES = {
    "requires_grad": lambda t: t,
    "MulBackward0": lambda t: t * 1.0,
    "CloneBackward0": lambda t: t.clone(),
    "SelectBackward0": lambda t: t.unsqueeze(0)[0],
}


def torch_dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


def dtype_suffix(t: torch.Tensor) -> list[str]:
    """The ``dtype=`` suffix torch shows, per ``_str_intern``."""
    default = torch.get_default_dtype()
    if t.numel() == 0:
        shown = t.dtype != default
    else:
        default_complex = torch.cdouble if default == torch.double else torch.cfloat
        shown = t.dtype not in (default, default_complex, torch.int64, torch.bool)
    return [f"dtype={t.dtype}"] if shown else []


def grad_suffix(t: torch.Tensor) -> list[str]:
    if t.grad_fn is not None:
        return [f"grad_fn=<{type(t.grad_fn).__name__}>"]
    return ["requires_grad=True"] if t.requires_grad else []


def json_values(array: np.ndarray) -> list[Any]:
    """Flat values; narrow floats as their shortest repr, which maps back to the same bits."""
    if array.dtype in (np.float16, np.float32):
        return [float(str(v)) for v in array.reshape(-1)]
    return array.reshape(-1).tolist()


def make_case(
    name: str,
    data: Any,
    dtype: str = "float32",
    grad: str | None = None,
    options: dict[str, Any] | None = None,
    default_dtype: str = "float32",
) -> dict[str, Any]:
    array = np.asarray(data, dtype=np.dtype(dtype))
    torch.set_default_dtype(torch_dtype(default_dtype))
    try:
        t = torch.from_numpy(array.copy())
        if grad is not None:
            t = GRAD_MODES[grad](t.requires_grad_(True))
        with torch._tensor_str.printoptions(**(options or {})):
            expected = repr(t)
        suffixes = dtype_suffix(t) + grad_suffix(t)
    finally:
        torch.set_default_dtype(torch.float32)
    return {
        "name": name,
        "dtype": dtype,
        "shape": list(array.shape),
        "values": json_values(array),
        "default_dtype": default_dtype,
        "options": options or {},
        "suffixes": suffixes,
        "expected": expected,
    }


def randn(*shape: int, scale: float = 1.0) -> np.ndarray:
    return rng.standard_normal(shape) * scale


def float_cases() -> list[tuple[str, Any, str]]:
    """(name, data, dtype) for floating tensors; each also gets a grad variant."""
    nan, inf = math.nan, math.inf
    return [
        ("0d_int_valued", 3.0, "float32"),
        ("0d_fraction", 0.5, "float32"),
        ("0d_negative", -2.25, "float32"),
        ("0d_nan", nan, "float32"),
        ("0d_inf", -inf, "float32"),
        ("0d_neg_zero", -0.0, "float32"),
        ("0d_tiny_sci", 1e-5, "float32"),
        ("0d_huge_sci", 1e10, "float32"),
        ("0d_third_f64", 1 / 3, "float64"),
        ("0d_f16", 0.1, "float16"),
        ("1d_int_valued", [1.0, 2.0, 3.0], "float32"),
        ("1d_signs", [1.5, -2.25, 3.0], "float32"),
        ("1d_single", [7.0], "float32"),
        ("1d_nan_inf_only", [nan, inf, -inf], "float32"),
        ("1d_int_with_nan", [1.0, nan, -12.0], "float32"),
        ("1d_frac_nan_inf", [1.5, nan, -inf, inf], "float32"),
        ("1d_zeros", [0.0, 0.0], "float32"),
        ("1d_neg_zeros", [-0.0, 0.0, -0.0], "float32"),
        ("1d_neg_zero_frac", [-0.0, 1.5], "float32"),
        ("1d_neg_zero_sci", [-0.0, 1e-6, 2.0], "float32"),
        ("1d_small_sci", [1e-5, 1.0], "float32"),
        ("1d_big_sci", [1e9, 1.0], "float32"),
        ("1d_ratio_1000", [0.1, 100.0], "float64"),
        ("1d_ratio_above_1000", [0.1, 100.1], "float64"),
        ("1d_int_ratio_1000", [1.0, 1000.0], "float32"),
        ("1d_int_ratio_1001", [1.0, 1001.0], "float32"),
        ("1d_exactly_1e8", [1e8], "float64"),
        ("1d_above_1e8", [1.1e8], "float64"),
        ("1d_1e-4_f32_rounds_below", [1e-4], "float32"),
        ("1d_1e-4_f64", [1e-4], "float64"),
        ("1d_float32_rounding", [0.1, 0.2, 0.3, 1 / 3, 2 / 3], "float32"),
        ("1d_round_half", [0.00005, 0.00015, 1.23445, 2.5], "float64"),
        ("1d_big_ints_fixed", [123456.0, -7.0], "float32"),
        ("1d_sci_with_nan", [1e-7, nan, -3e5, inf], "float32"),
        ("1d_f16_mixed", [0.1, -65504.0, 3.0], "float16"),
        ("1d_f16_ints", [1.0, 2048.0, -5.0], "float16"),
        ("1d_f64_extreme", [1e300, 1e-300], "float64"),
        ("1d_denormal", [1e-45, 1.0], "float32"),
        ("1d_randn_1", randn(8), "float32"),
        ("1d_randn_1e-2", randn(8, scale=1e-2), "float32"),
        ("1d_randn_1e-6", randn(6, scale=1e-6), "float32"),
        ("1d_randn_1e3", randn(7, scale=1e3), "float32"),
        ("1d_randn_1e6", randn(5, scale=1e6), "float32"),
        ("1d_randn_1e12", randn(5, scale=1e12), "float64"),
        ("1d_arange_30", np.arange(30.0), "float32"),
        ("1d_randn_25_wraps", randn(25), "float32"),
        ("1d_randn_25_f64", randn(25), "float64"),
        ("1d_sci_wraps", randn(20, scale=1e-5), "float32"),
        ("2d_2x3", [[1.0, 2.5, 3.0], [-4.0, 5.0, 6.25]], "float32"),
        ("2d_1x1", [[42.0]], "float32"),
        ("2d_1x5", randn(1, 5), "float32"),
        ("2d_5x1", randn(5, 1), "float32"),
        ("2d_5x7", randn(5, 7), "float32"),
        ("2d_10x20_wraps_rows", randn(10, 20), "float32"),
        ("2d_mixed_magnitudes", randn(3, 4) * np.logspace(-3, 3, 4), "float32"),
        ("2d_nan_rows", [[math.nan, 1.0], [inf, -0.0]], "float32"),
        ("3d_2x3x4", randn(2, 3, 4), "float32"),
        ("3d_arange", np.arange(24.0).reshape(2, 3, 4), "float32"),
        ("3d_1x1x1", [[[0.25]]], "float64"),
        ("4d_2x2x2x3", randn(2, 2, 2, 3), "float32"),
        ("4d_sci", randn(2, 1, 2, 3, scale=1e-6), "float32"),
        ("empty_1d", [], "float32"),
        ("empty_0x3", np.zeros((0, 3)), "float32"),
        ("empty_2x0", np.zeros((2, 0)), "float32"),
        ("empty_3x0x2_f64", np.zeros((3, 0, 2)), "float64"),
        ("summ_arange_1001", np.arange(1001.0), "float32"),
        ("summ_randn_1010", randn(1010), "float32"),
        ("summ_2d_30x40", np.arange(1200.0).reshape(30, 40), "float32"),
        ("summ_2d_randn_32x32", randn(32, 32), "float32"),
        ("summ_3d_11x10x10", randn(11, 10, 10, scale=1e-5), "float32"),
        ("summ_4d_7x2x9x8", randn(7, 2, 9, 8), "float32"),
        ("summ_2d_narrow_5x210", randn(5, 210), "float64"),
        (
            "summ_edges_decide_width",
            np.concatenate([np.ones(3), np.full(1000, 1e9), np.ones(3)]),
            "float32",
        ),
        (
            "summ_hidden_nan",
            np.concatenate([np.ones(3), [math.nan] * 1000, np.ones(3) * 2]),
            "float32",
        ),
    ]


def exact_cases() -> list[tuple[str, Any, str]]:
    """(name, data, dtype) for int and bool tensors (no autograd on the torch side)."""
    return [
        ("0d_int64", 7, "int64"),
        ("0d_int64_neg", -3, "int64"),
        ("0d_bool_true", True, "bool"),
        ("0d_bool_false", False, "bool"),
        ("0d_int32", 5, "int32"),
        ("1d_int64", [1, 2, 3], "int64"),
        ("1d_int64_widths", [1, -20, 300], "int64"),
        ("1d_int64_extremes", [2**62, -(2**62), 0], "int64"),
        ("1d_uint8", [0, 255, 7], "uint8"),
        ("1d_int8", [-128, 127], "int8"),
        ("1d_int16", [-300, 5], "int16"),
        ("1d_int32", [1, 2, 3], "int32"),
        ("1d_bool", [True, False], "bool"),
        ("1d_bool_all_true", [True, True], "bool"),
        ("1d_arange_100", np.arange(100), "int64"),
        ("1d_bool_50", rng.random(50) > 0.5, "bool"),
        ("1d_rand_ints", rng.integers(-(10**9), 10**9, 12), "int64"),
        ("2d_3x3_int", np.arange(9).reshape(3, 3) - 4, "int64"),
        ("2d_4x2_bool", rng.random((4, 2)) > 0.5, "bool"),
        ("3d_int_arange", np.arange(24).reshape(2, 3, 4), "int64"),
        ("4d_int32", rng.integers(-50, 50, (2, 2, 3, 2)), "int32"),
        ("empty_int64", [], "int64"),
        ("empty_bool_0x2", np.zeros((0, 2)), "bool"),
        ("empty_int32", [], "int32"),
        ("at_threshold_1000_not_summarized", np.arange(1000).reshape(10, 100), "int64"),
        ("summ_int_arange_1100", np.arange(1100), "int64"),
        ("summ_int_3d_11x10x10", rng.integers(-1000, 1000, (11, 10, 10)), "int64"),
        ("summ_bool_1100", rng.random(1100) > 0.5, "bool"),
        ("summ_uint8_2d", rng.integers(0, 256, (32, 32)), "uint8"),
    ]


def option_cases() -> list[dict[str, Any]]:
    """Cases run under non-default print options."""
    data = randn(4, 5)
    sci = randn(6, scale=1e-6)
    return [
        make_case("opt_precision_2", data, options={"precision": 2}),
        make_case("opt_precision_8_f64", data, "float64", options={"precision": 8}),
        make_case("opt_precision_0", [1.5, 2.25, -3.75], options={"precision": 0}),
        make_case("opt_sci_true", data, options={"sci_mode": True}),
        make_case("opt_sci_true_ints", [1.0, 2.0, 300.0], options={"sci_mode": True}),
        make_case("opt_sci_false", sci, options={"sci_mode": False}),
        make_case("opt_sci_false_big", [1e10, 1.0], options={"sci_mode": False}),
        make_case("opt_linewidth_40", randn(20), options={"linewidth": 40}),
        make_case(
            "opt_linewidth_40_grad",
            randn(3, 3),
            grad="MulBackward0",
            options={"linewidth": 40},
        ),
        make_case("opt_linewidth_10", randn(4), options={"linewidth": 10}),
        make_case("opt_threshold_10", np.arange(20.0), options={"threshold": 10}),
        make_case(
            "opt_threshold_10_2d",
            np.arange(30).reshape(6, 5),
            "int64",
            options={"threshold": 10},
        ),
        make_case("opt_edgeitems_1", randn(50, 50), options={"edgeitems": 1}),
        make_case("opt_edgeitems_0_small", np.arange(5.0), options={"edgeitems": 0}),
        make_case("opt_edgeitems_0_1d", np.arange(2000.0), options={"edgeitems": 0}),
        make_case(
            "opt_edgeitems_0_2d",
            np.arange(2000.0).reshape(2, 1000),
            grad="requires_grad",
            options={"edgeitems": 0},
        ),
        make_case("opt_profile_short", randn(40, 40), options={"profile": "short"}),
        make_case(
            "opt_profile_full", np.arange(1100), "int64", options={"profile": "full"}
        ),
    ]


def default_dtype_cases() -> list[dict[str, Any]]:
    """With a float64 default, float32 data gets a ``dtype=torch.float32`` suffix."""
    return [
        make_case("f64default_f32", [1.0, 2.5], "float32", default_dtype="float64"),
        make_case(
            "f64default_f32_grad",
            [1.0, 2.5],
            "float32",
            grad="requires_grad",
            default_dtype="float64",
        ),
        make_case(
            "f64default_f64_grad",
            randn(3),
            "float64",
            grad="MulBackward0",
            default_dtype="float64",
        ),
        make_case("f64default_empty_f32", [], "float32", default_dtype="float64"),
        make_case(
            "f64default_long_row",
            randn(2, 8),
            "float32",
            grad="CloneBackward0",
            default_dtype="float64",
        ),
    ]


def long_suffix_cases() -> list[dict[str, Any]]:
    """Data whose last line is near 80 columns, to hit each wrapping branch."""
    cases = []
    for n in range(5, 10):
        cases.append(
            make_case(f"wrap_f64_grad_len{n}", randn(n), "float64", grad="MulBackward0")
        )
        cases.append(
            make_case(f"wrap_f32_req_len{n}", randn(n), "float32", grad="requires_grad")
        )
    cases.append(make_case("wrap_i32_2d", rng.integers(0, 10**6, (2, 9)), "int32"))
    return cases


def share_inputs(cases: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Move dtype/shape/values out of the cases so variants store their data once.

    Each case gets an ``input`` key naming its entry in the returned table.
    """
    inputs: dict[str, dict[str, Any]] = {}
    seen: dict[str, str] = {}
    for case in cases:
        data = {key: case.pop(key) for key in ("dtype", "shape", "values")}
        fingerprint = json.dumps(data)
        if fingerprint not in seen:
            seen[fingerprint] = case["name"]
            inputs[case["name"]] = data
        case["input"] = seen[fingerprint]
    return inputs


def main() -> None:
    cases = []
    grad_cycle = list(GRAD_MODES)
    for i, (name, data, dtype) in enumerate(float_cases()):
        cases.append(make_case(name, data, dtype))
        cases.append(
            make_case(f"{name}+grad", data, dtype, grad=grad_cycle[i % len(grad_cycle)])
        )
    for name, data, dtype in exact_cases():
        cases.append(make_case(name, data, dtype))
    cases += option_cases() + default_dtype_cases() + long_suffix_cases()
    names = [case["name"] for case in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    inputs = share_inputs(cases)
    # One item per line: readable diffs without the bulk of fully indented arrays.
    input_lines = ",\n".join(
        f"{json.dumps(key)}: {json.dumps(data)}" for key, data in inputs.items()
    )
    case_lines = ",\n".join(json.dumps(case) for case in cases)
    OUT.write_text(
        f'{{"torch_version": "{torch.__version__}",\n'
        f'"inputs": {{\n{input_lines}\n}},\n"cases": [\n{case_lines}\n]}}\n'
    )
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
