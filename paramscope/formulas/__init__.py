"""Analytic formulas, one per layer kind (see :mod:`.registry`).

Importing this package registers every formula module.  No torch import here.
"""

from paramscope.formulas.registry import (Cost, Counts, Term, cost_of, declared_counts, formula,
                                          formula_params, registered_kinds, rules_for)
from paramscope.formulas import (activation, aten, attention, conv, einsum, elementwise,  # noqa: F401
                                 linear, norm, pool, recurrent, resample, shape_ops)  # (importing registers them)

__all__ = ["Cost", "Counts", "Term", "cost_of", "declared_counts", "formula", "formula_params",
           "registered_kinds", "rules_for"]
