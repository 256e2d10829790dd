"""Analytic formulas, one per layer kind (see :mod:`.registry`).

Importing this package registers every formula module.  No torch import here.
"""

from paramscope.formulas.registry import Cost, Term, cost_of, formula, registered_kinds
from paramscope.formulas import (activation, conv, elementwise, linear, norm, pool,  # noqa: F401  (registers)
                                 resample, shape_ops)

__all__ = ["Cost", "Term", "cost_of", "formula", "registered_kinds"]
