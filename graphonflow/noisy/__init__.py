"""Noisy flows: projected noisy SGD on large matrices and its McKean--Vlasov graphon limit.

* :func:`noisy_flow` -- the finite-n dynamics, A <- P(A - tau DF(A) + s sqrt(tau) Z), one fused
  Numba pass per step with counter-based (Philox) normals;
* :func:`mckean_vlasov` -- the limit: one Fokker--Planck equation per block pair, coupled through
  the mean graphon Gamma(t), by a conservative, positivity-preserving finite-volume scheme;
* :func:`mckean_vlasov_particles` -- the limit by reflected particles, an independent cross-check;
* :func:`noisy_distances` -- finite n against the limit: the certified cut distance between the
  block means and Gamma(t), and the Wasserstein-1 distance between each block pair's entries and
  its law.

See docs/noisy.md.
"""

from .compare import NoisyComparison, NoisyConvergence, blow_up, noisy_convergence, noisy_distances, w1_to_cells
from .limit import McKeanVlasovResult, ParticleResult, mckean_vlasov, mckean_vlasov_particles
from .sgd import EntrywiseNoiseWarning, NoisyFlowResult, noisy_flow

__all__ = ["noisy_flow", "NoisyFlowResult", "EntrywiseNoiseWarning", "mckean_vlasov", "mckean_vlasov_particles",
           "McKeanVlasovResult", "ParticleResult", "noisy_distances", "NoisyComparison", "noisy_convergence", "NoisyConvergence", "blow_up", "w1_to_cells"]
