"""What a torch.export import says about the model's Python source: which `if` branches the export followed (it
specialises them, so the imported graph holds one branch), and where data-dependent control flow stopped it."""

from __future__ import annotations

import ast
import inspect
import linecache
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

_FRAME_RE = re.compile(r'File "([^"]+)", line (\d+)')


def _if_statements(path: str) -> list[ast.If]:
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []
    return [n for n in ast.walk(tree) if isinstance(n, ast.If)]


def branches_taken(files: set[str], run: Callable[[], Any]) -> list[str]:
    """Run `run` (one eager forward) with line tracing limited to `files` and say, for every `if` statement
    executed there, which branch ran: `model.py:42 if input.is_cuda and self.ngpu > 1: took the else branch`."""
    if not files:
        run()
        return []
    seen: set[tuple[str, int]] = set()

    def local(frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            seen.add((frame.f_code.co_filename, frame.f_lineno))
        return local

    def global_(frame: Any, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_filename in files else None

    old = sys.gettrace()
    sys.settrace(global_)
    try:
        run()
    finally:
        sys.settrace(old)
    notes: list[str] = []
    for path in sorted(files):
        for node in _if_statements(path):
            if (path, node.lineno) not in seen:
                continue
            body = any((path, s.lineno) in seen for s in node.body)
            orelse = any((path, s.lineno) in seen for s in node.orelse)
            cond = ast.unparse(node.test)
            if len(cond) > 60:
                cond = cond[:57] + "..."
            if body:
                taken = "the if branch"
            else:
                taken = "the else branch" if orelse or node.orelse else "no branch (the condition was false)"
            notes.append(f"{Path(path).name}:{node.lineno} `if {cond}:` took {taken}")
    return notes


def user_frame(exc: BaseException, files: set[str]) -> tuple[str, int, str] | None:
    """The deepest place in the model's own files that the exception points at: from its traceback, else from
    the frames torch quotes in its message."""
    found: tuple[str, int] | None = None
    for fr in traceback.extract_tb(exc.__traceback__):
        if fr.filename in files and fr.lineno:
            found = (fr.filename, fr.lineno)
    if found is None:
        for m in _FRAME_RE.finditer(str(exc)):
            if m.group(1) in files or (not files and "site-packages" not in m.group(1)):
                found = (m.group(1), int(m.group(2)))
    if found is None:
        return None
    line = linecache.getline(found[0], found[1]).strip()
    return Path(found[0]).name, found[1], line


def is_data_dependent(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return any(
        k in text
        for k in ("data-dependent", "Data dependent", "GuardOnDataDependentSymNode", "data dependent", "DataDependent")
    )


def first_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).strip().split("\n")[0].split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def source_files_of(module: Any) -> set[str]:
    files = set()
    for m in module.modules():
        cls = type(m)
        if cls.__module__.startswith(("torch", "dlstudio")):
            continue
        try:
            f = inspect.getsourcefile(cls)
        except TypeError:
            continue
        if f:
            files.add(f)
    return files
