"""Importers: ONNX models and PyTorch modules become editable dlstudio graphs with their weights."""
