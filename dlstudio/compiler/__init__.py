"""Graph -> torch.fx.GraphModule (imports torch)."""

from .build import compile_graph  # noqa: F401
