"""The optional-packages dialog (ui/packages_dialog.ui): what each optional package enables,
whether QGIS has it, and pip installing the missing ones into SiteWatch's folder in the background."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QProcess, Qt
from qgis.PyQt.QtWidgets import QDialog, QHeaderView, QTableWidgetItem

from ..core import deps
from .forms import load_form

COLUMN_PACKAGE, COLUMN_STATUS, COLUMN_ENABLES = 0, 1, 2


def sitewatch_packages_folder() -> Path:
    """SiteWatch's packages folder in the current QGIS profile."""
    return deps.packages_folder(QgsApplication.qgisSettingsDirPath())


class PackagesDialog(QDialog):
    """Lists deps.OPTIONAL_PACKAGES; Install runs pip as a QProcess (the UI never waits on it)."""

    def __init__(self, parent=None, folder: Optional[Path] = None):
        super().__init__(parent)
        load_form("packages_dialog", self)
        self.folder = Path(folder) if folder is not None else sitewatch_packages_folder()
        self.extra_pip_args: tuple[str, ...] = ()  # e.g. an index URL of a local mirror
        self.process: Optional[QProcess] = None
        self.command: list[str] = []
        self._output: list[str] = []
        self.statuses: list[deps.PackageStatus] = []
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COLUMN_PACKAGE, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMN_STATUS, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMN_ENABLES, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.folder_label.setText(f"Installs into: {self.folder}")
        self.progress_bar.setRange(0, 1)
        self.install_button.clicked.connect(self.install)
        self.stop_button.clicked.connect(self.stop)
        self.refresh()

    # ------------------------------------------------------------ statuses
    def refresh(self) -> None:
        self.statuses = [deps.package_status(p) for p in deps.OPTIONAL_PACKAGES]
        self.table.setRowCount(len(self.statuses))
        for row, status in enumerate(self.statuses):
            name = QTableWidgetItem(status.package.module)
            name.setFlags(Qt.ItemFlag.ItemIsEnabled | (Qt.ItemFlag.NoItemFlags if status.installed
                                                       else Qt.ItemFlag.ItemIsUserCheckable))
            if not status.installed:
                name.setCheckState(Qt.CheckState.Checked)
            state = QTableWidgetItem(status.text)
            state.setToolTip(status.location or "Not found on QGIS's Python path.")
            self.table.setItem(row, COLUMN_PACKAGE, name)
            self.table.setItem(row, COLUMN_STATUS, state)
            self.table.setItem(row, COLUMN_ENABLES, QTableWidgetItem(status.package.enables))
        self._update_buttons()

    def ticked(self) -> list[deps.OptionalPackage]:
        """The missing packages ticked for installation."""
        out = []
        for row, status in enumerate(self.statuses):
            item = self.table.item(row, COLUMN_PACKAGE)
            if not status.installed and item.checkState() == Qt.CheckState.Checked:
                out.append(status.package)
        return out

    def _update_buttons(self) -> None:
        running = self.process is not None
        self.install_button.setEnabled(not running and any(not s.installed for s in self.statuses))
        self.stop_button.setEnabled(running)

    # ------------------------------------------------------------ pip
    def install(self, *_args) -> Optional[QProcess]:
        """Start pip for the ticked packages; returns the process (None when nothing to do)."""
        packages = self.ticked()
        if self.process is not None or not packages:
            if not packages:
                self.message_label.setText("Nothing to install: tick a missing package first.")
            return None
        python = deps.python_interpreter()
        if python is None:
            self._show_result(False, "The Python interpreter of this QGIS was not found, so pip cannot run. "
                                     "Install the packages by hand: " + ", ".join(p.how for p in packages))
            return None
        constraints = deps.write_constraints(self.folder)
        self.command = deps.pip_install_command(python, packages, self.folder, constraints, self.extra_pip_args)
        self._output = []
        self.log_view.clear()
        self.log_view.appendPlainText(" ".join(self.command))
        process = QProcess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(self._read_output)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        self.process = process
        self.progress_bar.setRange(0, 0)  # busy: pip gives no overall percentage
        self.message_label.setText(f"Installing {', '.join(p.module for p in packages)}…")
        self._update_buttons()
        process.start(self.command[0], self.command[1:])
        return process

    def stop(self, *_args) -> None:
        if self.process is not None:
            self.process.kill()

    def _read_output(self) -> None:
        if self.process is None:
            return
        text = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
        self._output.append(text)
        for line in text.splitlines():
            if line.strip():
                self.log_view.appendPlainText(line.rstrip())
                if line.startswith(("Collecting", "Downloading", "Installing collected")):
                    self.message_label.setText(line.strip()[:120])

    def _error(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart and self.process is not None:
            process, self.process = self.process, None
            process.deleteLater()
            self._show_result(False, f"Python could not be started ({self.command[0]}): {process.errorString()}")

    def _finished(self, exit_code: int, exit_status=None) -> None:
        if self.process is None:
            return
        self._read_output()
        process, self.process = self.process, None
        process.deleteLater()
        output = "".join(self._output)
        if exit_code == 0 and exit_status != QProcess.ExitStatus.CrashExit:
            deps.prune_shipped(self.folder)
            deps.add_packages_folder(self.folder)
            self.refresh()
            self._show_result(True, "Installed. Restart QGIS so that SiteWatch uses them "
                                    "(it looked for them when it started).")
        elif exit_status == QProcess.ExitStatus.CrashExit:
            self._show_result(False, "pip was stopped; nothing else changed.")
        else:
            self._show_result(False, deps.pip_failure_message(exit_code, output, self.command))

    def _show_result(self, ok: bool, message: str) -> None:
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1 if ok else 0)
        self.message_label.setStyleSheet("" if ok else "color: #b3261e;")
        self.message_label.setText(message)
        self.log_view.appendPlainText(message)
        self._update_buttons()

    def shutdown(self) -> None:
        """Stop a running pip (the plugin is unloading)."""
        if self.process is not None:
            process, self.process = self.process, None
            process.kill()
            process.waitForFinished(3000)
