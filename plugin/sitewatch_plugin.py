"""The plugin object QGIS creates: menu, toolbar button, dock panel and Processing provider."""
from __future__ import annotations

from typing import Optional

from qgis.core import QgsApplication
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtGui import QIcon

try:  # Qt 6 (QGIS 4) moved QAction to QtGui
    from qgis.PyQt.QtGui import QAction
except ImportError:
    from qgis.PyQt.QtWidgets import QAction

from .core.deps import add_packages_folder, packages_folder
from .resources import icon_path

MENU_NAME = "&SiteWatch"
LOGGER_NAME = __package__  # the logger every SiteWatch module's logger hangs under


class SiteWatchPlugin:
    """Registers everything in initProcessing/initGui and removes it one for one in unload."""

    def __init__(self, iface):
        self.iface = iface
        self.provider = None
        self.dock = None
        self.toolbar = None
        self.actions: list[QAction] = []
        self.toggle_dock_action: Optional[QAction] = None
        self.review_action: Optional[QAction] = None
        self.review_panel = None
        self.log_handler = None
        self.packages_dialog = None
        # optional packages installed from the SiteWatch menu are importable from the start
        add_packages_folder(packages_folder(QgsApplication.qgisSettingsDirPath()))

    def _start_logging(self) -> None:
        """Show SiteWatch's warnings in the QGIS message log (once, however often called)."""
        from .qgisio.message_log import add_message_log_handler

        if self.log_handler is None:
            self.log_handler = add_message_log_handler(LOGGER_NAME)

    # Processing ---------------------------------------------------------
    def initProcessing(self) -> None:  # noqa: N802 (QGIS API name)
        from .processing.provider import SiteWatchProvider

        self._start_logging()
        if self.provider is None:
            self.provider = SiteWatchProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    # GUI ----------------------------------------------------------------
    def initGui(self) -> None:  # noqa: N802 (QGIS API name)
        from .gui.dock import SiteWatchDock

        self.initProcessing()
        self.dock = SiteWatchDock(self.iface)
        self.dock.setObjectName("SiteWatchDock")
        self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()

        self.toggle_dock_action = self.dock.toggleViewAction()
        self.toggle_dock_action.setIcon(QIcon(icon_path()))
        self.toggle_dock_action.setText("SiteWatch panel")
        self.toggle_dock_action.setToolTip("Show or hide the SiteWatch two-date analysis panel")
        self.toggle_dock_action.setObjectName("SiteWatchTogglePanel")

        self.toolbar = self.iface.addToolBar("SiteWatch")
        self.toolbar.setObjectName("SiteWatchToolbar")
        self.toolbar.addAction(self.toggle_dock_action)
        self.iface.addPluginToRasterMenu(MENU_NAME, self.toggle_dock_action)
        self.actions.append(self.toggle_dock_action)

        self._add_menu_action("Open the sample site", "SiteWatchOpenSampleSite",
                              "Open SiteWatch's sample air base on two dates in the panel, ready to run",
                              self.open_sample_site)
        self._add_menu_action("Optional packages…", "SiteWatchOptionalPackages",
                              "See which optional packages SiteWatch can use and install the missing ones",
                              self.open_packages_dialog)
        self.review_action = self._add_menu_action(
            "Review the analysis shown…", "SiteWatchReview",
            "Accept, reject, relabel or add the objects and change regions of the analysis the SiteWatch panel "
            "shows, with the keyboard; every decision is kept", self.open_review)
        self.toolbar.addAction(self.review_action)

    def _add_menu_action(self, text: str, name: str, tip: str, slot) -> QAction:
        """A SiteWatch menu entry; unload removes it with the others."""
        action = QAction(text, self.iface.mainWindow())
        action.setObjectName(name)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        self.iface.addPluginToRasterMenu(MENU_NAME, action)
        self.actions.append(action)
        return action

    def open_packages_dialog(self, *_args):
        from .gui.packages import PackagesDialog

        if self.packages_dialog is None:
            self.packages_dialog = PackagesDialog(self.iface.mainWindow())
        else:
            self.packages_dialog.refresh()
        self.packages_dialog.show()
        self.packages_dialog.raise_()
        return self.packages_dialog

    def open_sample_site(self, *_args) -> None:
        if self.dock is not None:
            self.dock.show()
            self.dock.raise_()
            self.dock.open_sample_site()

    def open_review(self, *_args):
        """The review panel on the analysis the SiteWatch panel shows (one review panel at a time)."""
        from qgis.core import Qgis

        from .gui.review.opener import NothingToReview, open_review_panel, shown_analysis
        from .store.review import ReviewStoreError

        try:
            shown = shown_analysis(self.dock)
            self.close_review()
            panel = open_review_panel(self.iface, shown, self.iface.mainWindow())
        except (NothingToReview, ReviewStoreError) as exc:
            self.iface.messageBar().pushMessage("SiteWatch review", str(exc), Qgis.MessageLevel.Warning, 10)
            return None
        panel.stateChanged.connect(self._on_review_state)
        panel.retrainRequested.connect(self.retrain_from_reviews)
        self.iface.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, panel)
        panel.show()
        panel.raise_()
        panel.ui.queueTable.setFocus()
        self.review_panel = panel
        self._on_review_state()
        return panel

    def _on_review_state(self, *_args) -> None:
        if self.dock is not None:
            self.dock.refresh_results()

    def retrain_from_reviews(self) -> None:
        if self.review_panel is not None:
            from .gui.review.retrain import start_retraining

            start_retraining(self.iface, self.review_panel, self.dock)

    def close_review(self) -> None:
        if self.review_panel is None:
            return
        panel, self.review_panel = self.review_panel, None
        panel.shutdown()
        self.iface.removeDockWidget(panel)
        panel.setParent(None)
        panel.deleteLater()

    def unload(self) -> None:
        self.close_review()
        for action in self.actions:
            self.iface.removePluginRasterMenu(MENU_NAME, action)
            if action is not self.toggle_dock_action:  # the dock owns its toggle action
                action.setParent(None)
                action.deleteLater()
        self.actions.clear()
        self.toggle_dock_action = None
        self.review_action = None
        if self.packages_dialog is not None:
            self.packages_dialog.shutdown()
            self.packages_dialog.setParent(None)
            self.packages_dialog.deleteLater()
            self.packages_dialog = None
        if self.toolbar is not None:
            self.toolbar.clear()
            self.iface.mainWindow().removeToolBar(self.toolbar)
            self.toolbar.setParent(None)
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.dock is not None:
            self.dock.shutdown()
            self.iface.removeDockWidget(self.dock)
            self.dock.setParent(None)
            self.dock.deleteLater()
            self.dock = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        if self.log_handler is not None:
            from .qgisio.message_log import remove_message_log_handler

            remove_message_log_handler(LOGGER_NAME, self.log_handler)
            self.log_handler = None
