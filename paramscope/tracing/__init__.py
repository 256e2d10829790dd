"""Tracing: one meta-device forward pass records every layer call (a Graph)."""
