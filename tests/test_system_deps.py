"""The pre-Qt system library check: ldd parsing, soname -> Debian package, the apt line, the CLI's exit codes.

Nothing here installs anything: ldd, geteuid, which and apt-get are replaced; one test runs the real ldd on the
offscreen plugin (what `make test` needs)."""

from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

import pytest

from dlstudio import system_deps as sd

# ldd on PySide6 6.x's libqxcb.so on a Debian 12 machine without libxcb-icccm4 and libxcb-keysyms1 (abridged)
QT_LIB = "/home/u/dlstudio/.venv/lib/python3.11/site-packages/PySide6/Qt/plugins/platforms/../../lib"
LDD_QXCB = f"""\
\tlinux-vdso.so.1 (0x00007ffd5e1f4000)
\tlibQt6XcbQpa.so.6 => {QT_LIB}/libQt6XcbQpa.so.6 (0x00007f8a1c800000)
\tlibQt6Gui.so.6 => {QT_LIB}/libQt6Gui.so.6 (0x00007f8a1c000000)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f8a1c770000)
\tlibxkbcommon.so.0 => /lib/x86_64-linux-gnu/libxkbcommon.so.0 (0x00007f8a1c728000)
\tlibxkbcommon-x11.so.0 => /lib/x86_64-linux-gnu/libxkbcommon-x11.so.0 (0x00007f8a1c71d000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007f8a1c716000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f8a1c70e000)
\tlibxcb-image.so.0 => /lib/x86_64-linux-gnu/libxcb-image.so.0 (0x00007f8a1c708000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-randr.so.0 => /lib/x86_64-linux-gnu/libxcb-randr.so.0 (0x00007f8a1c6f5000)
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f8a1c683000)
\tlibX11.so.6 => /lib/x86_64-linux-gnu/libX11.so.6 (0x00007f8a1babe000)
\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f8a1b800000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f8a1b41e000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibglib-2.0.so.0 => /lib/x86_64-linux-gnu/libglib-2.0.so.0 (0x00007f8a1b2e6000)
\tlibdbus-1.so.3 => /lib/x86_64-linux-gnu/libdbus-1.so.3 (0x00007f8a1b110000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f8a1c9d0000)
"""
LDD_CLEAN = LDD_QXCB.replace("\tlibxcb-icccm.so.4 => not found", "").replace("\tlibxcb-keysyms.so.1 => not found", "")
APT = ["apt-get", "install", "-y", "--no-install-recommends"]


def test_ldd_output_gives_each_missing_soname_once() -> None:
    assert sd.parse_ldd_missing(LDD_QXCB) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert sd.parse_ldd_missing(LDD_CLEAN) == []
    # several files in one ldd call: each gets a "path:" header line, which is no library
    assert sd.parse_ldd_missing("a.so:\n\tlibEGL.so.1 => not found\nb.so:\n\tlibGL.so.1 => not found\n") == [
        "libEGL.so.1",
        "libGL.so.1",
    ]


def test_missing_xcb_libraries_map_to_their_debian_packages() -> None:
    assert sd.packages_for(sd.parse_ldd_missing(LDD_QXCB)) == (["libxcb-icccm4", "libxcb-keysyms1"], [])
    assert sd.packages_for(["libEGL.so.1", "libGL.so.1", "libfontconfig.so.1", "libdbus-1.so.3"]) == (
        ["libegl1", "libgl1", "libfontconfig1", "libdbus-1-3"],
        [],
    )
    assert sd.packages_for(["libxkbcommon-x11.so.0", "libxcb-cursor.so.0"])[0] == [
        "libxkbcommon-x11-0",
        "libxcb-cursor0",
    ]
    # the table covers every library the xcb plugin links directly (PySide6 6.x)
    for soname in ("libxcb-render-util.so.0", "libxcb-shm.so.0", "libxcb-sync.so.1", "libxcb-xkb.so.1"):
        assert soname in sd.SONAME_PACKAGES


