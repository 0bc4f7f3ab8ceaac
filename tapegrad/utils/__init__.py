"""``tapegrad.utils``, as ``torch.utils``: ``data`` (datasets and ``DataLoader``)."""

from . import data

__all__ = ["data"]
