"""Recurrent layers, as torch.nn's: ``RNN`` (tanh or relu), ``LSTM`` (with ``proj_size``),
``GRU`` -- multi-layer, ``batch_first``, bidirectional, dropout between layers -- and the cells
``RNNCell``, ``LSTMCell``, ``GRUCell``.

The parameters have torch's names (``weight_ih_l0``, ``bias_hh_l1_reverse``...), shapes and
gate order (LSTM: input, forget, cell, output; GRU: reset, update, new), so a torch state dict
loads and gives torch's outputs.  Each time step is a few recorded ops (the input projections
of all steps are one matmul), so gradients, higher derivatives and ``tg.compile`` follow.
Packed sequences are not supported.

>>> import tapegrad as tg
>>> lstm = tg.nn.LSTM(3, 5, num_layers=2, batch_first=True)
>>> out, (h, c) = lstm(tg.zeros(4, 7, 3))
>>> out.shape, h.shape
(tapegrad.Size([4, 7, 5]), tapegrad.Size([2, 4, 5]))
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import dtypes
from ..tensor import Tensor, _wrap, cat, matmul, stack
from . import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _empty(shape: tuple, dtype) -> Tensor:
    np_dtype = dtypes.DEFAULT[0].np if dtype is None else dtypes.to_numpy_dtype(dtype)
    return _wrap(np.empty(shape, dtype=np_dtype))


def _zeros(shape: tuple, like: Tensor) -> Tensor:
    return _wrap(np.zeros(shape, dtype=like._v.dtype))


def _linear(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    lead = tuple(x.shape[:-1])
    if len(lead) > 1:  # (one 2-D product rather than a batch of them)
        x = x.reshape(-1, x.shape[-1])
    out = matmul(x, w.t())
    out = out if b is None else out + b
    return out.reshape(*lead, out.shape[-1]) if len(lead) > 1 else out


def _step(mode: str, xg: Tensor, h: Tensor, c: Tensor | None, w_hh: Tensor,
          b_hh: Tensor | None, w_hr: Tensor | None = None):
    """One time step from the input's share of the gates ``xg`` (x @ W_ih^T + b_ih): the new
    hidden state (and cell state for LSTM)."""
    hg = _linear(h, w_hh, b_hh)
    if mode == "LSTM":
        i, f, g, o = (xg + hg).chunk(4, -1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        if w_hr is not None:
            h = matmul(h, w_hr.t())
        return h, c
    if mode == "GRU":
        xr, xz, xn = xg.chunk(3, -1)
        hr, hz, hn = hg.chunk(3, -1)
        r = (xr + hr).sigmoid()
        z = (xz + hz).sigmoid()
        n = (xn + r * hn).tanh()
        return n + z * (h - n), None  # (1 - z) * n + z * h
    pre = xg + hg
    return (pre.tanh() if mode == "RNN_TANH" else pre.relu()), None


class RNNBase(Module):
    """The shared body of RNN, LSTM and GRU (torch's constructor, checks and parameters)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or \
                isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        for name, value, kind in (("bias", bias, bool), ("batch_first", batch_first, bool),
                                  ("input_size", input_size, int),
                                  ("hidden_size", hidden_size, int)):
            if not isinstance(value, kind):
                raise TypeError(f"{name} should be of type {kind.__name__}, got: "
                                f"{type(value).__name__}")
            if kind is int and value <= 0:
                raise ValueError(f"{name} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                suffix = "_reverse" if direction == 1 else ""
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
                names = []
                for kind, shape in shapes:
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(_empty(shape, dtype)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch's: every weight and bias uniform in +-1/sqrt(hidden_size)
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """A no-op (torch's packs the weights for cuDNN)."""

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Tensor]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # -- forward ---------------------------------------------------------------------------

    def _label(self) -> str:
        return {"LSTM": "LSTM", "GRU": "GRU"}.get(self.mode, "RNN")

    def _check_hidden(self, hx: Tensor, expected: tuple, what: str = "hidden") -> None:
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"Expected {what} size {expected}, got {list(hx.shape)}")

    def _run(self, input: Tensor, h0: Tensor, c0: Tensor | None):
        """input (L, N, in); h0 (layers * directions, N, H_out) -> output, h_n, c_n."""
        directions = 2 if self.bidirectional else 1
        layer_in = input
        h_last, c_last = [], []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                k = layer * directions + direction
                names = self._all_weights[k]
                params = dict(zip([n.rsplit("_l", 1)[0] for n in names],
                                  [getattr(self, n) for n in names], strict=True))
                xg = _linear(layer_in, params["weight_ih"], params.get("bias_ih"))
                h = h0[k]
                c = c0[k] if c0 is not None else None
                steps = xg.unbind(0)
                order = range(len(steps) - 1, -1, -1) if direction else range(len(steps))
                seq = [None] * len(steps)
                for t in order:
                    h, c = _step(self.mode, steps[t], h, c, params["weight_hh"],
                                 params.get("bias_hh"), params.get("weight_hr"))
                    seq[t] = h
                outs.append(stack(seq, 0) if seq else
                            _zeros((0,) + tuple(h.shape), input))
                h_last.append(h)
                if c is not None:
                    c_last.append(c)
            layer_in = outs[0] if directions == 1 else cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        return layer_in, stack(h_last, 0), (stack(c_last, 0) if c_last else None)

    def _forward(self, input: Tensor, hx):
        label = self._label()
        if input.ndim not in (2, 3):
            raise ValueError(f"{label}: Expected input to be 2D or 3D, got {input.ndim}D "
                             + ("tensor instead" if label == "RNN" else "instead"))
        batched = input.ndim == 3
        w = self.weight_ih_l0
        if input.dtype != w.dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({w.dtype}). Convert input: input.to({w.dtype}), or convert "
                             f"model: model.to({input.dtype})")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        directions = 2 if self.bidirectional else 1
        batch = input.shape[1]
        out_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        h_shape = (self.num_layers * directions, batch, out_size)
        c_shape = (self.num_layers * directions, batch, self.hidden_size)
        lstm = self.mode == "LSTM"
        if hx is None:
            h0 = _zeros(h_shape, input)
            c0 = _zeros(c_shape, input) if lstm else None
        else:
            h0, c0 = hx if lstm else (hx, None)
            want = 3 if batched else 2
            if lstm and (h0.ndim != want or c0.ndim != want):
                raise RuntimeError(
                    f"For {'batched 3' if batched else 'unbatched 2'}-D input, hx and cx "
                    f"should also be {want}-D but got ({h0.ndim}-D, {c0.ndim}-D) tensors")
            if not lstm and h0.ndim != want:
                raise RuntimeError(f"For {'batched 3' if batched else 'unbatched 2'}-D input, "
                                   f"hx should also be {want}-D but got {h0.ndim}-D tensor")
            if not batched:
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if lstm else None
            if lstm:
                self._check_hidden(h0, h_shape, "hidden[0]")
                self._check_hidden(c0, c_shape, "hidden[1]")
            else:
                self._check_hidden(h0, h_shape)
        out, h_n, c_n = self._run(input, h0, c0)
        if not batched:
            out = out.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, ((h_n, c_n) if lstm else h_n)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu), stacked
    ``num_layers`` deep; returns (output, h_n)."""

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.__dict__["nonlinearity"] = args[3]
            args = args[:3] + args[4:]
        else:
            self.__dict__["nonlinearity"] = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             "or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input: Tensor, hx: Tensor | None = None):
        return self._forward(input, hx)


class LSTM(RNNBase):
    """LSTM (gates input, forget, cell, output; optional ``proj_size``); returns
    (output, (h_n, c_n))."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        return self._forward(input, hx)


