"""Analytic formulas, one per layer kind (see :mod:`.registry`).

Importing this package registers every formula module.  No torch import here.
"""

from paramscope.formulas.registry import Cost, Term, cost_of, formula, formula_params, registered_kinds
from paramscope.formulas import (activation, aten, attention, conv, einsum, elementwise,  # noqa: F401
                                 linear, norm, pool, recurrent, resample, shape_ops)  # (importing registers them)

__all__ = ["Cost", "Term", "cost_of", "formula", "formula_params", "registered_kinds"]
