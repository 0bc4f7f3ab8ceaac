"""Regression tests for bugs the differential fuzzer (tests/test_fuzz.py) found, with torch as
the oracle: each program runs the same way on both libraries (``lib`` is the module)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tapegrad as tg


def _torch():
    return pytest.importorskip("torch")


def _outcome(program, lib):
    """What ``program(lib)`` gives: ("ok", result) or the exception's type name and message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return "ok", program(lib)
    except Exception as err:  # noqa: BLE001 -- the error itself is compared
        return type(err).__name__, str(err)


def _plain(value):
    """A result made comparable: tensors as (float64 array, grad_fn name) and None kept."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    array = value.detach().numpy() if hasattr(value, "detach") else np.asarray(value)
    return np.asarray(array, dtype=np.float64)


def _same(program) -> None:
    torch = _torch()
    want_kind, want = _outcome(program, torch)
    got_kind, got = _outcome(program, tg)
    assert got_kind == want_kind, (got, want)
    if want_kind != "ok":
        assert got == want
        return
    want, got = _plain(want), _plain(got)
    if not isinstance(want, list):
        want, got = [want], [got]
    for g, w in zip(got, want, strict=True):
        if w is None or g is None or isinstance(w, (bool, str)):
            assert g == w
        else:
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def _grad_fn_name(t) -> str:
    return t.grad_fn.name()


# -- transpose_zero_dim: transpose / t / permute / T / mT of a 0-d tensor --------------------

ZERO_D_REARRANGES = {
    "transpose(0,-1)": lambda x: x.transpose(0, -1),
    "transpose(0,0)": lambda x: x.transpose(0, 0),
    "transpose(-1,-1)": lambda x: x.transpose(-1, -1),
    "transpose(0,1)": lambda x: x.transpose(0, 1),
    "transpose(-2,0)": lambda x: x.transpose(-2, 0),
    "t()": lambda x: x.t(),
    "permute(())": lambda x: x.permute(()),
    "permute([])": lambda x: x.permute([]),
    "permute()": lambda x: x.permute(),
    "permute(0)": lambda x: x.permute(0),
    "T": lambda x: x.T,
    "mT": lambda x: x.mT,
}


@pytest.mark.parametrize("name", sorted(ZERO_D_REARRANGES))
def test_rearranging_a_zero_dim_tensor_matches_torch(name):
    fn = ZERO_D_REARRANGES[name]

    def program(lib):
        x = lib.tensor(1.5, dtype=lib.float64, requires_grad=True)
        y = fn(x)
        (y * 3.0).backward()
        return y, x.grad, tuple(y.shape), y.requires_grad, y.is_leaf, y is x

    _same(program)


ND_REARRANGES = {
    "transpose(0,2)": lambda x: x.transpose(0, 2),
    "transpose(-3,1)": lambda x: x.transpose(-3, 1),
    "transpose(-1,0)": lambda x: x.transpose(-1, 0),
    "permute(0,0)": lambda x: x.permute(0, 0),
    "permute(0,2)": lambda x: x.permute(0, 2),
    "permute(0)": lambda x: x.permute(0),
    "permute(0,1,2)": lambda x: x.permute(0, 1, 2),
    "permute(1,-2)": lambda x: x.permute(1, -2),
    "permute((-1,0))": lambda x: x.permute((-1, 0)),
    "mT": lambda x: x.mT,
    "T": lambda x: x.T,
}


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
@pytest.mark.parametrize("name", sorted(ND_REARRANGES))
def test_rearranging_errors_and_values_match_torch(name, shape):
    fn = ND_REARRANGES[name]
    weights = np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape)

    def program(lib):
        x = lib.tensor(np.linspace(-1, 1, int(np.prod(shape))).reshape(shape),
                       requires_grad=True)
        y = fn(x)
        (y * lib.tensor(weights).reshape(y.shape)).sum().backward()
        return y, x.grad, tuple(y.shape)

    _same(program)


def test_functional_permute_of_a_zero_dim_tensor():
    x = tg.tensor(2.0, requires_grad=True)
    y = tg.permute(x, ())
    y.backward()
    assert y.item() == 2.0 and x.grad.item() == 1.0


# -- retain_grad_then_inplace: a retained grad follows the tensor's newest version -------------

def _retained_program(order: str, tail: str):
    def program(lib):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        y = x * 2
        if order == "before":
            y.retain_grad()
        z = y.exp()
        y.mul_(3)
        if order == "after":
            y.retain_grad()
        if tail == "old":
            out = z.sum()
        elif tail == "new":
            out = (y * 1).sum() + z.sum()
        else:  # "new_only", weighted
            out = (y * lib.tensor([5.0, 7.0], dtype=lib.float64)).sum()
        out.backward()
        return y.grad, x.grad

    return program


@pytest.mark.parametrize("tail", ["old", "new", "new_only"])
@pytest.mark.parametrize("order", ["before", "after"])
def test_retained_grad_follows_the_newest_version(order, tail):
    _same(_retained_program(order, tail))


def test_retained_grad_after_two_inplace_changes_and_a_view():
    def program(lib):
        x = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64, requires_grad=True)
        y = x * 2.0 - 1.0
        y.retain_grad()
        w = y.exp()  # (saves its output, not the y about to change)
        y.add_(1.0)
        y.mul_(lib.tensor([2.0, 3.0, 4.0], dtype=lib.float64))
        out = (y ** 2).sum() + w.sum()
        out.backward()
        return y.grad, x.grad

    _same(program)


def test_retained_grad_of_a_zero_dim_tensor_changed_in_place():
    def program(lib):
        x = lib.tensor(0.5, dtype=lib.float64, requires_grad=True)
        y = x * 3.0
        y.retain_grad()
        z = y.exp()
        y.add_(2.0)
        (z + y * y).backward()
        return y.grad, x.grad

    _same(program)


def test_retained_grad_follows_a_setitem():
    def program(lib):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        y = x * 2
        y.retain_grad()
        z = y.exp()
        y[1] = 5.0
        (z.sum() + (y * lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64)).sum()).backward()
        return y.grad, x.grad

    _same(program)


# -- expand_same_shape: expand to the same shape is a new tensor -------------------------------

EXPANDS = {
    "expand(*shape)": lambda x: x.expand(*x.shape) if x.ndim else x.expand(()),
    "expand(shape)": lambda x: x.expand(x.shape),
    "expand(-1s)": lambda x: x.expand([-1] * x.ndim),
    "expand_as(x)": lambda x: x.expand_as(x),
}


@pytest.mark.parametrize("shape", [(), (3,), (2, 1)])
@pytest.mark.parametrize("name", sorted(EXPANDS))
def test_expand_to_the_same_shape_is_a_new_tensor(name, shape):
    fn = EXPANDS[name]
    torch = _torch()
    for lib in (torch, tg):
        x = lib.tensor(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape), requires_grad=True)
        y = fn(x)
        assert y is not x
        assert not y.is_leaf and y.requires_grad
        assert y.grad_fn is not None
        y.retain_grad()
        (y * 2.0).sum().backward()
        np.testing.assert_array_equal(y.grad.numpy(), np.full(shape, 2.0))
        np.testing.assert_array_equal(x.grad.numpy(), np.full(shape, 2.0))
        assert _grad_fn_name(y) == "ExpandBackward0"


def test_expand_to_the_same_shape_without_grad_shares_storage():
    for lib in (_torch(), tg):
        x = lib.zeros(2, 3)
        y = x.expand(2, 3)
        assert y is not x and y.is_leaf and not y.requires_grad
        x.add_(1.0)
        assert y.numpy().tolist() == [[1.0] * 3] * 2
        assert y._version == x._version


def test_expand_without_sizes_matches_torch():
    _same(lambda lib: lib.ones(2, requires_grad=True).expand())
    _same(lambda lib: lib.tensor(2.0, requires_grad=True).expand([]) * 3.0)


def test_inplace_on_a_tensor_without_history_with_a_retained_grad_elsewhere():
    def program(lib):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        h = x * 2
        h.retain_grad()  # (the tape has a retained grad)
        c = lib.tensor([3.0, 4.0], dtype=lib.float64)
        c.add_(h)  # c had no history: now recorded
        (c * h).sum().backward()
        return c, h.grad, x.grad

    _same(program)


# -- x[[]]: indexing with an empty list ----------------------------------------------------------

EMPTY_INDEXES = {
    "x[[]]": lambda lib, x: x[[]],
    "x[[], :]": lambda lib, x: x[[], :],
    "x[:, []]": lambda lib, x: x[:, []],
    "x[long([])]": lambda lib, x: x[lib.tensor([], dtype=lib.long)],
    "x[bool([])]": lambda lib, x: x[lib.tensor([], dtype=lib.bool)],
    "x[[], []]": lambda lib, x: x[[], []],
    "x[..., []]": lambda lib, x: x[..., []],
}


@pytest.mark.parametrize("shape", [(3,), (3, 2), (0, 2)])
@pytest.mark.parametrize("name", sorted(EMPTY_INDEXES))
def test_indexing_with_an_empty_list_matches_torch(name, shape):
    index = EMPTY_INDEXES[name]

    def program(lib):
        x = lib.tensor(np.arange(1.0, 1.0 + np.prod(shape)).reshape(shape), requires_grad=True)
        y = index(lib, x)
        out = y.sum() + (x * 2.0).sum()
        out.backward()
        return y, tuple(y.shape), x.grad, y.requires_grad, y.dtype == x.dtype

    _same(program)


LIST_KEYS = {
    "[[0, 1], [1, 0]]": [[0, 1], [1, 0]],
    "[[0, 1], [1]]": [[0, 1], [1]],
    "[[2]]": [[2]],
    "[[1, 2]]": [[1, 2]],
    "[0, [1]]": [0, [1]],
    "[slice, [1]]": [slice(None), [1]],
    "[None, [1]]": [None, [1]],
    "[[True, False, True]]": [[True, False, True]],
    "[True, False, True]": [True, False, True],
    "[[0, 1], [0, 1], [0]]": [[0, 1], [0, 1], [0]],
    "[2, 0, 1]": [2, 0, 1],
}


@pytest.mark.parametrize("name", sorted(LIST_KEYS))
def test_a_list_index_holding_sequences_is_a_tuple_of_indices(name):
    key = LIST_KEYS[name]

    def program(lib):
        x = lib.tensor(np.arange(6.0).reshape(3, 2), dtype=lib.float64, requires_grad=True)
        y = x[key]
        (y * 2.0).sum().backward()
        return y, tuple(y.shape), x.grad

    _same(program)


MASKS = {
    "mask(3,3)": lambda lib: lib.ones(3, 3, dtype=lib.bool),
    "(:, mask(3))": lambda lib: (slice(None), lib.ones(3, dtype=lib.bool)),
    "(..., mask(2))": lambda lib: (Ellipsis, lib.ones(2, dtype=lib.bool)),
    "(None, 0, mask(3))": lambda lib: (None, 0, lib.ones(3, dtype=lib.bool)),
    "mask(0)": lambda lib: lib.ones(0, dtype=lib.bool),
    "(0, mask(2,3))": lambda lib: (0, lib.ones(2, 3, dtype=lib.bool)),
    "(0, mask(2,4))": lambda lib: (0, lib.tensor([[True, False] * 2] * 2)),
    "mask(3,2,4,1)": lambda lib: lib.ones(3, 2, 4, 1, dtype=lib.bool),
    "(1:, mask(2))": lambda lib: (slice(1, None), lib.tensor([True, False])),
}


@pytest.mark.parametrize("name", sorted(MASKS))
def test_mask_shape_errors_match_torch(name):
    def program(lib):
        x = lib.tensor(np.arange(24.0).reshape(3, 2, 4), dtype=lib.float64, requires_grad=True)
        y = x[MASKS[name](lib)]
        y.sum().backward()
        return y, x.grad

    _same(program)


SET_KEYS = {"[]": [], "[[0, 1], [1, 0]]": [[0, 1], [1, 0]], "[[]]": [[]],
            "([], :)": ([], slice(None)), "[[0, 1], [1]]": [[0, 1], [1]]}


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("name", sorted(SET_KEYS))
def test_setitem_with_list_keys_matches_torch(name, requires_grad):
    def program(lib):
        x = lib.tensor(np.arange(6.0).reshape(3, 2), dtype=lib.float64,
                       requires_grad=requires_grad)
        y = x * 1.0
        y[SET_KEYS[name]] = 7.0
        if requires_grad:
            (y * lib.tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
        return y, x.grad

    _same(program)
