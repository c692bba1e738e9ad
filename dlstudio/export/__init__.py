"""Exporters: ONNX, standalone PyTorch code, weights, diagrams (each returns a Report)."""
