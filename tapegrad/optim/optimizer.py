"""The optimiser base class: parameter groups, state, ``zero_grad``, ``state_dict``.

A step does not loop over parameters in Python for its arithmetic.  Each group's parameters
that have a gradient are laid end to end (``_Flat``): their values and gradients are gathered
into one float64 vector each, one numba kernel (kernels.py) updates those vectors and the
group's state buffers in a single pass, and the new values are written back into each
parameter's storage.  The per-parameter state tensors torch exposes
(``optimizer.state[p]["exp_avg"]``, ...) are views into the group's flat state buffers, so the
kernel updates them too, and they still read, print and save as torch's do.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor, _storage, _wrap

__all__ = ["Optimizer", "required"]


class _Required:
    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


def _to_tensor(value: Any) -> Any:
    """A state value from a state dict (a tapegrad tensor, or a torch tensor) as a new
    tapegrad tensor; other values as they are."""
    if isinstance(value, Tensor):
        return _wrap(np.array(_storage(value), copy=True))
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        return _wrap(np.array(value.detach().cpu().numpy(), copy=True))
    return value


class _ParamState(dict):
    """One parameter's state.  A change made to it from outside (an entry replaced or removed,
    as by ``opt.state[p]["exp_avg"] = ...``) counts in ``changes``, so the flat layout, whose
    buffers those entries view, is rebuilt from the entries before the next step."""

    __slots__ = ("changes",)

    def __init__(self, changes: list, *args: Any) -> None:
        super().__init__(*args)
        self.changes = changes

    def __reduce__(self):
        return (_ParamState, (self.changes, dict(self)))

    def __setitem__(self, key, value) -> None:
        dict.__setitem__(self, key, value)
        self.changes[0] += 1

    def __delitem__(self, key) -> None:
        dict.__delitem__(self, key)
        self.changes[0] += 1

    def pop(self, *args):
        self.changes[0] += 1
        return dict.pop(self, *args)

    def popitem(self):
        self.changes[0] += 1
        return dict.popitem(self)

    def clear(self) -> None:
        self.changes[0] += 1
        dict.clear(self)

    def update(self, *args, **kwargs) -> None:
        self.changes[0] += 1
        dict.update(self, *args, **kwargs)

    def setdefault(self, key, default=None):
        self.changes[0] += 1
        return dict.setdefault(self, key, default)


class _StateFactory:
    """``defaultdict``'s factory of ``_ParamState``s (a class, so an optimiser pickles)."""

    __slots__ = ("changes",)

    def __init__(self, changes: list) -> None:
        self.changes = changes

    def __reduce__(self):
        return (_StateFactory, (self.changes,))

    def __call__(self) -> _ParamState:
        return _ParamState(self.changes)


class _Stale(Exception):
    """A parameter's shape changed since its layout was made."""


