"""tapegrad/sampling.py: bernoulli, multinomial, poisson and the in-place fills -- shapes, dtypes
and errors against torch, the draws' distributions by their moments (fixed seeds, bounds of
six standard errors), copy_'s gradient against torch."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg

torch = pytest.importorskip("torch")

N = 200_000


def _within(sample: np.ndarray, mean: float, var: float) -> None:
    """The sample mean is ``mean`` within six standard errors."""
    assert abs(sample.mean() - mean) < 6 * np.sqrt(var / sample.size), (sample.mean(), mean)


def test_draws_follow_manual_seed():
    for draw in (lambda: tg.bernoulli(tg.full((50,), 0.3)),
                 lambda: tg.multinomial(tg.tensor([1.0, 2.0, 3.0]), 2),
                 lambda: tg.poisson(tg.full((10,), 3.0)), lambda: tg.empty(5).uniform_()):
        tg.manual_seed(7)
        first = draw().tolist()
        tg.manual_seed(7)
        assert draw().tolist() == first


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bernoulli_values_dtypes_and_rates(dtype):
    tg.manual_seed(0)
    probs = tg.tensor([0.0, 1.0, 0.25], dtype=getattr(tg, dtype)).expand(N, 3)
    s = tg.bernoulli(probs)
    t = torch.bernoulli(torch.tensor([0.0, 1.0, 0.25], dtype=getattr(torch, dtype)))
    assert s.dtype == getattr(tg, dtype) and str(t.dtype).endswith(dtype)
    v = s.numpy()
    assert (v[:, 0] == 0).all() and (v[:, 1] == 1).all()
    _within(v[:, 2], 0.25, 0.25 * 0.75)
    _within(tg.bernoulli(tg.zeros(N), 0.6).numpy(), 0.6, 0.24)
    _within(tg.empty(N).bernoulli_(0.1).numpy(), 0.1, 0.09)


def test_multinomial_frequencies_rows_and_no_repeats_without_replacement():
    tg.manual_seed(1)
    w = tg.tensor([[1.0, 0.0, 3.0], [0.0, 2.0, 2.0]])
    s = tg.multinomial(w, N, replacement=True)
    assert s.shape == torch.multinomial(torch.tensor(w.tolist()), N, True).shape
    assert s.dtype == tg.int64
    counts = np.stack([np.bincount(row, minlength=3) for row in s.numpy()]) / N
    np.testing.assert_allclose(counts, [[0.25, 0, 0.75], [0, 0.5, 0.5]], atol=6 * 0.5 / N**0.5)
    for _ in range(20):
        row = tg.multinomial(tg.tensor([1.0, 5.0, 0.5, 2.0]), 4).tolist()
        assert sorted(row) == [0, 1, 2, 3]
    # zero weights come last once the others are drawn, as torch's
    assert tg.multinomial(tg.tensor([0.0, 1.0]), 2).tolist() == \
        torch.multinomial(torch.tensor([0.0, 1.0]), 2).tolist() == [1, 0]
    # without replacement the first draw is weighted, as torch's
    firsts = np.array([tg.multinomial(tg.tensor([1.0, 3.0]), 2)[0].item() for _ in range(4000)])
    _within(firsts, 0.75, 0.75 * 0.25)


def test_poisson_and_the_fills_have_their_moments():
    tg.manual_seed(2)
    _within(tg.poisson(tg.full((N,), 3.5)).numpy(), 3.5, 3.5)
    _within(tg.empty(N).uniform_(-2, 4).numpy(), 1.0, 36 / 12)
    _within(tg.empty(N).normal_(0.5, 2.0).numpy(), 0.5, 4.0)
    _within(tg.empty(N).exponential_(4.0).numpy(), 0.25, 1 / 16)
    _within(tg.empty(N).geometric_(0.25).numpy(), 4.0, 0.75 / 0.0625)
    _within(np.log(tg.empty(N).log_normal_(0.3, 0.5).numpy()), 0.3, 0.25)
    cauchy = tg.empty(N).cauchy_(1.0, 2.0).numpy()
    assert abs(np.median(cauchy) - 1.0) < 0.05
    ints = tg.empty(N, dtype=tg.int64).random_(3, 7).numpy()
    assert set(np.unique(ints)) == {3, 4, 5, 6}


@pytest.mark.parametrize("call", [
    lambda lib: lib.multinomial(lib.tensor([1.0, 2.0]), 3),
    lambda lib: lib.multinomial(lib.tensor([1.0, -2.0]), 1),
    lambda lib: lib.multinomial(lib.tensor([0.0, 0.0]), 1),
    lambda lib: lib.multinomial(lib.ones(2, 2, 2), 1),
    lambda lib: lib.bernoulli(lib.tensor([1.5])),
    lambda lib: lib.empty(3).uniform_(2, 1),
    lambda lib: lib.empty(3).normal_(0, -1),
    lambda lib: lib.empty(3).exponential_(-1),
    lambda lib: lib.empty(3).geometric_(1.5),
    lambda lib: lib.zeros(2).copy_(lib.zeros(3)),
    lambda lib: lib.zeros(2, requires_grad=True).uniform_(),
])
def test_errors_are_torch_s(call):
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as mine:
        call(tg)
    # (torch's checks append "  (Could this error message be improved? ...)")
    expected = str(theirs.value).splitlines()[0].split("  (Could this error message")[0]
    assert str(mine.value).splitlines()[0] == expected


def test_copy_passes_the_gradient_to_its_source_and_none_to_the_old_value():
    grads = []
    for lib in (tg, torch):
        x = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
        old = lib.tensor([[5.0, 6.0], [7.0, 8.0]], dtype=lib.float64, requires_grad=True)
        z = old * 1
        z.copy_(x.exp())
        (z * lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64)).sum().backward()
        grads.append((x.grad.tolist(), old.grad.tolist()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-15)
    assert grads[0][1] == grads[1][1] == [[0.0, 0.0], [0.0, 0.0]]
    z = tg.zeros(3, dtype=tg.float32).copy_(tg.tensor([1, 2, 3]))
    assert z.dtype == tg.float32 and z.tolist() == [1.0, 2.0, 3.0]


def test_fills_inside_no_grad_initialise_a_parameter():
    w = tg.nn.Parameter(tg.empty(3, 4))
    version = w._version
    with tg.no_grad():
        w.uniform_(-0.5, 0.5)
    assert w.requires_grad and w.is_leaf and w._version > version
    assert (w.abs() < 0.5).all()


def test_a_generator_is_a_random_state_of_its_own():
    g = tg.Generator().manual_seed(42)
    assert isinstance(g, tg.Generator) and g.initial_seed() == 42 and str(g.device) == "cpu"
    draws = [lambda: tg.randn(3, generator=g), lambda: tg.rand(2, 2, generator=g),
             lambda: tg.randint(0, 9, (4,), generator=g), lambda: tg.randperm(6, generator=g),
             lambda: tg.normal(0.0, 1.0, (3,), generator=g),
             lambda: tg.multinomial(tg.ones(5), 3, generator=g),
             lambda: tg.bernoulli(tg.full((4,), 0.5), generator=g),
             lambda: tg.empty(3).normal_(generator=g),
             lambda: tg.rand_like(tg.ones(2), generator=g)]
    first = [d().tolist() for d in draws]
    g.manual_seed(42)
    tg.manual_seed(0)  # (the global state is another: it does not move g's draws)
    _ = tg.randn(5)
    assert [d().tolist() for d in draws] == first
    state = g.get_state()
    after = tg.randn(4, generator=g).tolist()
    g.set_state(state)
    assert tg.randn(4, generator=g).tolist() == after
    assert g.clone_state().initial_seed() == 42


def test_the_global_state_saves_restores_and_reports_its_seed():
    assert tg.manual_seed(7) is tg.default_generator and tg.initial_seed() == 7
    state = tg.get_rng_state()
    a = tg.rand(3).tolist()
    tg.set_rng_state(state)
    assert tg.rand(3).tolist() == a
    assert tg.seed() == tg.initial_seed()


def test_random_split_and_shuffling_follow_a_generator():
    from tapegrad.utils.data import DataLoader, TensorDataset, random_split

    ds = TensorDataset(tg.arange(20.0))
    splits = [random_split(ds, [0.75, 0.25], generator=tg.Generator().manual_seed(3))
              for _ in range(2)]
    assert splits[0][0].indices == splits[1][0].indices
    orders = [[b[0].tolist() for b in DataLoader(ds, batch_size=6, shuffle=True,
                                                  generator=tg.Generator().manual_seed(5))]
              for _ in range(2)]
    assert orders[0] == orders[1]
