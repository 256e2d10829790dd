"""Analytic formulas, one per layer kind (see :mod:`.registry`)."""

from paramscope.formulas.registry import Cost, Term, cost_of, formula, registered_kinds

__all__ = ["Cost", "Term", "cost_of", "formula", "registered_kinds"]
