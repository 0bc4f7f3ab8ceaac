"""The seed tutorial (PyTorch's autograd tutorial, tests/data/autograd-tutorial.txt) runs cell by
cell with ``tg`` in place of ``torch`` and prints what the tutorial prints.

The cells and their outputs are parsed from the tutorial text itself.  Object addresses are
masked; the one output made of random values is matched by its shape (number layout, grad_fn).
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tapegrad as tg

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "autograd-tutorial.txt"
OUTPUT_STARTS = ("tensor(", "<", "True", "False")


def parse_cells(text: str) -> list[tuple[str, str | None]]:
    """(code, expected output or None) for each ``In [None]:`` cell."""
    cells = []
    for chunk in text.split("In [None]:\n")[1:]:
        blocks = re.split(r"\n[ \t]*\n", chunk.strip("\n"))
        code, output = blocks[0], None
        for block in blocks[1:]:  # a cell's code may hold blank lines; prose does not compile
            if block.startswith(OUTPUT_STARTS):
                output = block
                break
            if not _compiles(code + "\n\n" + block):
                break
            code += "\n\n" + block
        cells.append((code, output))
    return cells


def _compiles(code: str) -> bool:
    try:
        compile(to_tapegrad(code), "<cell>", "exec")
    except SyntaxError:
        return False
    return True


def to_tapegrad(code: str) -> str:
    code = code.replace("print(y)ㅁ", "print(y)")  # a stray keystroke in the tutorial
    code = code.replace("import torch", "import tapegrad as tg")
    return re.sub(r"\btorch\.", "tg.", code)


def run_cell(code: str, namespace: dict) -> str:
    """Run a cell as a notebook does: a bare last expression is displayed with repr."""
    lines = code.strip().split("\n")
    last = lines[-1]
    display = not last.startswith((" ", "print", "import", "with", "while")) and "=" not in last \
        and not last.endswith(")") or re.fullmatch(r"[A-Za-z_]\w*", last) is not None
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        if display and re.fullmatch(r"[A-Za-z_]\w*", last):
            exec("\n".join(lines[:-1]), namespace)
            print(repr(eval(last, namespace)))
        else:
            exec(code, namespace)
    return buffer.getvalue().rstrip("\n")


def mask_addresses(s: str) -> str:
    return re.sub(r"0x[0-9a-f]+", "0x?", s)


def shape_pattern(s: str) -> str:
    """A regex matching ``s`` with every number free and spacing flexible."""
    number = r"-?\d+\.\d*(?:e[+-]\d+)?"
    parts = re.split(r"(-?\d+\.\d*(?:e[+-]\d+)?|\s+)", s)
    out = []
    for p in parts:
        if not p:
            continue
        if re.fullmatch(number, p):
            out.append(number)
        elif p.isspace():
            out.append(r"\s*")
        else:
            out.append(re.escape(p))
    return "".join(out)


CELLS = parse_cells(SEED.read_text(encoding="utf-8"))


def test_seed_has_all_cells():
    assert len(CELLS) == 16
    assert sum(out is not None for _, out in CELLS) == 14


def test_every_cell_prints_what_the_seed_prints():
    tg.manual_seed(10)  # a seed under which y is doubled 2048x, as in the tutorial
    namespace: dict = {}
    for code, expected in CELLS:
        got = run_cell(to_tapegrad(code), namespace)
        if expected is None:
            assert got == "", f"cell printed unexpectedly:\n{code}\n---\n{got}"
        elif "while y.data.norm()" in code:  # random values: same layout
            assert re.fullmatch(shape_pattern(expected), got), (expected, got)
        else:
            assert mask_addresses(got) == mask_addresses(expected), f"{code}\n---\n{got}"


def test_example_script_prints_the_seed_outputs():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "autograd_tutorial.py")],
                            capture_output=True, text=True, check=True)
    got = result.stdout.rstrip("\n").split("\n")
    expected = "\n".join(out for _, out in CELLS if out is not None).split("\n")
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        if g != e and not re.fullmatch(shape_pattern(e), g):
            assert mask_addresses(g) == mask_addresses(e)


@pytest.mark.parametrize("code", [c for c, _ in CELLS])
def test_cells_mention_only_supported_torch_names(code):
    for name in re.findall(r"torch\.(\w+)", code):
        assert hasattr(tg, name), name
