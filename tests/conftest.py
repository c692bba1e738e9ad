"""Shared test setup: Qt runs headless; dlstudio's own warnings are errors (pyproject filterwarnings); every test
that drives Qt is marked `gui`; a stuck test always ends (pytest-timeout, plus a C-level backstop below)."""

from __future__ import annotations

import faulthandler
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
# the studio runs its training process at nice 5 so the window wins a contested core; on a machine loaded by other
# work that starves the runs the tests start, which then only measure the load
os.environ.setdefault("DLSTUDIO_TRAIN_NICE", "0")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


QT_FIXTURES = {"qtbot", "qapp"}  # fixturenames holds every fixture a test uses, directly or not


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`gui` for every test that drives Qt (a pytest-qt fixture, or a test_ui_* module), so `-m "not gui"` runs
    the headless suite."""
    for item in items:
        uses_qt = QT_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if uses_qt or item.path.name.startswith("test_ui_"):
            item.add_marker(pytest.mark.gui)


# --- time limits ---------------------------------------------------------------------------------------------
# pytest-timeout reads the limit (pyproject `timeout`, or a test's `@pytest.mark.timeout`); faulthandler enforces it.
# Its watchdog is a C thread: it fires even while the main thread sits inside Qt's event loop, where a SIGALRM
# handler would never run, and while another thread holds the interpreter lock, where pytest-timeout's own Python
# watchdog thread could not run. It writes every thread's stack to a file and ends the process; pytest-xdist
# (make test, make test-fast) reports the test as failed, starts a new worker, and the summary shows the stacks.
TIMEOUT_DIR_ENV = "DLSTUDIO_TEST_TIMEOUT_DIR"


CACHE_ENV = "DLSTUDIO_CACHE"
_made_cache: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _made_cache
    if hasattr(config, "workerinput"):
        return  # xdist workers inherit both folders from the controller's environment
    import tempfile

    if TIMEOUT_DIR_ENV not in os.environ:
        os.environ[TIMEOUT_DIR_ENV] = tempfile.mkdtemp(prefix="dlstudio-test-timeouts-")
    if CACHE_ENV not in os.environ:
        # the prepared-data cache of the built-in datasets goes to a folder of this run, not the user's ~/.cache
        _made_cache = os.environ[CACHE_ENV] = tempfile.mkdtemp(prefix="dlstudio-test-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _made_cache and not hasattr(config, "workerinput"):
        import shutil

        shutil.rmtree(_made_cache, ignore_errors=True)


_dump_file = None


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_set_timer(item: pytest.Item, settings) -> bool:
    global _dump_file
    folder = Path(os.environ.get(TIMEOUT_DIR_ENV) or ROOT)
    folder.mkdir(parents=True, exist_ok=True)
    _dump_file = open(folder / f"stuck-{os.getpid()}.txt", "w")  # noqa: SIM115 - must stay open for the watchdog
    _dump_file.write(f"{item.nodeid} ran past its {settings.timeout:g} s limit. Stacks of every thread:\n")
    _dump_file.flush()
    faulthandler.dump_traceback_later(settings.timeout, exit=True, file=_dump_file)
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_timeout_cancel_timer(item: pytest.Item) -> bool:
    global _dump_file
    faulthandler.cancel_dump_traceback_later()
    if _dump_file is not None:
        _dump_file.close()
        Path(_dump_file.name).unlink(missing_ok=True)
        _dump_file = None
    return True


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    folder = os.environ.get(TIMEOUT_DIR_ENV)
    dumps = sorted(Path(folder).glob("stuck-*.txt")) if folder else []
    for dump in dumps:
        terminalreporter.write_sep("=", "a test ran past its time limit")
        terminalreporter.write(dump.read_text(errors="replace") + "\n")
        dump.unlink()


def wait_for(predicate, timeout: float, what: str) -> None:
    """Process Qt events until `predicate()` holds, for at most `timeout` seconds of Python's monotonic clock.

    qtbot.waitUntil/waitSignal wait in a nested QEventLoop that only its own QTimer can end; in the hung runs of the
    start/stop cycles test that timer never fired (gdb: no 10 ms timer left in the dispatcher's poll, the loop
    still running), so the wait never ended. This bound does not depend on any Qt timer."""
    import time

    from PySide6.QtCore import QCoreApplication, QEventLoop

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:g} s for {what}")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        time.sleep(0.002)


def studio_window(qtbot, tmp_path: Path, ask, size: tuple[int, int] = (1440, 900)):
    """A shown MainWindow with its own settings file and recovery folder under tmp_path; `ask` answers its
    questions (the tests never show a modal dialog)."""
    from PySide6.QtCore import QSettings

    from dlstudio.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    w = MainWindow(settings=settings, recovery_dir=tmp_path / "recovery")
    w.ask = ask
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    return w


@pytest.fixture(autouse=True)
def _gc_in_the_gui_thread(request):
    """Qt tests collect garbage in the main thread only, as the studio does (dlstudio.ui.gui_gc): a background
    thread a test leaves behind (a dataset preview still loading) must not free the test's widgets. The test's
    garbage is collected here when it ends, and automatic collection resumes for the tests without Qt."""
    if request.node.get_closest_marker("gui") is None or "PySide6.QtWidgets" not in sys.modules:
        yield
        return
    from PySide6.QtWidgets import QApplication

    from dlstudio.ui.gui_gc import collect_anywhere, collect_in_gui_thread

    if QApplication.instance() is not None:
        collect_in_gui_thread()
    yield
    collect_anywhere()


@pytest.fixture
def quiet_window(qtbot, tmp_path):
    """A shown studio window (1440x900) that answers every question with "" and ends with its undo stack clean,
    so closing it asks nothing."""
    w = studio_window(qtbot, tmp_path, lambda kind, text: "")
    qtbot.waitExposed(w)
    yield w
    w.controller.undo_stack.setClean()


def legacy_onnx_bytes(module, sample_shape: tuple[int, ...], opset: int) -> bytes:
    """`module` (eval mode) exported by torch's TorchScript exporter, the one that still writes opsets below 18,
    with a dynamic batch; its deprecation warning is silenced."""
    import io
    import warnings

    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            (torch.randn(1, *sample_shape),),
            buf,
            input_names=["x"],
            output_names=["y"],
            dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )
    return buf.getvalue()


@pytest.fixture
def one_torch_thread():
    """One torch thread for tests that train small models: they run fastest that way, and several OpenMP
    threads spinning against each other on a shared 2-core machine make small layers far slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_sessionfinish(session, exitstatus) -> None:
    """Tear Qt down in a defined order: close and delete every top-level widget and collect garbage while the
    QApplication still exists, so no Qt object outlives it at interpreter exit (which can crash)."""
    qt = sys.modules.get("PySide6.QtWidgets")
    if qt is None:
        return
    import gc

    app = qt.QApplication.instance()
    if app is None:
        return
    # the clipboard owns QMimeData created from Python; Qt would delete it after Python has shut down
    qt.QApplication.clipboard().clear()
    spares = sys.modules.get("dlstudio.ui.process_worker")
    if spares is not None:  # the idle training process waiting for a next run
        spares.SPARES.shutdown()
    for w in qt.QApplication.topLevelWidgets():
        w.close()
        w.deleteLater()
    from PySide6.QtCore import QCoreApplication, QEvent

    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
    gc.collect()
