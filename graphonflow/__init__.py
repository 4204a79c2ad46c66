"""graphonflow: gradient flows on large graphs and their graphon limits.

The package computes homomorphism densities (and their L2 gradients) of small
patterns in weighted graphs, step graphons and continuous graphons, and runs
gradient flows of graph functionals.  Plotting lives in submodules that are
imported on demand; ``import graphonflow`` never imports matplotlib.
"""

from .patterns import Pattern, as_pattern
from .step import StepGraphon
from .hom import HomWorkspace, hom_density, hom_density_grad

# -- further public names are imported below, one line per module --
from .functionals import Functional, EdgeDensity, HomDensity, Entropy, RateFunction, Custom, ergm
from .flow import flow, FlowResult
from .graphons import Graphon, block_average, coarsen, common_refinement
from .sampling import GraphSample, sample
from .cut import CutNormResult, CutDistanceResult, Delta2Result, cut_norm, cut_distance, l2_distance, delta2_distance
from .convergence import ConvergenceStudy, convergence_study

__version__ = "0.1.0"
