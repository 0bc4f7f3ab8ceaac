"""tapegrad.utils.data (datasets, samplers, DataLoader, collation) and tapegrad.save/load,
against torch.utils.data and torch.save where torch is installed."""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.utils import data

torch = pytest.importorskip("torch")
import torch.utils.data as tdata  # noqa: E402


@pytest.fixture(autouse=True)
def _torch_in_float64():
    """torch's default dtype as tapegrad's, so that collated floats compare."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _nested(x):
    """Batches as plain nested lists, for comparing the two libraries."""
    if hasattr(x, "tolist") and not isinstance(x, np.ndarray):
        return ("tensor", str(x.dtype).split(".")[-1], x.tolist())
    if isinstance(x, dict):
        return {k: _nested(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_nested(v) for v in x]
    return x


def _loaders(make_dataset, **kwargs):
    mine = data.DataLoader(make_dataset(tg, data), **kwargs)
    theirs = tdata.DataLoader(make_dataset(torch, tdata), **kwargs)
    return mine, theirs


def _tensor_dataset(lib, module):
    x = lib.arange(14.0).reshape(7, 2)
    y = lib.tensor([0, 1, 1, 0, 1, 0, 0])
    return module.TensorDataset(x, y)


class _Samples:
    """A map-style dataset of dicts, tuples, numbers and arrays."""

    def __init__(self, lib, module):
        self.lib = lib

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": self.lib.full((2,), float(i)), "n": i, "f": i / 2, "a": np.arange(3) * i,
                "pair": (i, self.lib.tensor(i % 2 == 0)), "name": f"s{i}"}


@pytest.mark.parametrize("kwargs", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                    dict(batch_size=1), dict(batch_size=None),
                                    dict(batch_size=7), dict(batch_size=10)])
def test_batches_of_a_tensor_dataset_are_torch_s(kwargs):
    mine, theirs = _loaders(_tensor_dataset, **kwargs)
    assert len(mine) == len(theirs)
    assert [_nested(b) for b in mine] == [_nested(b) for b in theirs]


def test_default_collate_of_dicts_tuples_numbers_arrays_and_strings_is_torch_s():
    mine, theirs = _loaders(lambda lib, module: _Samples(lib, module), batch_size=2)
    assert [_nested(b) for b in mine] == [_nested(b) for b in theirs]


def test_a_batch_sampler_and_a_custom_collate():
    for module in (data, tdata):
        sampler = module.BatchSampler(module.SequentialSampler(range(5)), 2, drop_last=False)
        assert list(sampler) == [[0, 1], [2, 3], [4]] and len(sampler) == 3
    mine, theirs = _loaders(_tensor_dataset, batch_sampler=[[6, 0], [3]],
                            collate_fn=lambda batch: [item[1] for item in batch])
    assert [_nested(b) for b in mine] == [_nested(b) for b in theirs]


def test_shuffle_visits_every_item_once_per_epoch_and_follows_manual_seed():
    ds = _tensor_dataset(tg, data)
    loader = data.DataLoader(ds, batch_size=3, shuffle=True)
    tg.manual_seed(1)
    first = [b[1] for b in loader]
    orders = []
    for seed in (3, 3):
        tg.manual_seed(seed)
        orders.append(tg.cat([b[0] for b in loader])[:, 0].tolist())
    assert orders[0] == orders[1]  # reproducible
    assert sorted(orders[0]) == [2.0 * i for i in range(7)]  # a permutation
    assert [len(b) for b in first] == [3, 3, 1]


def test_an_iterable_dataset_in_batches():
    class Stream(data.IterableDataset):
        def __iter__(self):
            return iter(tg.tensor([float(i), -float(i)]) for i in range(5))

    batches = list(data.DataLoader(Stream(), batch_size=2))
    assert [b.shape for b in batches] == [tg.Size([2, 2]), tg.Size([2, 2]), tg.Size([1, 2])]
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        data.DataLoader(Stream(), shuffle=True)


def test_subset_concat_and_random_split():
    for module, lib in ((data, tg), (tdata, torch)):
        ds = _tensor_dataset(lib, module)
        both = module.ConcatDataset([ds, module.Subset(ds, [5, 1])])
        assert len(both) == 9 and both[-1][1].item() == 1 and both[7][0].tolist() == [10.0, 11.0]
        assert [len(s) for s in module.random_split(ds, [0.5, 0.5])] == [4, 3]
        assert [len(s) for s in module.random_split(ds, [0.3, 0.3, 0.4])] == [3, 2, 2]
        with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
            module.random_split(ds, [3, 3])
    parts = data.random_split(ds := _tensor_dataset(tg, data), [4, 3])
    assert sorted(parts[0].indices + parts[1].indices) == list(range(len(ds)))


@pytest.mark.parametrize("kwargs,message", [
    (dict(sampler=[0, 1], shuffle=True), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(batch_size=0), "batch_size should be a positive integer value"),
])
def test_bad_loader_arguments_get_torch_s_errors(kwargs, message):
    for module, lib in ((data, tg), (tdata, torch)):
        with pytest.raises(ValueError, match=message):
            module.DataLoader(_tensor_dataset(lib, module), **kwargs)


def test_a_model_trained_from_a_loader_saves_and_loads():
    tg.manual_seed(0)
    x = tg.randn(40, 3)
    y = x @ tg.tensor([1.0, -2.0, 0.5]) + 0.25
    loader = data.DataLoader(data.TensorDataset(x, y), batch_size=8, shuffle=True)
    model = tg.nn.Linear(3, 1)
    opt = tg.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(30):
        for xb, yb in loader:
            opt.zero_grad()
            loss = ((model(xb).squeeze(1) - yb) ** 2).mean()
            loss.backward()
            opt.step()
    np.testing.assert_allclose(model.weight.detach().numpy()[0], [1.0, -2.0, 0.5], atol=1e-3)
    for weights_only in (True, False, None):
        buffer = io.BytesIO()
        tg.save(model.state_dict(), buffer)
        buffer.seek(0)
        state = tg.load(buffer, weights_only=weights_only)
        assert isinstance(state, OrderedDict) and list(state) == ["weight", "bias"]
        other = tg.nn.Linear(3, 1)
        other.load_state_dict(state)
        np.testing.assert_array_equal(other(x).detach().numpy(), model(x).detach().numpy())


def test_save_and_load_a_path_keep_dtypes_shapes_and_requires_grad(tmp_path):
    obj = {"a": tg.ones(2, 3, dtype=tg.float32), "b": tg.tensor(3), "c": [tg.tensor(True)],
           "d": tg.zeros(0), "w": tg.tensor([1.0, 2.0], requires_grad=True), "n": 1.5,
           "s": tg.Size([2, 3])}
    tg.save(obj, tmp_path / "f.pt")
    back = tg.load(str(tmp_path / "f.pt"), weights_only=True)
    for key in ("a", "b", "d", "w"):
        assert back[key].dtype == obj[key].dtype and back[key].shape == obj[key].shape
        assert back[key].tolist() == obj[key].tolist()
    assert back["w"].requires_grad and back["w"].is_leaf and back["c"][0].item() is True
    assert back["s"] == tg.Size([2, 3]) and back["n"] == 1.5


class _Evil:
    def __reduce__(self):
        return (print, ("ran code",))


def test_weights_only_refuses_a_file_that_names_other_code():
    buffer = io.BytesIO()
    tg.save({"x": _Evil()}, buffer)
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        tg.load(buffer, weights_only=True)