def test_renamed_packages_follow_what_apt_has() -> None:
    glib = ["libglib-2.0.so.0", "libgthread-2.0.so.0"]  # one package, named once
    assert sd.packages_for(glib, {"libglib2.0-0t64"})[0] == ["libglib2.0-0t64"]  # Debian 13, Ubuntu 24.04
    assert sd.packages_for(glib, {"libglib2.0-0"})[0] == ["libglib2.0-0"]  # Debian 12, Ubuntu 22.04
    assert sd.packages_for(glib, None)[0] == ["libglib2.0-0"]  # no package lists: the name t64 packages provide


def test_apt_policy_output_names_packages_with_a_candidate() -> None:
    out = (
        "libglib2.0-0t64:\n  Installed: (none)\n  Candidate: (none)\n  Version table:\n"
        "libglib2.0-0:\n  Installed: 2.74.6-2\n  Candidate: 2.74.6-2+deb12u9\n  Version table:\n"
        " *** 2.74.6-2 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\n"
    )
    assert sd.parse_apt_policy(out) == {"libglib2.0-0"}


def test_unknown_libraries_are_named_with_a_hint() -> None:
    packages, unknown = sd.packages_for(["libfoo.so.3", "libxcb-icccm.so.4", "libQt6XcbQpa.so.6"])
    assert (packages, unknown) == (["libxcb-icccm4"], ["libfoo.so.3", "libQt6XcbQpa.so.6"])
    msg = sd.explain("xcb", ["libfoo.so.3", "libxcb-icccm.so.4", "libQt6XcbQpa.so.6"], packages, unknown)
    assert "`apt-file search libfoo.so.3`" in msg
    assert "libQt6XcbQpa.so.6 comes with PySide6" in msg


