"""Graph core: the model the studio edits. Imports neither Qt nor torch (stdlib + networkx only)."""
