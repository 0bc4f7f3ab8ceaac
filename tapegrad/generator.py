"""``tapegrad.Generator``: a random state of its own, as ``torch.Generator``, for the
``generator=`` argument of every random function (``randn``, ``randperm``, ``multinomial``,
``random_split``, ``DataLoader`` ...).  ``tg.default_generator`` is the global state that
``tg.manual_seed`` seeds.

The numbers come from NumPy's PCG64, so a seed gives other numbers than torch's Mersenne
Twister: a program is reproducible with tapegrad, not bit-identical to torch.
"""

from __future__ import annotations

import pickle
import secrets

import numpy as np

from . import creation
from .device import check as _check_device
from .device import device as _device


def _as_seed(seed) -> int:
    seed = int(seed)
    if not -(2 ** 63) <= seed < 2 ** 64:
        raise RuntimeError("Overflow when unpacking long long")
    return seed % 2 ** 64  # (torch takes a negative seed as its two's complement)


class Generator:
    """A random state, as ``torch.Generator``.

    >>> import tapegrad as tg
    >>> g = tg.Generator().manual_seed(42)
    >>> a = tg.randn(3, generator=g); _ = g.manual_seed(42)
    >>> bool((a == tg.randn(3, generator=g)).all())
    True
    """

    def __init__(self, device="cpu") -> None:
        _check_device(device)
        self._set(secrets.randbits(63))

    def _set(self, seed: int) -> None:
        self._seed = seed
        self._rng = np.random.default_rng(seed)

    @property
    def device(self) -> _device:
        return _device("cpu")

    def manual_seed(self, seed) -> Generator:
        """Seed this state; returns the generator (``g = tg.Generator().manual_seed(0)``)."""
        self._set(_as_seed(seed))
        return self

    def seed(self) -> int:
        """Seed this state from the operating system's entropy; returns the seed."""
        seed = secrets.randbits(63)
        self._set(seed)
        return seed

    def initial_seed(self) -> int:
        """The seed this state was last seeded with."""
        return self._seed

    def get_state(self):
        """The state as a uint8 tensor, for ``set_state``."""
        from .recording import _wrap

        blob = pickle.dumps((self._seed, self._rng.bit_generator.state))
        return _wrap(np.frombuffer(blob, np.uint8).copy())

    def set_state(self, new_state) -> Generator:
        """Restore a state ``get_state`` returned."""
        from .tensor import Tensor

        if not isinstance(new_state, Tensor) or np.asarray(new_state._v).dtype != np.uint8:
            raise TypeError("expected a torch.ByteTensor, but got "
                            f"{type(new_state).__name__}")
        seed, state = pickle.loads(np.asarray(new_state._v).tobytes())  # noqa: S301 (our own)
        self._seed = seed
        rng = np.random.default_rng()
        rng.bit_generator.state = state
        self._rng = rng
        return self

    def clone_state(self) -> Generator:
        """A new generator in this one's state."""
        other = Generator()
        other.set_state(self.get_state())
        return other


class _Default(Generator):
    """The global state: the one the random functions draw from without ``generator=``
    (``creation._rng``, which ``manual_seed`` replaces)."""

    def __init__(self) -> None:
        pass

    def _set(self, seed: int) -> None:
        creation._seed = seed
        creation._rng = np.random.default_rng(seed)

    @property
    def _seed(self) -> int:
        return creation._seed

    @_seed.setter
    def _seed(self, seed: int) -> None:
        creation._seed = seed

    @property
    def _rng(self) -> np.random.Generator:
        return creation._rng

    @_rng.setter
    def _rng(self, rng: np.random.Generator) -> None:
        creation._rng = rng


default_generator = _Default()


def draws(generator) -> np.random.Generator:
    """The NumPy generator behind ``generator=`` (None: the global state)."""
    if generator is None:
        return creation._rng
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a tapegrad.Generator, not {type(generator).__name__}")
    return generator._rng


def seed() -> int:
    """Seed the global state from the operating system's entropy, as ``torch.seed``."""
    return default_generator.seed()


def initial_seed() -> int:
    """The global state's last seed, as ``torch.initial_seed``."""
    return default_generator.initial_seed()


def get_rng_state():
    """The global state, as ``torch.get_rng_state``."""
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    """Restore the global state, as ``torch.set_rng_state``."""
    default_generator.set_state(new_state)
