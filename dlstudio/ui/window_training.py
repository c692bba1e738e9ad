"""The window's training launch: the training dock, built on first use, and the runs exports may take
weights from. Mixed into MainWindow."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from .ownership import adopt_children


class TrainingLaunchMixin:
    """Training commands of MainWindow (self is the QMainWindow)."""

    # ----------------------------------------------------------- training
    def known_runs(self) -> Any:
        """The runs an export may take weights from: the Runs tab's, else those saved beside the project."""
        if self.training is not None:
            return self.training.known_runs()
        from .run_weights import saved_runs

        return saved_runs(self.project)

    def training_workspace(self) -> Any:
        """The training dock, built on first use (it loads torch and a dataset preview), shown and raised."""
        first_open = False
        if self.training is None:
            # the first open loads torch and a dataset preview (about 2 s): say so instead of freezing silently
            self.statusBar().showMessage("Loading the training tools...")
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                from .plot_theme import apply_plot_theme
                from .training import TrainingWorkspace

                apply_plot_theme(None, self.theme)  # the plots about to be made take the theme's colours

                self.training = TrainingWorkspace(lambda: self.project, self)
                self.training.node_failed.connect(self.focus_node)
                self.training.settings_changed.connect(self._settings_edited)
                self.training_dock = self._dock(
                    "Training and results", self.training, Qt.DockWidgetArea.BottomDockWidgetArea
                )
                self.tabifyDockWidget(self.panel_dock, self.training_dock)
                self.training.project_changed()
                adopt_children(self.training_dock)  # see dlstudio.ui.ownership
                apply_plot_theme(self.training_dock, self.theme)  # axes room and legends of the plots just made
                first_open = True
            finally:
                QApplication.restoreOverrideCursor()
                self.statusBar().clearMessage()
        assert self.training_dock is not None
        self.training_dock.show()
        self.set_bottom_collapsed(False)
        if first_open:  # 40 % of the window: plots readable, the canvas still the larger part
            self.resizeDocks([self.training_dock], [self.height() * 2 // 5], Qt.Orientation.Vertical)
        self.training_dock.raise_()
        return self.training

    def start_training(self) -> bool:
        """Train a snapshot of the current graph; the editor stays usable and edits do not reach the run."""
        return bool(self.training_workspace().start())
