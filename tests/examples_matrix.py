"""The example projects (examples/*.dlstudio) as test parameters: one test per example, its id the file's stem, so
`pytest -k lenet5` selects every test of that example.

Who covers what (every example is loaded, checked, trained briefly and exported by some test):
- load, check, compile: the originals in tests/test_examples.py, the zoo templates in tests/test_zoo_templates.py;
- brief training: the originals in tests/test_examples.py; the zoo templates in tests/test_zoo_templates.py, the
  generative ones (autoencoder, super-resolution, GAN) in tests/test_zoo_generative.py;
- export, once per example and format: ONNX in tests/test_export_onnx.py, Python in tests/test_export_python.py.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FILES = sorted(EXAMPLES.glob("*.dlstudio"))
ALL = [p.stem for p in FILES]
# the first five examples; the others are the model zoo (examples/zoo.py)
ORIGINAL = ("conv_autoencoder", "lenet5", "lstm_sequence", "mlp_digits", "resnet_mini")
# the zoo templates that tests/test_zoo_generative.py trains (the other templates train in test_zoo_templates.py)
TRAINED_IN_ZOO_GENERATIVE = ("dcgan", "dense_autoencoder", "super_resolution")
# the big networks, whose export (and import back) takes seconds: marked slow
BIG = ("alexnet_small", "dcgan", "mobilenetv2_cifar", "resnet18_cifar")


@functools.cache
def build_module() -> ModuleType:
    """examples/build_examples.py, imported once per process (it imports examples/zoo.py as `zoo`)."""
    spec = importlib.util.spec_from_file_location("build_examples", EXAMPLES / "build_examples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_examples"] = module
    spec.loader.exec_module(module)
    return module


def zoo_names() -> list[str]:
    build_module()
    return sorted(sys.modules["zoo"].ZOO)


def load(name: str):
    """The example project `name` (a dls.Project), read from its file."""
    import dlstudio as dls

    return dls.Project.load(EXAMPLES / f"{name}.dlstudio")


def params(names=None, slow: tuple[str, ...] = ()) -> list:
    """pytest parameters for the examples `names` (all by default), each with its name as id; the ones in `slow`
    are marked slow."""
    return [
        pytest.param(name, id=name, marks=[pytest.mark.slow] if name in slow else [])
        for name in (ALL if names is None else names)
    ]
