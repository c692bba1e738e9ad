"""Check, before Qt loads, that Qt's platform plugin finds its system libraries; name (or install) what is missing.

PySide6's wheels bundle Qt but not the X11/GL/font libraries it links against. A machine without them aborts
with Qt's "Could not load the Qt platform plugin" (which may name a library that is present). `ldd` on the plugin and
the Qt libraries lists every "=> not found" library; a table maps each to its Debian package.

    python -m dlstudio.system_deps [--platform xcb|offscreen] [--install|--check]

exits 0 when nothing is missing (or everything missing was installed), 1 when libraries are missing, 2 when the
check cannot run. This module imports neither Qt nor torch: it runs before either loads.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

PLATFORMS = ("xcb", "offscreen")
APT_INSTALL = ["apt-get", "install", "-y", "--no-install-recommends"]

# soname -> Debian package. A tuple lists alternatives newest name first: Debian 13 and Ubuntu 24.04 renamed some
# packages for 64-bit time_t (libglib2.0-0 -> libglib2.0-0t64); the one apt knows is chosen (see choose_package).
# Covers what the xcb and offscreen plugins, QtGui/QtWidgets/QtOpenGL/QtSvg and their dependencies link against;
# checked against Debian 12/13 and Ubuntu 22.04/24.04 (the names are the same there unless a tuple says otherwise).
GLIB = ("libglib2.0-0t64", "libglib2.0-0")
SONAME_PACKAGES: dict[str, str | tuple[str, ...]] = {
    # X11 / xcb: the xcb plugin and libQt6XcbQpa
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libXau.so.6": "libxau6",
    "libXdmcp.so.6": "libxdmcp6",
    "libXext.so.6": "libxext6",
    "libXi.so.6": "libxi6",
    "libXrender.so.1": "libxrender1",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    # OpenGL / EGL (glvnd) and Wayland: QtGui links libGL and libEGL even when painting in software
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libEGL.so.1": "libegl1",
    "libOpenGL.so.0": "libopengl0",
    "libgbm.so.1": "libgbm1",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libwayland-egl.so.1": "libwayland-egl1",
    # fonts and images
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libharfbuzz.so.0": "libharfbuzz0b",
    "libpng16.so.16": ("libpng16-16t64", "libpng16-16"),
    "libexpat.so.1": "libexpat1",
    "libbrotlidec.so.1": "libbrotli1",
    "libbrotlicommon.so.1": "libbrotli1",
    "libz.so.1": "zlib1g",
    "libzstd.so.1": "libzstd1",
    # GLib (QtCore's event loop) and what it links
    "libglib-2.0.so.0": GLIB,
    "libgthread-2.0.so.0": GLIB,
    "libgobject-2.0.so.0": GLIB,
    "libgio-2.0.so.0": GLIB,
    "libgmodule-2.0.so.0": GLIB,
    "libpcre2-8.so.0": "libpcre2-8-0",
    "libffi.so.8": "libffi8",
    "libmount.so.1": "libmount1",
    "libblkid.so.1": "libblkid1",
    "libselinux.so.1": "libselinux1",
    # D-Bus (QtDBus, loaded by the xcb plugin) and what it links
    "libdbus-1.so.3": "libdbus-1-3",
    "libsystemd.so.0": "libsystemd0",
    "libcap.so.2": "libcap2",
    "libgcrypt.so.20": "libgcrypt20",
    "libgpg-error.so.0": "libgpg-error0",
    "liblzma.so.5": "liblzma5",
    "liblz4.so.1": "liblz4-1",
    "libbsd.so.0": "libbsd0",
    "libmd.so.0": "libmd0",
    "libgssapi_krb5.so.2": "libgssapi-krb5-2",
    # C++ runtime
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
}
# Libraries that come inside the PySide6 wheel: missing means a broken install, not a missing Debian package.
BUNDLED_PREFIXES = ("libQt6", "libpyside6", "libshiboken6", "libicu")

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found\s*$", re.MULTILINE)


class SystemDepsError(Exception):
    """The check could not run (no PySide6, no plugin, no ldd): distinct from "libraries are missing"."""


class PySideNotFound(SystemDepsError):
    pass


class LddFailed(SystemDepsError):
    pass


def pyside_dir() -> Path:
    """PySide6's folder, found without importing it (importing its Qt modules is what fails)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.origin:
        raise PySideNotFound("PySide6 is not installed in this Python (`make venv` installs it)")
    return Path(spec.origin).parent


