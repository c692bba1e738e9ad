"""Small torch modules for catalog layers that torch.nn lacks (Step, MinPool2d, GaussianNoise, ...).

Each lives in its own short module so the Python exporter can copy its source into generated code.
"""
