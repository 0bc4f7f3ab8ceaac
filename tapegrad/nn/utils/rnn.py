"""``tapegrad.nn.utils.rnn``, as torch's: ``pad_sequence`` (``PackedSequence`` is not
supported)."""

from __future__ import annotations

import numpy as np

from ...recording import _as_tensor, _wrap
from ...structural import cat, stack
from ...tensor import Tensor

__all__ = ["pad_sequence"]


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Tensors of different lengths (first dim) stacked into one, padded with
    ``padding_value``, as ``torch.nn.utils.rnn.pad_sequence`` (gradients flow to each).

    >>> import tapegrad as tg
    >>> from tapegrad.nn.utils.rnn import pad_sequence
    >>> pad_sequence([tg.ones(2), tg.ones(1)], batch_first=True)
    tensor([[1., 1.],
            [1., 0.]])
    """
    seqs = [_as_tensor(s) for s in sequences]
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    longest = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        missing = longest - s.shape[0]
        if missing:
            filler = _wrap(np.full((missing,) + tuple(s.shape[1:]), padding_value,
                                   np.asarray(s._v).dtype))
            s = cat([s, filler] if padding_side == "right" else [filler, s], 0)
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)

