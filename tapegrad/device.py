"""``tg.device``: torch's device object for the one device tapegrad runs on, the CPU.

Code written for torch passes ``device=`` around (``tg.zeros(3, device=x.device)``); it runs
unchanged as long as the device is the CPU, and any other device is refused with a clear error.
"""

from __future__ import annotations

from typing import Any


class device:  # noqa: N801 -- torch's name
    """``tg.device("cpu")``, printed as torch prints it.

    >>> import tapegrad as tg
    >>> tg.device("cpu"), tg.ones(2).device
    (device(type='cpu'), device(type='cpu'))
    """

    __slots__ = ("type", "index")

    def __init__(self, type: Any = "cpu", index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device() expects a string such as 'cpu', got {type!r}")
        kind, _, number = type.partition(":")
        if number:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was "
                                   f"passed explicitly: {type}")
            index = int(number)
        self.type, self.index = kind, index

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def check(where: Any) -> None:
    """Accept ``None``, ``"cpu"``, ``"cpu:0"`` or a CPU ``device``; refuse any other."""
    if where is None or where is CPU or where == "cpu":
        return
    if device(where).type != "cpu":
        raise RuntimeError(f"tapegrad runs on the CPU only: cannot place a tensor on '{where}'")
