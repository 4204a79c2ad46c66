"""graphonflow: gradient flows on large graphs and their graphon limits.

The package computes homomorphism densities (and their L2 gradients) of small
patterns in weighted graphs, step graphons and continuous graphons, and runs
gradient flows of graph functionals.  Plotting lives in submodules that are
imported on demand; ``import graphonflow`` never imports matplotlib.

Importing graphonflow shortens how long idle OpenMP and OpenBLAS worker threads spin
(unless you set the variables yourself): see :mod:`graphonflow._threads` and docs/flows.md.
"""

from . import _threads  # first: it must run before numpy is imported, where it can
from .patterns import Pattern, as_pattern
from .step import StepGraphon
from .hom import HomWorkspace, hom_density, hom_density_grad

# -- further public names are imported below, one line per module --
from .functionals import Functional, EdgeDensity, HomDensity, Entropy, RateFunction, Custom, ergm
from .flow import flow, FlowResult, Status, SaveAt, ConstantStep, PIDController
from .graphons import Graphon, block_average, coarsen, common_refinement
from .sampling import GraphSample, sample
from .cut import CutNormResult, CutDistanceResult, Delta2Result, InfinityOneNormResult, cut_norm, cut_distance, l2_distance, delta2_distance, infinity_one_norm
from .convergence import ConvergenceStudy, convergence_study
from .study import load_study
from .coerce import Target, as_target
from .noisy import noisy_flow, NoisyFlowResult, mckean_vlasov, mckean_vlasov_particles, McKeanVlasovResult
from .tails import LZBoundary, UpperTailResult, UpperTailRun, lz_boundary, upper_tail
from .multistart import MultistartResult, MultistartRun, multistart, graphon_distance
from .sparse import SparseGraph, SparseCounter, hom_count, inj_count, ind_count, subgraph_count

__version__ = "0.1.0"
