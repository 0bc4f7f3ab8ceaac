"""torch.autograd.functional: vjp, jvp, jacobian, hessian, hvp, vhp.  Being written (issue 18)."""
