"""dlstudio: a visual deep-learning studio on PyTorch.

    import dlstudio as dls
    g = dls.Graph(); x = g.input("x", shape=(4,)); g.output("y", g.add("Linear", x, out_features=3))
    report = dls.check(g); model = dls.compile(g)

Importing dlstudio imports neither torch nor Qt; those load when a function needs them.
"""

from __future__ import annotations

from typing import Any

from .api import (  # noqa: F401,A004
    Graph,
    Ref,
    check,
    compile,
    diff,
    export_onnx,
    export_python,
    import_onnx,
    import_torch,
    save_import,
)
from .core.errors import (  # noqa: F401
    CompileError,
    DlstudioError,
    GraphError,
    ParamError,
    ProjectFileError,
    ShapeError,
    UnknownLayerError,
)

UNKNOWN_VERSION = "0+unknown"


def _version() -> str:
    """The installed distribution's version: pyproject.toml `[project] version` is the one place it is written.

    A source tree that was never installed has no metadata; `pip install -e .` gives it some."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dlstudio")
    except PackageNotFoundError:
        return UNKNOWN_VERSION


def __getattr__(name: str) -> Any:
    # Lazy: the project module is light and the version lookup reads package metadata; keep the top-level
    # import free of that work.
    if name == "Project":
        from .io.project import Project

        return Project
    if name == "__version__":
        globals()["__version__"] = value = _version()  # looked up once
        return value
    raise AttributeError(name)