class _Flat:
    """A group's parameters that have a gradient, end to end, with their state buffers.

    ``names`` are the state entries shaped as the parameter; their buffers hold the values of
    ``optimizer.state[p][name]`` (those tensors are views into them).  ``steps`` holds each
    parameter's ``state[p]["step"]`` (0-d views into it); ``scalars[name]`` each parameter's
    other 0-d entry ``name`` (NAdam's ``mu_product``, ASGD's ``eta`` and ``mu``), in the
    default float dtype, as torch keeps them (its ``_get_scalar_dtype``): their values are
    rounded as torch's are."""

    __slots__ = ("params", "key", "bounds", "sizes", "ends", "whole", "total", "bufs", "views",
                 "steps", "step_views", "fresh", "scalar_params", "zero_dim", "state",
                 "changes", "scalars")

    def __init__(self, optimizer: Optimizer, params: list, names: tuple, init: Callable,
                 with_step: bool, copy_first: tuple = (), scalars: tuple = ()) -> None:
        self.params = params
        self.key = [id(p) for p in params]
        sizes = [p._v.size for p in params]
        self.sizes = np.array(sizes, dtype=np.int64)
        ends = np.cumsum(self.sizes)
        self.bounds = list(zip((ends - self.sizes).tolist(), ends.tolist(), strict=True))
        self.total = int(ends[-1]) if len(ends) else 0
        self.ends = ends  # (each parameter a segment of the kernels)
        self.whole = np.array([self.total], dtype=np.int64)  # (the group one segment)
        self.scalar_params = all(s == 1 for s in sizes)
        self.zero_dim = all(p._v.ndim == 0 for p in params)  # (scalar-mlp's 337 parameters)
        state = optimizer.state
        self.bufs = {}
        self.views = []
        # a parameter whose ``copy_first`` entry (SGD's momentum buffer) torch makes from its
        # first gradient: it is bound after that step
        self.fresh = np.zeros(len(params), dtype=bool)
        for name in names:
            buf = np.empty(self.total)
            for i, (p, (a, b)) in enumerate(zip(params, self.bounds, strict=True)):
                old = state[p].get(name) if p in state else None
                if old is None:
                    buf[a:b] = init(name, p)
                    if name in copy_first:
                        self.fresh[i] = True
                else:
                    buf[a:b] = np.asarray(_storage(old), dtype=np.float64).reshape(-1)
            self.bufs[name] = buf
        self.steps = None
        if with_step:
            self.steps = np.array([float(_storage(state[p]["step"]))
                                   if p in state and "step" in state[p] else 0.0
                                   for p in params])
        self.scalars = {}
        if scalars:
            from ..creation import _DEFAULT as dtype  # (read now: set_default_dtype may change it)

            for name in scalars:
                self.scalars[name] = np.array(
                    [float(_storage(state[p][name])) if p in state and name in state[p]
                     else init(name, p) for p in params], dtype=dtype)
        # torch's state tensors become views into the buffers (the same tensor objects when
        # they existed, so references to them stay live); a parameter with nothing to keep
        # (SGD without momentum) gets no state entry, as torch's
        for i, (p, (a, b)) in enumerate(zip(params, self.bounds, strict=True)):
            if not with_step and not names:
                break
            st = state[p]
            shape = p._v.shape
            if with_step:
                _rebind(st, "step", self.steps[i:i + 1].reshape(()))
            for name, values in self.scalars.items():
                _rebind(st, name, values[i:i + 1].reshape(()))
            for name in names:
                if name in copy_first and self.fresh[i] and name not in st:
                    continue  # bound after the first step fills it
                _rebind(st, name, self.bufs[name][a:b].reshape(shape))
        self.state = state
        self.changes = optimizer._changes[0]  # (after the bindings above, which count)

    def bind_fresh(self, names: tuple, state, changes: list) -> None:
        """After a first step: the entries torch creates on it become views too."""
        for i in np.flatnonzero(self.fresh).tolist():
            p, (a, b) = self.params[i], self.bounds[i]
            for name in names:
                if name not in state[p]:
                    _rebind(state[p], name, self.bufs[name][a:b].reshape(p._v.shape))
        self.fresh[:] = False
        self.changes = changes[0]

    def segments(self, values: np.ndarray) -> tuple[np.ndarray, list]:
        """The kernels' segments for per-parameter ``values``: ``(ends, [value, ...])``, the
        whole group as one segment when all parameters agree (the common case)."""
        first = values[0]
        if (values == first).all():
            return self.whole, [first.item()]
        return self.ends, values.tolist()

    def gather_params(self) -> np.ndarray:
        ps = self.params
        try:
            flat = np.array([_storage(p) for p in ps], dtype=np.float64) if self.zero_dim else \
                np.concatenate([_storage(p).reshape(-1) for p in ps]).astype(np.float64,
                                                                              copy=False)
        except ValueError:  # (a 0-d parameter given another shape)
            raise _Stale from None
        if flat.shape != (self.total,):
            raise _Stale
        if not self.scalar_params and any(p._v.size != b - a for p, (a, b) in
                                          zip(ps, self.bounds, strict=True)):
            raise _Stale
        return flat

    def gather_grads(self) -> np.ndarray:
        ps = self.params
        if self.zero_dim:
            return np.array([p._grad._v for p in ps], dtype=np.float64)
        return np.concatenate([p._grad._v.reshape(-1) for p in ps]).astype(np.float64,
                                                                           copy=False)

    def scatter_params(self, flat: np.ndarray) -> None:
        """Write the new values into each parameter's storage (in place, as torch's optimisers
        do under no_grad) and bump each version counter."""
        if self.scalar_params:
            for p, value in zip(self.params, flat.tolist(), strict=True):
                v = p._v
                if v.ndim == 0:
                    v[()] = value
                else:
                    v.reshape(-1)[0] = value
                box = p._vc
                if box is None:
                    p._vc = [1]
                else:
                    box[0] += 1
            return
        for p, (a, b) in zip(self.params, self.bounds, strict=True):
            np.copyto(p._v, flat[a:b].reshape(p._v.shape), casting="unsafe")
            p._version_box()[0] += 1


def _rebind(st: dict, name: str, view: np.ndarray) -> None:
    old = st.get(name)
    if isinstance(old, Tensor) and old._v.shape == view.shape and old._tape is None:
        old._v = view  # (the tensor object the user may hold now reads the buffer)
    else:
        st[name] = _wrap(view)


