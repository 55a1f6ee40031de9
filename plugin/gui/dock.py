"""The SiteWatch dock panel: site, two captures, options, run, results, history.

The panel only shows and collects: what the choices mean, running them, the history and the
objects behind a results row are the controller's (gui/controller.py); layers come from
plugin/layers, sites from qgisio/sites.
"""
from __future__ import annotations

from typing import Optional

from qgis.core import Qgis, QgsCoordinateReferenceSystem, QgsGeometry, QgsProject, QgsVectorLayer
from qgis.gui import QgsDockWidget
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QDialog, QInputDialog

from ..core.parameters import ChangeSettings
from ..layers.analysis_layers import AnalysisOutputs, add_analysis_layers, set_capture_visible
from ..qgisio import sites as site_store
from ..qgisio.results import read_counts
from . import controller as ctl
from .date_dialog import CaptureDateDialog
from .forms import load_form
from .map_view import DateSwipe, SiteDrawing, SiteOutline, zoom_to_site
from .sample_site import SampleSiteLoader

MESSAGE_TITLE = "SiteWatch"


class SiteWatchDock(QgsDockWidget):
    def __init__(self, iface, parent=None):
        super().__init__("SiteWatch", parent)
        self.iface = iface
        self.sites: list[site_store.Site] = []
        self.site: Optional[site_store.Site] = None
        self.controller = ctl.AnalysisController(self)
        self.shown_group_title = ""
        self._threshold = ChangeSettings.sensitivity  # display threshold until a run sets one
        self._site_area_text = ""
        self.sample_loader = SampleSiteLoader(self, self)
        self._build()
        canvas = iface.mapCanvas()
        self.outline, self.drawing, self.date_swipe = SiteOutline(canvas), SiteDrawing(canvas, self), DateSwipe(canvas)
        self._connect()
        self.reload_sites()

    @property
    def task(self):
        """The running analysis task (None when idle)."""
        return self.controller.task

    @property
    def map_tool(self):
        return self.drawing.tool

    @property
    def swipe_item(self):
        return self.date_swipe.item

    # ================================================================ layout
    def _build(self) -> None:
        """The panel's form (ui/dock.ui): a scrolling body and a run bar pinned below it, so
        progress and Cancel stay in view whatever is scrolled."""
        load_form("dock", self)
        self._scroll = self.scroll_area
        self.setToolTip("")
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(150)

    # ================================================================ signals
    def _project_connections(self):
        project = QgsProject.instance()
        return [
            (project.readProject, self._on_project_read),
            (project.cleared, self._on_project_cleared),
            (project.layersAdded, self._schedule_refresh),
            (project.layersRemoved, self._schedule_refresh),
            (project.layersWillBeRemoved, self._on_layers_will_be_removed),
        ]

    def _connect(self) -> None:
        for signal, slot in self._project_connections():
            signal.connect(slot)
        self.drawing.drawn.connect(self._on_polygon_drawn)
        self.drawing.active.connect(self.site_selector.draw_button.setChecked)
        self._refresh_timer.timeout.connect(self.refresh_captures)
        s = self.site_selector
        s.siteChanged.connect(self.set_current_site)
        s.drawRequested.connect(self.start_drawing)
        s.fromSelectionRequested.connect(self.site_from_selection)
        s.removeRequested.connect(self.remove_site)
        s.zoomRequested.connect(self.zoom_to_site)
        s.sampleRequested.connect(self.open_sample_site)
        self.sample_loader.progress.connect(self._on_progress)
        self.sample_loader.opened.connect(self._on_sample_opened)
        self.sample_loader.failed.connect(self._on_sample_failed)
        self.capture_picker.selectionChanged.connect(self.update_plan)
        self.capture_picker.setDateRequested.connect(self.ask_capture_date)
        self.left_out_picker.changed.connect(self.update_plan)
        self.change_options.changed.connect(self.update_plan)
        self.equipment_options.changed.connect(self.update_plan)
        self.run_button.clicked.connect(self.run_analysis)
        self.cancel_button.clicked.connect(self.cancel_analysis)
        self.results_table.zoomRequested.connect(self.zoom_to_objects)
        self.history.openRequested.connect(self.open_analysis)
        self.timeline.openRequested.connect(self.open_analysis)
        self.compare.showRequested.connect(self.show_date)
        self.compare.swipeRequested.connect(self.swipe)
        self.controller.progress.connect(self._on_progress)
        self.controller.succeeded.connect(self._on_succeeded)
        self.controller.failed.connect(self._on_failed)
        self.controller.cancelled.connect(self._on_cancelled)

    def shutdown(self) -> None:
        """Disconnect from the project and canvas, stop timers and any running task."""
        for signal, slot in self._project_connections():
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):
                pass
        self._refresh_timer.stop()
        self.sample_loader.cancel()
        self.compare.stop()
        self.end_swipe()
        self.drawing.shutdown()
        self.outline.remove()
        self.controller.shutdown()

    # ================================================================ sites
    def reload_sites(self, select: str = "") -> None:
        self.sites = site_store.load_sites()
        current = select or site_store.current_site_name()
        self.site_selector.set_sites([s.name for s in self.sites], current)
        if not self.sites:
            self.set_current_site("")

    def _on_project_read(self, *_args) -> None:
        self.clear_results()
        self.reload_sites()
        group, record = ctl.shown_analysis_group(self.site)
        if group is not None:  # list the results of the analysis the project shows
            self._list_results(group, AnalysisOutputs.from_record(record), record.summary)

    def _on_project_cleared(self) -> None:
        self.clear_results()
        self.sites = []
        self.site = None
        self.outline.show(self.site)
        self.site_selector.set_sites([])
        self.history.set_records([])
        self.timeline.set_records("", [])

    def set_current_site(self, name: str) -> None:
        self.site = next((s for s in self.sites if s.name == name), None)
        self._site_area_text = ""
        if self.site is not None:
            site_store.set_current_site_name(self.site.name)
            self._site_area_text = ctl.site_area_text(self.site)
            self.site_selector.info_label.setToolTip(ctl.workspace_tip(self.site))
        else:
            self.site_selector.info_label.setText(
                "Make a site first: press Draw on map, or select a polygon and press From selected polygon."
            )
        self.outline.show(self.site)
        self.refresh_captures()
        self.refresh_history()

    def create_site(self, name: str, geometry: QgsGeometry, crs: QgsCoordinateReferenceSystem) -> site_store.Site:
        """Make a site from a polygon (any CRS), select it and return it."""
        site = site_store.create_site(name, geometry, crs)
        self.reload_sites(select=site.name)
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, f"Site “{site.name}” created.", Qgis.MessageLevel.Success, 4)
        return site

    def select_site(self, name: str) -> bool:
        """Make the named site current; False when there is no such site."""
        if not any(s.name == name for s in self.sites):
            return False
        self.site_selector.set_sites([s.name for s in self.sites], name)
        return True

    def start_drawing(self) -> None:
        self.drawing.start()
        self.status_label.setText("Click the corners of the site on the map; right-click to finish, Esc to cancel.")

    def _ask_name(self, default: str) -> Optional[str]:
        name, ok = QInputDialog.getText(self, "New site", "Name of the site:", text=default)
        return name.strip() if ok and name.strip() else None

    def _on_polygon_drawn(self, geometry: QgsGeometry) -> None:
        name = self._ask_name(f"Site {len(self.sites) + 1}")
        if name:
            self.create_site(name, geometry, self.iface.mapCanvas().mapSettings().destinationCrs())
        self.status_label.setText("")

    def site_from_selection(self) -> None:
        layer = self.iface.activeLayer()
        try:
            geometry, default = site_store.selected_polygon(layer if isinstance(layer, QgsVectorLayer) else None)
        except ValueError as exc:
            self.iface.messageBar().pushMessage(MESSAGE_TITLE, str(exc), Qgis.MessageLevel.Warning, 6)
            return
        name = self._ask_name(default)
        if name:
            self.create_site(name, geometry, layer.crs())

    def zoom_to_site(self) -> None:
        if self.site is not None:
            zoom_to_site(self.iface.mapCanvas(), self.site)

    def remove_site(self, name: str) -> None:
        if name:
            site_store.remove_site(name)
            self.reload_sites()

    # ================================================================ sample site
    def open_sample_site(self, *_args):
        """Prepare the sample site in the background (generated once), then make it the current
        site with its captures and example boxes; returns the task (None when busy)."""
        if self.task is not None or self.sample_loader.busy:
            return None
        task = self.sample_loader.start()
        self._show_busy("Preparing the sample site…")
        self.site_selector.sample_button.setEnabled(False)
        return task

    def use_sample_site(self, layers: dict, min_score: float) -> None:
        """Choose the sample site's captures, example boxes and clouds, ready to run."""
        self.equipment_options.use_examples(layers["examples"])
        self.left_out_picker.set_layer(layers.get("clouds"))
        self.equipment_options.min_score_spin.setValue(min_score)
        self.refresh_captures()
        self.capture_picker.select(layers["before"].id(), layers["after"].id())
        self.zoom_to_site()

    def _on_sample_opened(self, _layers: dict) -> None:
        self._show_idle("The sample site is ready: its two dates and example boxes are chosen. Press Run analysis.")
        self.site_selector.sample_button.setEnabled(True)

    def _on_sample_failed(self, message: str) -> None:
        self._show_idle(message)
        self.site_selector.sample_button.setEnabled(True)
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, message, Qgis.MessageLevel.Warning, 8)

    # ================================================================ captures
    def _schedule_refresh(self, *_args) -> None:
        self._refresh_timer.start()

    def refresh_captures(self) -> None:
        self.capture_picker.set_captures(ctl.captures_of(self.site), has_site=self.site is not None)
        self.equipment_options.set_learned_model(  # a model trained meanwhile shows up here
            self.site.workspace().learned_model_path() if self.site is not None else None,
            self.site.name if self.site is not None else None)
        self.update_plan()

    def set_capture_date(self, layer_id: str, date_iso: str) -> None:
        """Remember a user-entered capture date on the layer and in the site workspace."""
        ctl.remember_capture_date(self.site, layer_id, date_iso, self.capture_picker.captures)
        self.refresh_captures()

    def ask_capture_date(self, layer_id: str) -> None:
        prompt = ctl.capture_date_prompt(layer_id, self.capture_picker.captures)
        if prompt is None:
            return
        dialog = CaptureDateDialog(*prompt, self)
        if dialog.exec() == QDialog.DialogCode.Accepted:
            self.set_capture_date(layer_id, dialog.iso())

    # ================================================================ parameters
    def problems(self) -> list[str]:
        if self.site is None:
            return ["Make or choose a site first."]
        out = self.capture_picker.problems() + self.equipment_options.problems()
        if not self.change_options.isChecked() and not self.equipment_options.isChecked():
            out.append("Tick Change detection, Equipment counts, or both.")
        return out

    def choices(self) -> ctl.PanelChoices:
        """What the panel's widgets say; ValueError lists what is missing."""
        problems = self.problems()
        if problems:
            raise ValueError(" ".join(problems))
        return ctl.PanelChoices(
            site=self.site, before=self.capture_picker.before(), after=self.capture_picker.after(),
            change=self.change_options.options(), equipment=self.equipment_options.options(),
            examples_layer=self.equipment_options.exemplar_combo.currentLayer(),
            left_out_layer=self.left_out_picker.layer(),
        )

    def build_parameters(self, with_exemplars: bool = True, exports: Optional[list] = None):
        """The AnalysisParameters of the current choices (see AnalysisController.build_parameters)."""
        return self.controller.build_parameters(self.choices(), with_exemplars, exports)

    def update_plan(self, *_args) -> None:
        if self.task is not None or self.sample_loader.busy:
            return
        try:
            params = self.build_parameters(with_exemplars=False)
        except ValueError as exc:  # the panel's own problems first, else what building found
            reasons = self.problems() or [str(exc)]
            self.plan_label.setText("<b>Before you can run:</b><br>" + "<br>".join(reasons))
            self._block_run(reasons)
            return
        self.plan_label.setText("<br>".join(self.controller.describe(params)))
        self._block_run([])

    def _block_run(self, reasons: list[str]) -> None:
        """Run is enabled only without reasons; the reasons are shown beside it."""
        self.run_button.setEnabled(not reasons)
        self.run_hint_label.setText("\n".join(reasons))
        self.run_hint_label.setVisible(bool(reasons))

    # ================================================================ running
    def run_analysis(self, *_args):
        """Start the analysis task; returns it (None when the choices are incomplete)."""
        if self.task is not None:
            return None
        exports: list = []
        try:
            params = self.build_parameters(exports=exports)
        except ValueError as exc:
            self.iface.messageBar().pushMessage(MESSAGE_TITLE, str(exc), Qgis.MessageLevel.Warning, 8)
            return None
        self._threshold = params.change.sensitivity
        task = self.controller.start(params, exports)
        self._show_busy(f"Running {task.description()}…")
        return task

    def cancel_analysis(self) -> None:
        if self.sample_loader.busy or self.task is not None:
            self.status_label.setText("Cancelling…")
            self.cancel_button.setEnabled(False)
        self.sample_loader.cancel()
        self.controller.cancel()

    def _show_busy(self, message: str) -> None:
        self._block_run([])  # busy, not blocked: no reason to show, and Run stays off meanwhile
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setValue(0)
        self.status_label.setText(message)

    def _show_idle(self, message: str, progress: int = 0) -> None:
        self.cancel_button.setEnabled(False)
        self.progress_bar.setValue(progress)
        self.status_label.setText(message)
        self.update_plan()

    def _on_progress(self, value: float, message: str = "") -> None:
        self.progress_bar.setValue(int(value))
        if message:
            self.status_label.setText(message)

    def _on_succeeded(self, result, record) -> None:
        self._show_idle(ctl.done_text(result), 100)
        self.show_analysis(AnalysisOutputs.from_result(result), list(result.summary_lines), record.threshold)
        self.refresh_history()
        self._scroll.ensureWidgetVisible(self.results_box, 0, 0)
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, f"{result.title}: analysis finished.", Qgis.MessageLevel.Success, 5)

    def _on_failed(self, message: str) -> None:
        self._show_idle(f"Failed: {message}")
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, message, Qgis.MessageLevel.Critical, 0)

    def _on_cancelled(self) -> None:
        self._show_idle("Cancelled; nothing was kept.")
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, "Analysis cancelled; nothing was kept.", Qgis.MessageLevel.Info, 4)

    # ================================================================ results
    def show_analysis(self, outputs: AnalysisOutputs, summary: list[str], threshold: Optional[float] = None) -> None:
        """Add the analysis's layers (one group) and list its counts."""
        self.clear_results()
        group = add_analysis_layers(outputs, float(self._threshold if threshold is None else threshold))
        ctl.expand_in_layers_panel(self.iface, group)
        self._list_results(group, outputs, summary)
        self.zoom_to_objects(None, None)

    def _list_results(self, group, outputs: AnalysisOutputs, summary: list[str], show_after: bool = True) -> None:
        """Fill the results table from an analysis group already in the project."""
        self.shown_group_title = group.name()
        self.results_table.set_results(outputs.title, read_counts(outputs.gpkg_path), ctl.regions_total(group), summary)
        if show_after:
            self.compare.after_button.setChecked(True)

    def refresh_results(self) -> None:
        """List the counts of the analysis shown again (review decisions rewrite them), map left as it is."""
        group = self.current_group()
        record = ctl.record_of_group(self.site, group)
        if record is not None:
            self._list_results(group, AnalysisOutputs.from_record(record), record.summary, show_after=False)

    def clear_results(self) -> None:
        self.compare.stop()
        self.end_swipe()
        self.shown_group_title = ""
        self.results_table.clear()

    def current_group(self):
        if not self.shown_group_title:
            return None
        return QgsProject.instance().layerTreeRoot().findGroup(self.shown_group_title)

    def refresh_history(self) -> None:
        records = ctl.site_history(self.site)
        self.history.set_records(records)
        self.timeline.set_records(self.site.name if self.site is not None else "", records)
        if self.site is not None:
            self.site_selector.info_label.setText(ctl.site_info_text(self._site_area_text, len(records)))

    def open_analysis(self, analysis_id: str) -> None:
        try:
            record = ctl.record_to_open(self.site, analysis_id)
        except ValueError as exc:
            self.iface.messageBar().pushMessage(MESSAGE_TITLE, str(exc), Qgis.MessageLevel.Warning, 8)
            return
        if record is not None:
            self.show_analysis(AnalysisOutputs.from_record(record), record.summary, record.threshold)

    def show_date(self, which: str) -> None:
        self.end_swipe()
        group = self.current_group()
        if group is not None:
            set_capture_visible(group, which)

    def swipe(self, position: float) -> None:
        """After left of a line at `position` (0..1 across the map), Before right of it; 1 ends the swipe."""
        if not self.date_swipe.move(self.current_group(), position):
            self.end_swipe()

    def end_swipe(self) -> None:
        """Remove the swipe from the map and put the slider back (After everywhere)."""
        self.date_swipe.end()
        self.compare.reset_swipe()

    def _on_layers_will_be_removed(self, layers) -> None:
        if self.date_swipe.shows_any(layers):
            self.end_swipe()

    def zoom_to_objects(self, key, event) -> None:
        """Zoom the canvas to the objects of a results row (a class, an event, the change regions)."""
        group = self.current_group()
        canvas = self.iface.mapCanvas()
        extent = ctl.select_row_objects(group, key, event, canvas.mapSettings()) if group is not None else None
        if extent is not None:
            canvas.setExtent(extent)
            canvas.refresh()
