"""Builtin layer specs, one module per category. Each module registers its specs on import."""
