"""Shape inference, diagnostics, lints and statistics over a ModelGraph (pure Python, no torch, no Qt)."""