class Optimizer:
    """Base class of the optimisers, as ``torch.optim.Optimizer``.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> opt = tg.optim.SGD([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([0.8000, 1.6000], requires_grad=True)
    """

    # state entries shaped as the parameter, initial values, and whether a "step" is kept
    _buffers: tuple = ()
    _with_step = True
    _copy_first: tuple = ()  # entries torch sets to the first gradient (SGD's momentum)
    _scalars: tuple = ()  # 0-d state entries besides "step" (see ``_Flat``)

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._changes = [0]
        self.state: defaultdict = defaultdict(_StateFactory(self._changes))
        self.param_groups: list[dict[str, Any]] = []
        self._flat: list[_Flat | None] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got tapegrad.Tensor")
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self) -> dict:
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._flat = [None] * len(self.param_groups)
        self._changes = [0]
        old = self.state
        self.state = defaultdict(_StateFactory(self._changes))
        for p, v in old.items():
            self.state[p] = _ParamState(self._changes, v)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (the others from the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        names = [p[0] for p in param_group["params"] if isinstance(p, tuple)]
        param_group["params"] = [p[1] if isinstance(p, tuple) else p
                                 for p in param_group["params"]]
        if names:
            if len(names) != len(param_group["params"]):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + f"{type(p).__module__}.{type(p).__qualname__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        params = param_group["params"]
        if len(params) != len(set(params)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen: set = set()
        for group in self.param_groups:
            seen.update(group["params"])
        if not seen.isdisjoint(set(params)):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)
        self._flat.append(None)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients: to None (the default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is not None:
                    if set_to_none:
                        p._grad = None
                    else:
                        p._grad.detach_()
                        p._grad.zero_()

    def step(self, closure: Callable | None = None):
        """One update of every parameter that has a gradient; ``closure`` (optional) is
        called first, with grad mode on, and its loss returned."""
        loss = None
        if closure is not None:
            from ..grad_mode import enable_grad

            with enable_grad():
                loss = closure()
        for i, group in enumerate(self.param_groups):
            flat = self._flat_for(i, group)
            if flat is None:
                continue
            try:
                self._update(group, flat)
            except _Stale:
                self._flat[i] = None
                flat = self._flat_for(i, group)
                self._update(group, flat)
            if flat.fresh.any():
                flat.bind_fresh(self._state_names(group), self.state, self._changes)
        return loss

    # -- the flat layout -------------------------------------------------------------------

    def _state_names(self, group: dict) -> tuple:
        return self._buffers

    def _init_value(self, group: dict, name: str, p: Tensor) -> float:
        return 0.0

    def _flat_for(self, index: int, group: dict) -> _Flat | None:
        params = [p for p in group["params"] if p._grad is not None]
        if not params:
            return None
        flat = self._flat[index]
        names = self._state_names(group)
        if flat is not None and flat.changes == self._changes[0] and \
                flat.state is self.state and tuple(flat.bufs) == names and \
                len(flat.params) == len(params) and flat.key == [id(p) for p in params]:
            return flat
        flat = self._flat[index] = _Flat(self, params, names,
                                         lambda name, p: self._init_value(group, name, p),
                                         self._with_step, self._copy_first, self._scalars)
        return flat

    def _update(self, group: dict, flat: _Flat) -> None:
        raise NotImplementedError

    def _steps(self, flat: _Flat) -> tuple[np.ndarray, list[float]]:
        """Advance each parameter's step; returns the kernels' segments and each one's step
        (see ``_Flat.segments``)."""
        steps = flat.steps
        steps += 1.0
        return flat.segments(steps)

    # -- state dict ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``, the
        parameters numbered in group order, as torch's."""
        mapping: dict[int, int] = {}
        index = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                if id(p) not in mapping:
                    mapping[id(p)] = index
                    index += 1
                ids.append(mapping[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {mapping[id(p)]: v for p, v in self.state.items() if id(p) in mapping}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict made by ``state_dict`` (tapegrad's or torch's): state tensors are
        copied (a torch tensor is converted)."""
        groups = self.param_groups
        saved = state_dict["param_groups"]
        if len(groups) != len(saved):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved, strict=True)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = {}
        for g, s in zip(groups, saved, strict=True):
            for old, p in zip(s["params"], g["params"], strict=True):
                id_map[old] = p
        state: defaultdict = defaultdict(_StateFactory(self._changes))
        for k, v in state_dict["state"].items():
            if k in id_map:
                p = id_map[k]
                state[p] = _ParamState(self._changes, {name: _to_tensor(value)
                                                       for name, value in v.items()})
            else:
                state[k] = v
        new_groups = []
        for g, s in zip(groups, saved, strict=True):
            new = {k: v for k, v in s.items() if k != "params"}
            new["params"] = g["params"]
            new_groups.append(new)
        self.state = state
        self.param_groups = new_groups
        self._flat = [None] * len(new_groups)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)
