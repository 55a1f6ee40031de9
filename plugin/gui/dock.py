"""The SiteWatch dock panel: site, two captures, options, run, results, history.

The panel only gathers choices and shows results: the analysis runs in an AnalysisTask,
layers come from plugin/layers, sites and history from qgisio/sites and store/workspace.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from qgis.core import (
    Qgis,
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsGeometry,
    QgsLayerTree,
    QgsProject,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.gui import QgsCollapsibleGroupBox, QgsDockWidget
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ..layers.analysis_layers import (
    GROUP_PROPERTY,
    ROLE_BEFORE_CAPTURE,
    ROLE_DETECTIONS_AFTER,
    ROLE_DETECTIONS_BEFORE,
    ROLE_REGIONS,
    AnalysisOutputs,
    add_analysis_layers,
    group_layers,
    set_capture_visible,
)
from ..qgisio import sites as site_store
from ..qgisio.captures import set_user_date, site_captures
from ..qgisio.results import feature_ids, features_extent, read_counts
from ..qgisio.vectors import polygons_over_site_wkt
from ..store.workspace import AnalysisRecord, new_analysis_id
from .capture_picker import CapturePicker
from .compare import CompareControl
from .date_dialog import CaptureDateDialog
from .left_out import LeftOutPicker
from .map_tools import PolygonMapTool
from .options import ChangeOptionsWidget, EquipmentOptionsWidget, model_summary_or_none
from .results import REGIONS_ROW_KEY, HistoryList, ResultsTable
from .sample_site import SampleSiteLoader
from .site_selector import SiteSelector
from .swipe import SwipeItem

MESSAGE_TITLE = "SiteWatch"


class SiteWatchDock(QgsDockWidget):
    def __init__(self, iface, parent=None):
        super().__init__("SiteWatch", parent)
        self.iface = iface
        self.sites: list[site_store.Site] = []
        self.site: Optional[site_store.Site] = None
        self.task = None
        self.shown_group_title = ""
        self.map_tool: Optional[PolygonMapTool] = None
        self._threshold = 0.5
        self._site_area_text = ""
        self._previous_tool = None
        self.swipe_item: Optional[SwipeItem] = None
        self.sample_loader = SampleSiteLoader(self, self)
        self._build()
        self.site_band = self._make_site_band()
        self._connect()
        self.reload_sites()

    # ================================================================ layout
    def _build(self) -> None:
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._scroll = scroll
        body = QWidget(scroll)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)

        site_box = QgsCollapsibleGroupBox("1. Site", body)
        site_box.setToolTip("The area you monitor. Draw it on the map or take a selected polygon.")
        QVBoxLayout(site_box)
        self.site_selector = SiteSelector(site_box)
        site_box.layout().addWidget(self.site_selector)
        layout.addWidget(site_box)

        capture_box = QgsCollapsibleGroupBox("2. Captures to compare", body)
        capture_box.setToolTip("Raster layers of the project that cover the site, listed by capture date.")
        QVBoxLayout(capture_box)
        self.capture_picker = CapturePicker(capture_box)
        capture_box.layout().addWidget(self.capture_picker)
        self.left_out_picker = LeftOutPicker(capture_box)
        capture_box.layout().addWidget(self.left_out_picker)
        layout.addWidget(capture_box)

        self.change_options = ChangeOptionsWidget(body)
        layout.addWidget(self.change_options)
        self.equipment_options = EquipmentOptionsWidget(body)
        layout.addWidget(self.equipment_options)

        run_box = QgsCollapsibleGroupBox("3. Run", body)
        run_box.setToolTip("What will run, how long it should take, and its progress.")
        run_layout = QVBoxLayout(run_box)
        self.plan_label = QLabel(run_box)
        self.plan_label.setWordWrap(True)
        self.plan_label.setToolTip("What the analysis will do with the current choices and roughly how long it takes.")
        run_layout.addWidget(self.plan_label)
        row = QHBoxLayout()
        self.run_button = QPushButton("Run analysis", run_box)
        self.run_button.setToolTip("Start the analysis in the background; QGIS stays usable while it runs.")
        self.cancel_button = QPushButton("Cancel", run_box)
        self.cancel_button.setToolTip("Stop the running analysis; nothing it wrote is kept.")
        self.cancel_button.setEnabled(False)
        row.addWidget(self.run_button, 1)
        row.addWidget(self.cancel_button)
        run_layout.addLayout(row)
        self.progress_bar = QProgressBar(run_box)
        self.progress_bar.setRange(0, 100)
        self.progress_bar.setValue(0)
        self.progress_bar.setToolTip("Progress of the running analysis.")
        run_layout.addWidget(self.progress_bar)
        self.status_label = QLabel(run_box)
        self.status_label.setWordWrap(True)
        self.status_label.setToolTip("What the panel is doing or waiting for.")
        run_layout.addWidget(self.status_label)
        layout.addWidget(run_box)

        results_box = QgsCollapsibleGroupBox("4. Results", body)
        self.results_box = results_box
        results_box.setToolTip("Counts of the analysis shown on the map; click a row to zoom to its objects.")
        results_layout = QVBoxLayout(results_box)
        self.compare = CompareControl(results_box)
        results_layout.addWidget(self.compare)
        self.results_table = ResultsTable(results_box)
        results_layout.addWidget(self.results_table)
        layout.addWidget(results_box)

        history_box = QgsCollapsibleGroupBox("History of this site", body)
        history_box.setToolTip("Every analysis run on this site; reopen one to see its layers again.")
        history_layout = QVBoxLayout(history_box)
        self.history = HistoryList(history_box)
        history_layout.addWidget(self.history)
        layout.addWidget(history_box)
        layout.addStretch(1)

        scroll.setWidget(body)
        self.setWidget(scroll)
        self.setToolTip("")
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(150)

    def _make_site_band(self):
        """A dashed outline of the current site on the map (not a layer: nothing to save or remove)."""
        from qgis.core import QgsWkbTypes
        from qgis.gui import QgsRubberBand
        from qgis.PyQt.QtGui import QColor

        band = QgsRubberBand(self.iface.mapCanvas(), QgsWkbTypes.GeometryType.PolygonGeometry)
        band.setFillColor(QColor(0, 0, 0, 0))
        band.setStrokeColor(QColor(255, 200, 0, 220))
        band.setLineStyle(Qt.PenStyle.DashLine)
        band.setWidth(2)
        return band

    def _show_site_outline(self) -> None:
        from qgis.core import QgsWkbTypes

        if self.site_band is None:
            return
        self.site_band.reset(QgsWkbTypes.GeometryType.PolygonGeometry)
        if self.site is not None:
            self.site_band.setToGeometry(self.site.geometry(), self.site.crs())

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
        self._canvas = self.iface.mapCanvas()
        self._canvas.mapToolSet.connect(self._on_map_tool_set)
        self._refresh_timer.timeout.connect(self.refresh_captures)
        s = self.site_selector
        s.siteChanged.connect(self.set_current_site)
        s.drawRequested.connect(self.start_drawing)
        s.fromSelectionRequested.connect(self.site_from_selection)
        s.removeRequested.connect(self.remove_site)
        s.zoomRequested.connect(self.zoom_to_site)
        s.sampleRequested.connect(self.open_sample_site)
        self.sample_loader.progress.connect(self._on_sample_progress)
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
        self.compare.showRequested.connect(self.show_date)
        self.compare.swipeRequested.connect(self.swipe)

    def shutdown(self) -> None:
        """Disconnect from the project and canvas, stop timers and any running task."""
        for signal, slot in self._project_connections():
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):
                pass
        try:
            self._canvas.mapToolSet.disconnect(self._on_map_tool_set)
        except (TypeError, RuntimeError):
            pass
        self._refresh_timer.stop()
        self.sample_loader.cancel()
        self.compare.stop()
        self.end_swipe()
        self._stop_drawing()
        if self.site_band is not None:
            self.site_band.reset()
            self._canvas.scene().removeItem(self.site_band)
            self.site_band = None
        if self.map_tool is not None:
            self.map_tool.clean()
            self.map_tool = None
        if self.task is not None:
            self._disconnect_task(self.task)
            try:
                self.task.cancel()
            except RuntimeError:
                pass
            self.task = None

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
        self._relink_saved_group()

    def _on_project_cleared(self) -> None:
        self.compare.stop()
        self.end_swipe()
        self.sites = []
        self.site = None
        self._show_site_outline()
        self.shown_group_title = ""
        self.site_selector.set_sites([])
        self.results_table.clear()
        self.history.set_records([])

    def set_current_site(self, name: str) -> None:
        self.site = next((s for s in self.sites if s.name == name), None)
        self._site_area_text = ""
        if self.site is not None:
            site_store.set_current_site_name(self.site.name)
            try:
                area = self.site.area_m2()
                self._site_area_text = f"{area / 1e6:.2f} km²" if area >= 1e5 else f"{area:,.0f} m²"
            except Exception:  # noqa: BLE001 (an odd CRS: show the rest anyway)
                self._site_area_text = "area unknown"
            folder = Path(self.site.workspace_path).parent
            self.site_selector.info_label.setToolTip(f"Site workspace (history, entered dates, results): {folder}")
        else:
            self.site_selector.info_label.setText(
                "Make a site first: press Draw on map, or select a polygon and press From selected polygon."
            )
        self._show_site_outline()
        self.refresh_captures()
        self.refresh_history()

    def create_site(self, name: str, geometry: QgsGeometry, crs: QgsCoordinateReferenceSystem) -> site_store.Site:
        """Make a site from a polygon (any CRS), select it and return it."""
        site = site_store.create_site(name, geometry, crs)
        self.reload_sites(select=site.name)
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, f"Site “{site.name}” created.", Qgis.MessageLevel.Success, 4)
        return site

    def start_drawing(self) -> None:
        canvas = self.iface.mapCanvas()
        if self.map_tool is None:
            self.map_tool = PolygonMapTool(canvas)
            self.map_tool.polygonDrawn.connect(self._on_polygon_drawn)
            self.map_tool.cancelled.connect(self._stop_drawing)
        if canvas.mapTool() is not self.map_tool:
            self._previous_tool = canvas.mapTool()
            canvas.setMapTool(self.map_tool)
        self.site_selector.draw_button.setChecked(True)
        self.status_label.setText("Click the corners of the site on the map; right-click to finish, Esc to cancel.")

    def _stop_drawing(self) -> None:
        canvas = self.iface.mapCanvas()
        if self.map_tool is not None and canvas.mapTool() is self.map_tool:
            if self._previous_tool is not None:
                canvas.setMapTool(self._previous_tool)
            else:
                canvas.unsetMapTool(self.map_tool)
        self._previous_tool = None
        self.site_selector.draw_button.setChecked(False)

    def _on_map_tool_set(self, new_tool, _old_tool=None) -> None:
        if self.map_tool is None or new_tool is not self.map_tool:
            self.site_selector.draw_button.setChecked(False)

    def _ask_name(self, default: str) -> Optional[str]:
        name, ok = QInputDialog.getText(self, "New site", "Name of the site:", text=default)
        return name.strip() if ok and name.strip() else None

    def _on_polygon_drawn(self, geometry: QgsGeometry) -> None:
        self._stop_drawing()
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
        if self.site is None:
            return
        canvas = self.iface.mapCanvas()
        geom = site_store.to_crs(self.site.geometry(), self.site.crs(), canvas.mapSettings().destinationCrs())
        extent = geom.boundingBox()
        extent.grow(max(extent.width(), extent.height()) * 0.05)
        canvas.setExtent(extent)
        canvas.refresh()

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
        self.site_selector.sample_button.setEnabled(False)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setValue(0)
        self.status_label.setText("Preparing the sample site…")
        return task

    def _on_sample_progress(self, value: float, message: str) -> None:
        self.progress_bar.setValue(int(value))
        if message:
            self.status_label.setText(message)

    def _sample_done(self) -> None:
        self.site_selector.sample_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.update_plan()

    def _on_sample_opened(self, _layers: dict) -> None:
        self._sample_done()
        self.progress_bar.setValue(0)
        self.status_label.setText("The sample site is ready: its two dates and example boxes are chosen. "
                                  "Press Run analysis.")

    def _on_sample_failed(self, message: str) -> None:
        self._sample_done()
        self.progress_bar.setValue(0)
        self.status_label.setText(message)
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, message, Qgis.MessageLevel.Warning, 8)

    # ================================================================ captures
    def _schedule_refresh(self, *_args) -> None:
        self._refresh_timer.start()

    def refresh_captures(self) -> None:
        if self.site is None:
            self.capture_picker.set_captures([])
        else:
            remembered = {}
            try:
                remembered = self.site.workspace().capture_dates()
            except Exception:  # noqa: BLE001 (a missing workspace only loses remembered dates)
                remembered = {}
            caps = site_captures(self.site.geometry(), self.site.crs(), remembered=remembered)
            self.capture_picker.set_captures(caps)
        self.update_plan()

    def set_capture_date(self, layer_id: str, date_iso: str) -> None:
        """Remember a user-entered capture date on the layer and in the site workspace."""
        layer = QgsProject.instance().mapLayer(layer_id)
        if not isinstance(layer, QgsRasterLayer):
            return
        set_user_date(layer, date_iso)
        cap = next((c for c in self.capture_picker.captures if c.layer_id == layer_id), None)
        if self.site is not None:
            self.site.workspace().set_capture_date(cap.key if cap else layer_id, layer.name(), date_iso)
        self.refresh_captures()

    def ask_capture_date(self, layer_id: str) -> None:
        layer = QgsProject.instance().mapLayer(layer_id)
        if layer is None:
            return
        cap = next((c for c in self.capture_picker.captures if c.layer_id == layer_id), None)
        dialog = CaptureDateDialog(layer.name(), cap.date.date if cap and cap.date else None, self)
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

    def _exemplars_source(self) -> tuple[Optional[str], Optional[str]]:
        """(path, layer name) of the examples layer, saved to the workspace when it has no file."""
        layer = self.equipment_options.exemplar_combo.currentLayer()
        if layer is None or self.site is None:
            return None, None
        if layer.providerType() == "ogr":
            parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
            if parts.get("path") and Path(parts["path"]).exists():
                return parts["path"], parts.get("layerName") or None
        out = Path(self.site.workspace_path).parent / f"examples_{layer.id()}.gpkg"
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = "GPKG"
        options.layerName = "examples"
        err = QgsVectorFileWriter.writeAsVectorFormatV3(layer, str(out), QgsProject.instance().transformContext(), options)
        if err[0] != QgsVectorFileWriter.WriterError.NoError:
            raise ValueError(f"The examples layer could not be saved for the analysis: {err[1]}")
        return str(out), "examples"

    def _web_capture_path(self, cap, gsd_m: float) -> Path:
        """Where a web capture is saved for this site (reused by later runs at the same GSD)."""
        from ..store.workspace import slugify

        name = f"{slugify(cap.name)}_{cap.layer_id[-8:]}_{cap.date_text}_{gsd_m:.2f}m.tif"
        return Path(self.site.workspace_path).parent / "captures" / slugify(name)

    def _export_gsd(self) -> float:
        """Web captures are saved at the GSD of the other (file) capture, else 0.5 m."""
        for cap in (self.capture_picker.before(), self.capture_picker.after()):
            if cap is not None and cap.path and cap.gsd_m:
                return float(cap.gsd_m)
        return 0.5

    def build_parameters(self, with_exemplars: bool = True, exports: Optional[list] = None):
        """The AnalysisParameters of the current choices; ValueError lists what is missing.

        Web captures get a GeoTIFF path in the site workspace; when `exports` is a list, the
        jobs that save them (not yet saved ones only) are appended to it.
        """
        from ..core.pipeline import AnalysisParameters
        from ..qgisio.raster_export import prepare_export

        problems = self.problems()
        if problems:
            raise ValueError(" ".join(problems))
        before, after = self.capture_picker.before(), self.capture_picker.after()
        paths = []
        for cap in (before, after):
            if cap.path:
                paths.append(cap.path)
                continue
            gsd = self._export_gsd()
            out = self._web_capture_path(cap, gsd)
            paths.append(str(out))
            if exports is not None and not out.exists():
                layer = QgsProject.instance().mapLayer(cap.layer_id)
                exports.append(prepare_export(layer, self.site.geometry(), self.site.crs(), gsd, str(out)))
        ex_path, ex_layer = self._exemplars_source() if with_exemplars else (None, None)
        analysis_id = new_analysis_id()
        return AnalysisParameters(
            site_name=self.site.name,
            before_path=paths[0],
            after_path=paths[1],
            output_dir=str(self.site.workspace().analyses_dir() / analysis_id),
            before_date=before.date.iso_date if before.date else "",
            after_date=after.date.iso_date if after.date else "",
            aoi_wkt=self.site.polygon_wkt,
            aoi_crs_wkt=self.site.crs_wkt,
            left_out_wkt=polygons_over_site_wkt(self.left_out_picker.layer(), self.site.geometry(), self.site.crs()),
            change=self.change_options.options(),
            equipment=self.equipment_options.options(ex_path, ex_layer),
        )

    def describe(self, params) -> list[str]:
        """What will run: the core's description when it has one, else what the panel knows."""
        from ..core import pipeline

        describe_run = getattr(pipeline, "describe_run", None)
        pending = [p for p in (params.before_path, params.after_path) if not Path(p).exists()]
        if describe_run is not None and not pending:
            try:
                described = describe_run(params)
                lines = getattr(described, "lines", described)
                return [str(line) for line in lines]
            except Exception as exc:  # noqa: BLE001 (the description must not block the panel)
                return [f"Cannot estimate this run: {exc}"]
        lines = []
        before, after = self.capture_picker.before(), self.capture_picker.after()
        for cap, label in ((before, "Before"), (after, "After")):
            if cap and cap.path:
                gsd = f"{cap.gsd_m:.2f} m" if cap.gsd_m else "unknown GSD"
                lines.append(f"{label}: {cap.name} ({cap.sensor or 'sensor unknown'}, {gsd})")
            elif cap:
                lines.append(f"{label}: {cap.name} is first saved over the site at {self._export_gsd():.2f} m "
                             "(the time depends on the service)")
        if params.change.enabled:
            lines.append(f"Change detection, sensitivity {params.change.sensitivity:.2f}, regions ≥ {params.change.min_area_m2:.0f} m²")
        if params.equipment.enabled:
            text = f"Equipment: {params.equipment.engine} engine"
            if params.equipment.engine == "model":
                summary = model_summary_or_none(params.equipment.model_path or "")
                if summary is not None:
                    text += f", model at {getattr(summary, 'gsd_m', 0) or 0:.2f} m/px on {', '.join(summary.providers) or 'CPU'}"
            lines.append(text)
        lines.append("Time estimate: available once the web captures are saved.")
        return lines

    def update_plan(self, *_args) -> None:
        if self.task is not None or self.sample_loader.busy:
            return
        problems = self.problems()
        if problems:
            self.plan_label.setText("<b>Before you can run:</b><br>" + "<br>".join(problems))
            self.run_button.setEnabled(False)
            return
        try:
            params = self.build_parameters(with_exemplars=False)
        except ValueError as exc:
            self.plan_label.setText(str(exc))
            self.run_button.setEnabled(False)
            return
        self.plan_label.setText("<br>".join(self.describe(params)))
        self.run_button.setEnabled(True)

    # ================================================================ running
    def run_analysis(self, *_args):
        """Start the analysis task; returns it (None when the choices are incomplete)."""
        from ..tasks import AnalysisTask

        if self.task is not None:
            return None
        exports: list = []
        try:
            params = self.build_parameters(exports=exports)
        except ValueError as exc:
            self.iface.messageBar().pushMessage(MESSAGE_TITLE, str(exc), Qgis.MessageLevel.Warning, 8)
            return None
        task = AnalysisTask(params, exports=exports)
        self._start(task)
        QgsApplication.taskManager().addTask(task)
        return task

    def _start(self, task) -> None:
        self.task = task
        self._threshold = self.change_options.sensitivity
        task.progressChanged.connect(self._on_progress)
        task.succeeded.connect(self._on_succeeded)
        task.failed.connect(self._on_failed)
        task.cancelled_cleanly.connect(self._on_cancelled)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setValue(0)
        self.status_label.setText(f"Running {task.description()}…")

    def _disconnect_task(self, task) -> None:
        for signal, slot in (
            (task.progressChanged, self._on_progress),
            (task.succeeded, self._on_succeeded),
            (task.failed, self._on_failed),
            (task.cancelled_cleanly, self._on_cancelled),
        ):
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):
                pass

    def cancel_analysis(self) -> None:
        if self.sample_loader.busy:
            self.status_label.setText("Cancelling…")
            self.sample_loader.cancel()
        if self.task is not None:
            self.status_label.setText("Cancelling…")
            self.cancel_button.setEnabled(False)
            self.task.cancel()

    def _on_progress(self, value: float) -> None:
        self.progress_bar.setValue(int(value))
        if self.task is not None and self.task.last_message:
            self.status_label.setText(self.task.last_message)

    def _finish(self) -> None:
        if self.task is not None:
            self._disconnect_task(self.task)
        self.task = None
        self.cancel_button.setEnabled(False)
        self.update_plan()

    def _on_succeeded(self, result) -> None:
        self._finish()
        self.progress_bar.setValue(100)
        record = AnalysisRecord(
            id=Path(result.output_dir).name or new_analysis_id(),
            time=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            title=result.title,
            before_path=result.params.before_path,
            after_path=result.params.after_path,
            before_date=result.params.before_date,
            after_date=result.params.after_date,
            gpkg_path=result.gpkg_path,
            score_path=result.score_path or "",
            summary=list(result.summary_lines),
            threshold=float(getattr(result.change, "threshold", None) or self._threshold),
        )
        if self.site is not None and self.site.name == result.params.site_name:
            self.site.workspace().add_analysis(record)
        else:
            site = next((s for s in self.sites if s.name == result.params.site_name), None)
            if site is not None:
                site.workspace().add_analysis(record)
        self.show_analysis(AnalysisOutputs.from_result(result), list(result.summary_lines), record.threshold)
        self.refresh_history()
        seconds = sum(result.timings_s.values()) if result.timings_s else 0.0
        self.status_label.setText(f"Done in {seconds:.0f} s." if seconds else "Done.")
        self._scroll.ensureWidgetVisible(self.results_box, 0, 0)
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, f"{result.title}: analysis finished.", Qgis.MessageLevel.Success, 5)

    def _on_failed(self, message: str) -> None:
        self._finish()
        self.progress_bar.setValue(0)
        self.status_label.setText(f"Failed: {message}")
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, message, Qgis.MessageLevel.Critical, 0)

    def _on_cancelled(self) -> None:
        self._finish()
        self.progress_bar.setValue(0)
        self.status_label.setText("Cancelled; nothing was kept.")
        self.iface.messageBar().pushMessage(MESSAGE_TITLE, "Analysis cancelled; nothing was kept.", Qgis.MessageLevel.Info, 4)

    # ================================================================ results
    def show_analysis(self, outputs: AnalysisOutputs, summary: list[str], threshold: Optional[float] = None) -> None:
        """Add the analysis's layers (one group) and list its counts."""
        self.compare.stop()
        self.end_swipe()
        if threshold is None:
            threshold = getattr(self, "_threshold", None) or self.change_options.sensitivity
        group = add_analysis_layers(outputs, float(threshold))
        self._expand_in_layers_panel(group)
        self._list_results(group, outputs, summary)
        self.zoom_to_objects(None, None)

    def _list_results(self, group, outputs: AnalysisOutputs, summary: list[str]) -> None:
        """Fill the results table from an analysis group already in the project."""
        self.shown_group_title = group.name()
        rows = read_counts(outputs.gpkg_path)
        regions_layer = group_layers(group).get(ROLE_REGIONS)
        regions = None
        if regions_layer is not None:
            area = 0.0
            idx = regions_layer.fields().indexOf("area_m2")
            for f in regions_layer.getFeatures():
                area += float(f[idx] or 0.0) if idx >= 0 else f.geometry().area()
            regions = (int(regions_layer.featureCount()), area)
        self.results_table.set_results(outputs.title, rows, regions, summary)
        self.compare.after_button.setChecked(True)

    def _relink_saved_group(self) -> None:
        """After a project loads, list the results of the analysis group it already shows."""
        if self.site is None:
            return
        records = {r.gpkg_path: r for r in self.site.workspace().analyses()}
        for child in QgsProject.instance().layerTreeRoot().children():
            gpkg = child.customProperty(GROUP_PROPERTY, "") if QgsLayerTree.isGroup(child) else ""
            if gpkg and gpkg in records:
                record = records[gpkg]
                self._list_results(child, AnalysisOutputs.from_record(record), record.summary)
                return

    def _expand_in_layers_panel(self, group) -> None:
        """Open the analysis group in the Layers panel so its legend (event colours) shows."""
        try:
            view = self.iface.layerTreeView()
            index = view.layerTreeModel().node2index(group)
            view.expand(view.proxyModel().mapFromSource(index) if hasattr(view, "proxyModel") else index)
        except Exception:  # noqa: BLE001 (cosmetic; a test interface may have no Layers panel)
            pass

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
        records = []
        if self.site is not None:
            try:
                records = self.site.workspace().analyses()
            except Exception:  # noqa: BLE001 (an unreadable workspace shows an empty history)
                records = []
        self.history.set_records(records)
        if self.site is not None:
            count = len(records)
            self.site_selector.info_label.setText(
                f"{self._site_area_text} · {count} analys{'is' if count == 1 else 'es'} so far"
            )

    def open_analysis(self, analysis_id: str) -> None:
        if self.site is None:
            return
        record = next((r for r in self.site.workspace().analyses() if r.id == analysis_id), None)
        if record is None:
            return
        if not Path(record.gpkg_path).exists():
            self.iface.messageBar().pushMessage(
                MESSAGE_TITLE, f"The results of this analysis are gone from disk ({record.gpkg_path}).", Qgis.MessageLevel.Warning, 8
            )
            return
        self.show_analysis(AnalysisOutputs.from_record(record), record.summary, record.threshold)

    def show_date(self, which: str) -> None:
        self.end_swipe()
        group = self.current_group()
        if group is not None:
            set_capture_visible(group, which)

    def swipe(self, position: float) -> None:
        """After left of a line at `position` (0..1 across the map), Before right of it; 1 ends the swipe."""
        group = self.current_group()
        layers = group_layers(group) if group is not None else {}
        if position >= 1.0 or ROLE_BEFORE_CAPTURE not in layers:
            self.end_swipe()
            return
        if self.swipe_item is None:
            set_capture_visible(group, "after")
            ids = [layers[role].id() for role in (ROLE_DETECTIONS_BEFORE, ROLE_BEFORE_CAPTURE) if role in layers]
            self.swipe_item = SwipeItem(self.iface.mapCanvas(), ids, position)
        else:
            self.swipe_item.set_position(position)

    def end_swipe(self) -> None:
        """Remove the swipe from the map and put the slider back (After everywhere)."""
        if self.swipe_item is not None:
            self.swipe_item.remove()
            self.swipe_item = None
        self.compare.reset_swipe()

    def _on_layers_will_be_removed(self, layers) -> None:
        if self.swipe_item is None:
            return
        ids = {item if isinstance(item, str) else item.id() for item in layers}
        if ids & set(self.swipe_item.layer_ids):
            self.end_swipe()

    def zoom_to_objects(self, key, event) -> None:
        """Zoom the canvas to the objects of a class (or all, or the change regions)."""
        group = self.current_group()
        if group is None:
            return
        layers = group_layers(group)
        for layer in layers.values():
            if isinstance(layer, QgsVectorLayer):
                layer.removeSelection()
        canvas = self.iface.mapCanvas()
        settings = canvas.mapSettings()
        extent = QgsRectangle()
        extent.setMinimal()
        if key == REGIONS_ROW_KEY:
            targets = [layers.get(ROLE_REGIONS)]
            class_name = None
        else:
            class_name = key
            if event == "arrived":
                targets = [layers.get(ROLE_DETECTIONS_AFTER)]
            elif event == "departed":
                targets = [layers.get(ROLE_DETECTIONS_BEFORE)]
            else:
                targets = [layers.get(ROLE_DETECTIONS_BEFORE), layers.get(ROLE_DETECTIONS_AFTER)]
            if key is None and event is None:
                targets.append(layers.get(ROLE_REGIONS))
        for layer in (t for t in targets if t is not None):
            rect = features_extent(layer, class_name, event)
            if class_name is not None or event is not None:
                layer.selectByIds(feature_ids(layer, class_name, event))
            if rect.xMinimum() <= rect.xMaximum():
                extent.combineExtentWith(settings.layerToMapCoordinates(layer, rect))
        if extent.xMinimum() > extent.xMaximum():
            return
        margin = max(extent.width(), extent.height()) * 0.15
        extent.grow(margin)
        # never zoom closer than ~60 m across: a single small object stays in context
        min_half = 0.0003 if settings.destinationCrs().isGeographic() else 30.0
        if extent.width() < 2 * min_half and extent.height() < 2 * min_half:
            c = extent.center()
            extent = QgsRectangle(c.x() - min_half, c.y() - min_half, c.x() + min_half, c.y() + min_half)
        canvas.setExtent(extent)
        canvas.refresh()
