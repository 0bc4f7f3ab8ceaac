"""PyTorch's autograd tutorial (the Korean walk-through in shared/seed), cell by cell, on tapegrad.

Run:  python examples/autograd_tutorial.py

Every cell is the tutorial's code with ``tg`` in place of ``torch``; it prints what the tutorial
prints (object addresses and random values aside).  The random seed is fixed so that the
vector-Jacobian example doubles ``y`` as many times as in the tutorial (2048x) and so prints the
tutorial's exact gradient.
"""

import tapegrad as tg

tg.manual_seed(10)

# --- Tensor -------------------------------------------------------------------------------------
# Create a tensor and set requires_grad=True to record the operations on it.
x = tg.ones(2, 2, requires_grad=True)
print(x)

# An operation on it ...
y = x + 2
print(y)

# ... gives a result that has a grad_fn, the node that will compute its gradient.
print(y.grad_fn)

# More operations.
z = y * y * 3  # z = 3(x+2)^2
out = z.mean()
print(z, out)

# requires_grad_(...) changes the flag of an existing tensor in place (default: False).
a = tg.randn(2, 2)
a = (a * 3) / (a - 1)
print(a.requires_grad)

a.requires_grad_(True)
print(a.requires_grad)

b = (a * a).sum()
print(b.grad_fn)

# --- Gradient -----------------------------------------------------------------------------------
# out holds a single scalar, so out.backward() means out.backward(tg.tensor(1.)).
print(repr(out))  # the notebook cell just displays `out`

out.backward()

# d(out)/dx: o = 1/4 sum(z_i), z_i = 3(x_i+2)^2, so do/dx_i = 3/2 (x_i+2) = 4.5 at x_i = 1.
print(repr(x))  # the notebook cell just displays `x`
print(x.grad)

# --- vector-Jacobian product ---------------------------------------------------------------------
x = tg.randn(3, requires_grad=True)

y = x * 2
while y.data.norm() < 1000:  # norm -> l2 norm
    y = y * 2

print(y)

# y is not a scalar: backward takes the vector v of the vector-Jacobian product v^T . J.
v = tg.tensor([0.1, 1.0, 0.0001], dtype=tg.float)
y.backward(v)

print(x.grad)

# Stop recording with no_grad ...
print(x.requires_grad)
print((x ** 2).requires_grad)

with tg.no_grad():
    print((x ** 2).requires_grad)

# ... or detach: same content, requires_grad False.
print(x.requires_grad)
y = x.detach()
print(y.requires_grad)
print(x.eq(y).all())
