"""Packaging files: the desktop entry and AppStream metainfo pass their validators (when installed), the icon
renders, the PyInstaller spec is valid Python that names the files it bundles."""

from __future__ import annotations

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "packaging"
APP_ID = "io.github.dlstudio.dlstudio"


def test_desktop_entry_fields_and_validator():
    path = PKG / f"{APP_ID}.desktop"
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str  # keys are case sensitive
    cp.read(path, encoding="utf-8")
    entry = cp["Desktop Entry"]
    assert entry["Type"] == "Application" and entry["Exec"].split()[0] == "dlstudio"
    assert entry["Icon"] == APP_ID
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate is not installed (apt-get install desktop-file-utils)")
    res = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "error" not in res.stdout.lower()


def test_metainfo_validates():
    path = PKG / f"{APP_ID}.metainfo.xml"
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    assert root.findtext("id") == APP_ID
    assert root.find("launchable").text == f"{APP_ID}.desktop"
    tool = shutil.which("appstreamcli")
    if tool is None:
        pytest.skip("appstreamcli is not installed (apt-get install appstream)")
    res = subprocess.run([tool, "validate", "--no-net", str(path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_icon_renders(qapp):
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    for path in (PKG / f"{APP_ID}.svg", ROOT / "resources" / "icons" / "dlstudio.svg"):
        r = QSvgRenderer(str(path))
        assert r.isValid(), path
        img = QImage(64, 64, QImage.Format.Format_ARGB32)
        img.fill(0)
        p = QPainter(img)
        r.render(p)
        p.end()
        assert img.pixelColor(32, 32).alpha() > 0  # something was drawn


def test_pyinstaller_spec_is_valid_python():
    text = (PKG / "dlstudio.spec").read_text("utf-8")
    compile(text, "dlstudio.spec", "exec")
    assert "launch.py" in text and "examples" in text and "resources" in text
    compile((PKG / "launch.py").read_text("utf-8"), "launch.py", "exec")


@pytest.mark.parametrize("args, expect", [([], "mlp_digits.dlstudio"), (["examples/lenet5.dlstudio"], "lenet5")])
def test_launch_opens_default_example_or_project(tmp_path, args, expect):
    """`dlstudio` with no argument shows the default example; with a path, that project."""
    import os
    import sys

    if not (ROOT / "examples" / "mlp_digits.dlstudio").exists():
        pytest.skip("examples not built")
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        DLSTUDIO_SMOKE_EXIT_MS="200",
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
    )
    res = subprocess.run(
        [sys.executable, "-m", "dlstudio", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert "dlstudio smoke:" in res.stdout and expect in res.stdout
    assert " 0 layers" not in res.stdout


def test_launch_with_missing_file_fails_clearly(tmp_path):
    import os
    import sys

    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
    )
    res = subprocess.run(
        [sys.executable, "-m", "dlstudio", str(tmp_path / "nope.dlstudio")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "no such project file" in res.stderr
