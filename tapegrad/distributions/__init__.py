"""``tapegrad.distributions``: the commonly used part of ``torch.distributions``, built from
recorded tapegrad ops so densities, entropies, KL divergences and reparameterised samples
are differentiable w.r.t. the parameters.

>>> import tapegrad as tg
>>> D = tg.distributions
>>> D.kl_divergence(D.Normal(0.0, 1.0), D.Normal(0.0, 2.0))
tensor(0.3181)
"""

from . import constraints
from .continuous import Cauchy, Exponential, HalfNormal, Laplace, LogNormal, Normal, Uniform
from .discrete import Bernoulli, Categorical, Geometric, OneHotCategorical
from .distribution import Distribution
from .kl import kl_divergence, register_kl
from .multivariate import Independent, MultivariateNormal

__all__ = ["Bernoulli", "Categorical", "Cauchy", "Distribution", "Exponential", "Geometric",
           "HalfNormal", "Independent", "Laplace", "LogNormal", "MultivariateNormal", "Normal",
           "OneHotCategorical", "Uniform", "constraints", "kl_divergence", "register_kl"]