def files_to_check(pyside: Path, platform: str) -> list[Path]:
    """The platform plugin plus the Qt libraries and PySide6 modules the studio loads (ldd follows their
    dependencies transitively, so libQt6XcbQpa and libQt6DBus under the xcb plugin are covered too)."""
    if platform not in PLATFORMS:
        raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}, not {platform!r}")
    plugin = pyside / "Qt" / "plugins" / "platforms" / f"libq{platform}.so"
    if not plugin.is_file():
        raise PySideNotFound(f"Qt's {platform} platform plugin is not where PySide6's wheel puts it: {plugin}")
    libs = [pyside / "Qt" / "lib" / f"libQt6{m}.so.6" for m in ("Core", "Gui", "Widgets")]
    modules = [pyside / f"Qt{m}.abi3.so" for m in ("Core", "Gui", "Widgets", "Svg")]
    return [plugin] + [p for p in libs + modules if p.is_file()]


def parse_ldd_missing(output: str) -> list[str]:
    """The sonames that ldd reports as "=> not found", each once, in first-seen order."""
    return list(dict.fromkeys(_NOT_FOUND.findall(output)))


def run_ldd(files: Sequence[Path]) -> str:
    ldd = shutil.which("ldd")
    if ldd is None:
        raise LddFailed("ldd is not installed (Debian: package libc-bin), so Qt's libraries cannot be checked")
    # ldd exits 1 when one file is unreadable but still lists the others; only empty output is a failure
    out = subprocess.run([ldd, *map(str, files)], capture_output=True, text=True, timeout=60)
    if not out.stdout.strip():
        raise LddFailed(f"ldd failed on {files[0]}: {out.stderr.strip() or f'exit code {out.returncode}'}")
    return out.stdout


def missing_libraries(platform: str) -> list[str]:
    """Sonames that Qt with this platform plugin needs and the dynamic loader cannot find (empty: all found)."""
    return parse_ldd_missing(run_ldd(files_to_check(pyside_dir(), platform)))


def choose_package(entry: str | tuple[str, ...], available: Collection[str] | None = None) -> str:
    """One package for a table entry: the first alternative apt has a candidate for. Without package lists,
    the old name: on 64-bit systems each t64 package also provides its old name, so apt resolves it anyway."""
    if isinstance(entry, str):
        return entry
    if available is not None:
        for name in entry:
            if name in available:
                return name
    return entry[-1]


def packages_for(sonames: Iterable[str], available: Collection[str] | None = None) -> tuple[list[str], list[str]]:
    """(Debian packages providing the sonames, sonames not in the table), each without duplicates."""
    packages: dict[str, None] = {}
    unknown: list[str] = []
    for soname in sonames:
        entry = SONAME_PACKAGES.get(soname)
        if entry is None:
            unknown.append(soname)
        else:
            packages[choose_package(entry, available)] = None
    return list(packages), unknown


def apt_install_command(packages: Sequence[str], root: bool) -> list[str]:
    """The apt-get line installing the packages; through sudo when not root."""
    return ([] if root else ["sudo"]) + APT_INSTALL + list(packages)


def parse_apt_policy(output: str) -> set[str]:
    """The packages that `apt-cache policy NAME...` shows with an install candidate (not "(none)")."""
    have: set[str] = set()
    name = None
    for line in output.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            name = line.rstrip()[:-1].split(":")[0]
        elif name and line.strip().startswith("Candidate:") and line.split(":", 1)[1].strip() != "(none)":
            have.add(name)
    return have


def apt_available(sonames: Iterable[str]) -> set[str] | None:
    """Which alternative package names for these sonames apt can install (one apt-cache call, and only when a
    soname has alternatives); None when that cannot be known (no apt-cache or no package lists)."""
    names = [n for s in sonames if isinstance(e := SONAME_PACKAGES.get(s), tuple) for n in e]
    if not names or shutil.which("apt-cache") is None or not _have_package_lists():
        return None
    out = subprocess.run(["apt-cache", "policy", *dict.fromkeys(names)], capture_output=True, text=True, timeout=120)
    return parse_apt_policy(out.stdout)


