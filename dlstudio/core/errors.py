"""Typed exceptions. Every message names what to fix (node, port, parameter, file)."""

from __future__ import annotations


class DlstudioError(Exception):
    """Base of every error dlstudio raises on purpose."""


class DlstudioWarning(UserWarning):
    """Something dlstudio went on without, which the user asked for: a setting a run cannot apply (mixed
    precision off CUDA, supervised-only settings in a generative run). The message names the setting to change.
    The test suite turns these warnings into errors."""


class GraphError(DlstudioError):
    """An edit that cannot be applied: unknown node, port or edge, duplicate id."""


class UnknownLayerError(DlstudioError):
    """A node type that no LayerSpec registers."""

    def __init__(self, type_name: str, suggestion: str | None = None) -> None:
        hint = f" Did you mean {suggestion!r}?" if suggestion else ""
        super().__init__(f"Unknown layer type {type_name!r}.{hint}")
        self.type_name = type_name


class ParamError(DlstudioError):
    """A parameter value outside its kind, range or choices."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.reason = message


class ShapeError(DlstudioError):
    """Raised by a shape rule when the incoming tensors do not fit the layer.

    `port` names the input port at fault, `param` the parameter to change, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        port: str | None = None,
        param: str | None = None,
        expected: object = None,
        got: object = None,
    ) -> None:
        super().__init__(message)
        self.port = port
        self.param = param
        self.expected = expected
        self.got = got


class ProjectFileError(DlstudioError):
    """A project file that cannot be used: names the file, the JSON path and the reason."""

    def __init__(self, path: str, json_path: str, reason: str) -> None:
        where = f" at {json_path}" if json_path else ""
        super().__init__(f"{path}{where}: {reason}")
        self.path = path
        self.json_path = json_path
        self.reason = reason


class CompileError(DlstudioError):
    """The graph cannot be compiled into a torch module (names the node)."""

    def __init__(self, message: str, node_id: str | None = None) -> None:
        super().__init__(message)
        self.node_id = node_id


class DataError(DlstudioError):
    """Data that cannot be used for training: names the file, line, column or dataset option to fix."""


class TrainingConfigError(DlstudioError):
    """An invalid training or data setting: names the field (e.g. `training.loss`) and the allowed values."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class BindingError(DlstudioError):
    """The data does not fit the graph: names the Input/Output node and what to change."""

    def __init__(self, message: str, node_id: str | None = None) -> None:
        super().__init__(message)
        self.node_id = node_id


class ExportError(DlstudioError):
    """An export that failed or did not pass its numerical check (names the output, file or node)."""


class ModelImportError(DlstudioError):
    """A model file (ONNX, Python module) that cannot become a dlstudio graph; lists every unsupported part."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class WeightsError(DlstudioError):
    """Weights that do not fit a graph, or a weights file that cannot be read: names the file, the node
    (label and id), the tensor and both shapes."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])
