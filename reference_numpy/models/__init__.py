"""Whole models built from the NumPy reference layers, each with ``loss(...) -> (loss, grads)``."""