def _have_package_lists() -> bool:
    return any(Path("/var/lib/apt/lists").glob("*_Packages*"))


def _apt(args: list[str]) -> int:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")  # no debconf questions mid-`make run`
    return subprocess.run(args, env=env).returncode


def install(sonames: Sequence[str]) -> bool:
    """As root with apt-get: install the packages providing the sonames, running apt-get update first when
    there are no package lists, or once after a failed install. True when apt-get succeeded."""
    updated = not _have_package_lists() and _apt(["apt-get", "update"]) == 0
    while True:
        packages, _ = packages_for(sonames, apt_available(sonames))
        print(f"dlstudio: installing system libraries for Qt: {' '.join(packages)}", file=sys.stderr)
        if _apt(apt_install_command(packages, root=True)) == 0:
            return True
        if updated:
            return False
        print("dlstudio: apt-get install failed; running apt-get update and trying again", file=sys.stderr)
        if _apt(["apt-get", "update"]) != 0:
            return False
        updated = True


def explain(
    platform: str, missing: Sequence[str], packages: Sequence[str], unknown: Sequence[str], root: bool = False
) -> str:
    """The message for a user: what is missing, the one command that fixes it, and what has no known package."""
    lines = [f"dlstudio: Qt's {platform} platform plugin cannot load: missing system libraries {', '.join(missing)}."]
    if packages:
        if shutil.which("apt-get"):
            lines.append("Install them with:")
            lines.append("    " + shlex.join(apt_install_command(packages, root)))
        else:
            lines.append(f"Install the packages that provide them (Debian/Ubuntu names: {' '.join(packages)}).")
    for soname in unknown:
        if soname.startswith(BUNDLED_PREFIXES):
            lines.append(
                f"{soname} comes with PySide6: reinstall it (pip install --force-reinstall PySide6-Essentials)."
            )
        else:
            lines.append(f"{soname}: no package known to dlstudio; find one with `apt-file search {soname}`.")
    return "\n".join(lines)


def check(platform: str, fix: bool) -> int:
    """0 when the plugin's libraries are all found (after installing them, with fix as root), else 1."""
    missing = missing_libraries(platform)
    if not missing:
        return 0
    root = os.geteuid() == 0
    packages, unknown = packages_for(missing, apt_available(missing))
    if fix and packages and root and shutil.which("apt-get"):
        if install(missing):
            missing = missing_libraries(platform)
            if not missing:
                return 0
            packages, unknown = packages_for(missing, apt_available(missing))
    print(explain(platform, missing, packages, unknown, root), file=sys.stderr)
    return 1


def gui_start_problem() -> str | None:
    """At studio start: the message to print instead of Qt's abort when the xcb plugin would be used and cannot
    load; None when all is well or the check does not apply (other platforms, not Linux, no bundled plugin)."""
    if not sys.platform.startswith("linux"):
        return None
    # Qt takes the first plugin of QT_QPA_PLATFORM ("xcb", "xcb:opts", "wayland;xcb"), else wayland in a
    # Wayland session, else xcb
    requested = os.environ.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    wayland_session = os.environ.get("XDG_SESSION_TYPE") == "wayland" and bool(os.environ.get("WAYLAND_DISPLAY"))
    if (requested or ("wayland" if wayland_session else "xcb")) != "xcb":
        return None
    try:
        missing = missing_libraries("xcb")
        if not missing:
            return None
        packages, unknown = packages_for(missing, apt_available(missing))
    except (SystemDepsError, OSError, subprocess.SubprocessError):
        return None  # the check is a courtesy: when it cannot run, Qt still reports its own error
    return explain("xcb", missing, packages, unknown, root=os.geteuid() == 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dlstudio.system_deps", description=__doc__.split("\n\n")[0])
    env_platform = os.environ.get("QT_QPA_PLATFORM", "")
    parser.add_argument("--platform", choices=PLATFORMS, default=env_platform if env_platform in PLATFORMS else "xcb")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--install", action="store_true", help="as root with apt-get: install what is missing")
    mode.add_argument("--check", action="store_true", help="only report (the default)")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        return 0  # wheels for other systems bundle or need nothing from a package manager
    try:
        return check(args.platform, fix=args.install)
    except (SystemDepsError, OSError, subprocess.SubprocessError) as exc:
        print(f"dlstudio: cannot check Qt's system libraries: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
