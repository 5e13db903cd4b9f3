"""nndl-lab: the numpy engine of the book on optimizing and regularizing fully connected nets.

Modules follow the homework's layout (cs231n assignment 2 / ECE C147):
``layers``, ``layer_utils``, ``fc_net``, ``optim``, ``solver``,
``gradient_check``, ``data``, ``experiments`` and ``checks``.
"""

from .fc_net import FullyConnectedNet
from .solver import Solver

__all__ = ["FullyConnectedNet", "Solver", "__version__"]
__version__ = "0.1.0"
