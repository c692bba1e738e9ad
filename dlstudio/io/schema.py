"""Reading project files: parse, migrate, validate, build. Every problem becomes one ProjectFileError."""
from __future__ import annotations

import json
from typing import Any

from ..core.errors import ProjectFileError


def project_from_text(raw: bytes, path: str):
    from ..api import Graph
    from .project import FORMAT_NAME, Project
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectFileError(path, "", f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise ProjectFileError(path, "format", f"not a dlstudio project (expected format {FORMAT_NAME!r})")
    g = Graph()
    try:
        g.load_dict(data)
    except Exception as exc:  # hardened by the schema validation work
        raise ProjectFileError(path, "nodes", str(exc)) from None
    return Project(graph=g, data=data.get("data", {}), training=data.get("training", {}), meta=data.get("meta", {}))
