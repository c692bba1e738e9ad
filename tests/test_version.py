"""The version is written once, in pyproject.toml; everything else reads it from the installed metadata."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import pytest

import dlstudio
from dlstudio.cli import run_cli

ROOT = Path(__file__).resolve().parents[1]


def pyproject_version() -> str:
    """`[project] version` (read with a pattern: tomllib is Python 3.11+, dlstudio supports 3.10)."""
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    project = text.split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    found = re.search(r'^version = "([^"]+)"$', project, re.M)
    assert found is not None, "pyproject.toml [project] has no version"
    return found.group(1)


def test_version_comes_from_pyproject() -> None:
    assert dlstudio.__version__ == importlib.metadata.version("dlstudio") == pyproject_version(), (
        "the installed metadata is stale: run `pip install -e .` after changing pyproject.toml"
    )


def test_no_other_hard_coded_version() -> None:
    literal = re.compile(r"""["']""" + re.escape(pyproject_version()) + r"""["']""")
    found = [
        str(p.relative_to(ROOT)) for p in (ROOT / "dlstudio").rglob("*.py") if literal.search(p.read_text("utf-8"))
    ]
    assert found == [], f"read the version from dlstudio.__version__ instead: {found}"


@pytest.mark.slow
def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run_cli(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"dlstudio {pyproject_version()}"
    out = subprocess.run(
        [sys.executable, "-m", "dlstudio", "--version"], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == f"dlstudio {pyproject_version()}"


def test_without_package_metadata_the_version_says_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert dlstudio._version() == dlstudio.UNKNOWN_VERSION == "0+unknown"


def test_a_release_has_its_changelog_and_appstream_entries() -> None:
    """Release notes are history, not a second source: a final version must have its entries (dev builds need not)."""
    version = pyproject_version()
    if not re.fullmatch(r"\d+(\.\d+)*", version):
        pytest.skip(f"{version} is not a final release")
    assert f"## [{version}]" in (ROOT / "CHANGELOG.md").read_text("utf-8")
    metainfo = (ROOT / "packaging" / "io.github.dlstudio.dlstudio.metainfo.xml").read_text("utf-8")
    first = re.search(r'<release version="([^"]+)"', metainfo)
    assert first is not None and first.group(1) == version, "add a <release> entry at the top of <releases>"
