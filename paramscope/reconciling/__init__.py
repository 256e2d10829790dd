"""Reconciling: each tool's figures against its prediction, and the Report they fill."""
