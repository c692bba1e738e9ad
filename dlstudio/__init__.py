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
    export_onnx,
    export_python,
    import_onnx,
    import_torch,
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

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy: the project module is light, but keep the top-level import free of optional work.
    if name == "Project":
        from .io.project import Project

        return Project
    raise AttributeError(name)
