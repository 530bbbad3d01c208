"""Differentiable ops, one file per family; each Function sits right above its wrapper."""