def test_apt_command_uses_sudo_only_when_not_root() -> None:
    assert sd.apt_install_command(["libxcb-icccm4"], root=True) == [*APT, "libxcb-icccm4"]
    assert sd.apt_install_command(["libxcb-icccm4"], root=False) == ["sudo", *APT, "libxcb-icccm4"]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A PySide6 folder with plugin files, a scripted ldd, no package lists, and every apt-get call recorded."""
    plugins = tmp_path / "Qt" / "plugins" / "platforms"
    plugins.mkdir(parents=True)
    for name in ("libqxcb.so", "libqoffscreen.so"):
        (plugins / name).write_bytes(b"")

    class Fake:
        ldd = [LDD_QXCB, LDD_CLEAN]  # outputs of successive ldd calls (the last one repeats)
        apt_rc: list[int] = []  # return codes of successive apt-get calls (0 when exhausted)
        apt_calls: list[list[str]] = []
        euid = 1000
        tools = {"ldd", "apt-get", "apt-cache", "sudo"}
        lists = False

    def run_ldd(files):
        assert files[0].parent == plugins
        return Fake.ldd.pop(0) if len(Fake.ldd) > 1 else Fake.ldd[0]

    def apt(args):
        Fake.apt_calls.append(list(args))
        return Fake.apt_rc.pop(0) if Fake.apt_rc else 0

    def no_subprocess(*a, **k):
        raise AssertionError(f"unexpected subprocess: {a}")

    monkeypatch.setattr(sd, "pyside_dir", lambda: tmp_path)
    monkeypatch.setattr(sd, "run_ldd", run_ldd)
    monkeypatch.setattr(sd, "_apt", apt)
    monkeypatch.setattr(sd, "_have_package_lists", lambda: Fake.lists)
    monkeypatch.setattr(sd.os, "geteuid", lambda: Fake.euid)
    monkeypatch.setattr(sd.shutil, "which", lambda name: f"/usr/bin/{name}" if name in Fake.tools else None)
    monkeypatch.setattr(sd.subprocess, "run", no_subprocess)
    monkeypatch.setattr(sd.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    return Fake


def test_cli_exits_0_when_everything_is_found(fake, capsys) -> None:
    fake.ldd = [LDD_CLEAN]
    assert sd.main(["--install"]) == 0
    assert sd.main(["--check", "--platform", "offscreen"]) == 0
    assert fake.apt_calls == []


def test_cli_as_user_prints_the_sudo_line_and_exits_1(fake, capsys) -> None:
    assert sd.main(["--install", "--platform", "xcb"]) == 1
    err = capsys.readouterr().err
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in err
    assert "    sudo apt-get install -y --no-install-recommends libxcb-icccm4 libxcb-keysyms1\n" in err + "\n"
    assert fake.apt_calls == []


def test_cli_as_root_installs_exactly_the_missing_packages(fake, capsys) -> None:
    fake.euid, fake.lists = 0, True
    assert sd.main(["--install"]) == 0
    assert fake.apt_calls == [[*APT, "libxcb-icccm4", "libxcb-keysyms1"]]
    assert "installing system libraries for Qt: libxcb-icccm4 libxcb-keysyms1" in capsys.readouterr().err


def test_cli_as_root_updates_package_lists_when_needed(fake) -> None:
    fake.euid = 0
    fake.lists = False  # a fresh container: no lists, so update first
    assert sd.main(["--install"]) == 0
    assert fake.apt_calls == [["apt-get", "update"], [*APT, "libxcb-icccm4", "libxcb-keysyms1"]]

    fake.ldd, fake.apt_calls, fake.lists = [LDD_QXCB, LDD_CLEAN], [], True
    fake.apt_rc = [100, 0, 0]  # stale lists: the install fails, update, then it works
    assert sd.main(["--install"]) == 0
    assert fake.apt_calls == [[*APT, "libxcb-icccm4", "libxcb-keysyms1"], ["apt-get", "update"]] + [
        [*APT, "libxcb-icccm4", "libxcb-keysyms1"]
    ]


def test_cli_exits_1_when_install_fails_or_is_not_possible(fake, capsys) -> None:
    fake.euid, fake.lists, fake.apt_rc = 0, True, [100, 0, 100]
    assert sd.main(["--install"]) == 1
    assert len(fake.apt_calls) == 3  # install, update, install: then give up
    assert "\n    apt-get install -y --no-install-recommends libxcb-icccm4" in capsys.readouterr().err

    fake.apt_calls, fake.ldd = [], [LDD_QXCB]
    assert sd.main(["--check"]) == 1  # root, but only asked to check
    fake.tools = {"ldd"}  # not Debian: name the packages, no apt line
    assert sd.main(["--install"]) == 1
    assert fake.apt_calls == []
    assert "Debian/Ubuntu names: libxcb-icccm4 libxcb-keysyms1" in capsys.readouterr().err


def test_cli_does_not_install_for_unknown_libraries_only(fake, capsys) -> None:
    fake.euid, fake.ldd = 0, ["\tlibweird.so.7 => not found\n"]
    assert sd.main(["--install"]) == 1
    assert fake.apt_calls == []
    assert "apt-file search libweird.so.7" in capsys.readouterr().err


def test_cli_exits_2_when_it_cannot_check(fake, monkeypatch, capsys) -> None:
    def no_pyside():
        raise sd.PySideNotFound("PySide6 is not installed in this Python")

    monkeypatch.setattr(sd, "pyside_dir", no_pyside)
    assert sd.main([]) == 2
    assert "cannot check Qt's system libraries: PySide6 is not installed" in capsys.readouterr().err


def test_studio_start_checks_only_when_xcb_would_load(fake, monkeypatch) -> None:
    problem = sd.gui_start_problem()
    assert problem is not None and "sudo apt-get install -y --no-install-recommends libxcb-icccm4" in problem
    for platform in ("offscreen", "wayland", "wayland;xcb"):
        monkeypatch.setenv("QT_QPA_PLATFORM", platform)
        assert sd.gui_start_problem() is None
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb:nograb")
    fake.ldd = [LDD_CLEAN]
    assert sd.gui_start_problem() is None


def test_module_imports_neither_qt_nor_torch() -> None:
    tree = ast.parse(Path(sd.__file__).read_text(encoding="utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not names & {"PySide6", "shiboken6", "pyqtgraph", "torch"}


def test_offscreen_plugin_libraries_are_all_found_here() -> None:
    if not sys.platform.startswith("linux") or shutil.which("ldd") is None:
        pytest.skip("the check runs ldd on Linux only")
    try:
        files = sd.files_to_check(sd.pyside_dir(), "offscreen")
    except sd.PySideNotFound as exc:
        pytest.skip(f"no PySide6 wheel plugin to check: {exc}")
    assert sd.parse_ldd_missing(sd.run_ldd(files)) == []