class GRU(RNNBase):
    """GRU (gates reset, update, new; n = tanh(W_in x + b_in + r * (W_hn h + b_hn)));
    returns (output, h_n)."""

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input: Tensor, hx: Tensor | None = None):
        return self._forward(input, hx)


# --------------------------------------------------------------------------- cells


class RNNCellBase(Module):
    """The shared body of the cells: weight_ih (gates * hidden, input), weight_hh, bias_ih,
    bias_hh, uniform in +-1/sqrt(hidden_size)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(_empty((num_chunks * hidden_size, input_size), dtype))
        self.weight_hh = Parameter(_empty((num_chunks * hidden_size, hidden_size), dtype))
        if bias:
            self.bias_ih = Parameter(_empty((num_chunks * hidden_size,), dtype))
            self.bias_hh = Parameter(_empty((num_chunks * hidden_size,), dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = self.__dict__.get("nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def _cell(self, mode: str, input: Tensor, hx, label: str):
        if input.ndim not in (1, 2):
            raise ValueError(f"{label}: Expected input to be 1D or 2D, got {input.ndim}D "
                             "instead")
        lstm = mode == "LSTM"
        for i, state in enumerate(() if hx is None else hx if lstm else (hx,)):
            if state.ndim not in (1, 2):
                what = f"hx[{i}]" if lstm else "hidden"
                raise ValueError(f"{label}: Expected {what} to be 1D or 2D, got {state.ndim}D "
                                 "instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} "
                               f"expected {self.input_size}")
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
        shape = (input.shape[0], self.hidden_size)
        if hx is None:
            h = _zeros(shape, input)
            c = _zeros(shape, input) if lstm else None
        else:
            h, c = hx if lstm else (hx, None)
            if not batched:
                h = h.unsqueeze(0)
                c = c.unsqueeze(0) if lstm else None
            for t in (h, c) if lstm else (h,):
                if tuple(t.shape) != shape:
                    if t.shape[0] != shape[0]:
                        raise RuntimeError(f"Input batch size {shape[0]} doesn't match hidden0 "
                                           f"batch size {t.shape[0]}")
                    raise RuntimeError(f"hidden0 has inconsistent hidden_size: got "
                                       f"{t.shape[1]}, expected {self.hidden_size}")
        xg = _linear(input, self.weight_ih, self.bias_ih)
        h, c = _step(mode, xg, h, c, self.weight_hh, self.bias_hh)
        if not batched:
            h = h.squeeze(0)
            c = c.squeeze(0) if lstm else None
        return (h, c) if lstm else h


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return self._cell(mode, input, hx, "RNNCell")


class LSTMCell(RNNCellBase):
    """One LSTM step: returns (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        return self._cell("LSTM", input, hx, "LSTMCell")


class GRUCell(RNNCellBase):
    """One GRU step: returns h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._cell("GRU", input, hx, "GRUCell")
