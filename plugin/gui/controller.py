"""Between the dock and the core: what the panel's choices mean, without a widget in sight.

The dock collects choices into `PanelChoices` and shows what the controller answers: the
AnalysisParameters of a run (the contract sitewatch:analyzesite builds too), the run's
description (the core's describe_run), the running AnalysisTask and its outcome, the record
in the site's history, the captures of a site, and which objects a results row points at.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from qgis.core import (
    QgsApplication,
    QgsLayerTree,
    QgsProject,
    QgsProviderRegistry,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorFileWriter,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QObject, pyqtSignal

from ..core.parameters import AnalysisParameters, ChangeOptions, EquipmentOptions
from ..layers.analysis_layers import (
    GROUP_PROPERTY,
    ROLE_DETECTIONS_AFTER,
    ROLE_DETECTIONS_BEFORE,
    ROLE_REGIONS,
    group_layers,
)
from ..qgisio import sites as site_store
from ..qgisio.captures import LayerCapture, set_user_date, site_captures
from ..qgisio.results import feature_ids, features_extent
from ..qgisio.vectors import polygons_over_site_wkt
from ..store.workspace import AnalysisRecord, new_analysis_id, slugify
from .results import REGIONS_ROW_KEY

WEB_CAPTURE_GSD_M = 0.5  # web captures are saved at the other capture's GSD, else this


@dataclass
class PanelChoices:
    """What the analyst chose in the panel (the dock fills it from its widgets)."""

    site: site_store.Site
    before: LayerCapture
    after: LayerCapture
    change: ChangeOptions
    equipment: EquipmentOptions  # without the examples file: the controller saves the layer
    examples_layer: Optional[QgsVectorLayer] = None
    left_out_layer: Optional[QgsVectorLayer] = None


class AnalysisController(QObject):
    """Builds, describes, runs and records analyses; the dock shows them.

    `progress(percent, message)` while a run goes; then one of `succeeded(result, record)`,
    `failed(message)` or `cancelled()`."""

    progress = pyqtSignal(float, str)
    succeeded = pyqtSignal(object, object)
    failed = pyqtSignal(str)
    cancelled = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.task = None

    # ------------------------------------------------------------ parameters
    def build_parameters(self, choices: PanelChoices, with_exemplars: bool = True,
                         exports: Optional[list] = None) -> AnalysisParameters:
        """The AnalysisParameters of the panel's choices. Web captures get a GeoTIFF path in
        the site workspace; when `exports` is a list, the jobs that save them (not yet saved
        ones only) are appended to it. ValueError when the examples cannot be saved."""
        from ..qgisio.raster_export import prepare_export

        site = choices.site
        paths = []
        gsd = export_gsd(choices.before, choices.after)
        for cap in (choices.before, choices.after):
            if cap.path:
                paths.append(cap.path)
                continue
            out = web_capture_path(site, cap, gsd)
            paths.append(str(out))
            if exports is not None and not out.exists():
                layer = QgsProject.instance().mapLayer(cap.layer_id)
                exports.append(prepare_export(layer, site.geometry(), site.crs(), gsd, str(out)))
        equipment = choices.equipment
        if equipment.engine == "exemplar" and with_exemplars:
            path, layer = examples_file(choices.examples_layer, site)
            equipment = replace(equipment, exemplars_path=path, exemplars_layer=layer)
        return AnalysisParameters(
            site_name=site.name,
            before_path=paths[0],
            after_path=paths[1],
            output_dir=str(site.workspace().analyses_dir() / new_analysis_id()),
            before_date=choices.before.date.iso_date if choices.before.date else "",
            after_date=choices.after.date.iso_date if choices.after.date else "",
            aoi_wkt=site.polygon_wkt,
            aoi_crs_wkt=site.crs_wkt,
            left_out_wkt=polygons_over_site_wkt(choices.left_out_layer, site.geometry(), site.crs()),
            change=choices.change,
            equipment=equipment,
        )

    @staticmethod
    def describe(params: AnalysisParameters) -> list[str]:
        """What the run will do and roughly how long it takes (the core's description)."""
        from ..core.pipeline import describe_run

        try:
            return list(describe_run(params).lines)
        except Exception as exc:  # noqa: BLE001 (the description must not block the panel)
            return [f"Cannot estimate this run: {exc}"]

    # ------------------------------------------------------------ running
    @property
    def busy(self) -> bool:
        return self.task is not None

    def start(self, params: AnalysisParameters, exports: Optional[list] = None):
        """Run the analysis as a background task; returns it (None while another runs)."""
        from ..tasks import AnalysisTask

        if self.task is not None:
            return None
        task = AnalysisTask(params, exports=exports)
        self.task = task
        task.progressChanged.connect(self._on_progress)
        task.succeeded.connect(self._on_succeeded)
        task.failed.connect(self._on_failed)
        task.cancelled_cleanly.connect(self._on_cancelled)
        QgsApplication.taskManager().addTask(task)
        return task

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def shutdown(self) -> None:
        """Forget the running task (cancelled): nothing is reported any more."""
        task, self.task = self.task, None
        if task is not None:
            self._disconnect(task)
            try:
                task.cancel()
            except RuntimeError:
                pass

    def _disconnect(self, task) -> None:
        for signal, slot in ((task.progressChanged, self._on_progress), (task.succeeded, self._on_succeeded),
                             (task.failed, self._on_failed), (task.cancelled_cleanly, self._on_cancelled)):
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):
                pass

    def _done(self):
        task, self.task = self.task, None
        if task is not None:
            self._disconnect(task)
        return task

    def _on_progress(self, value: float) -> None:
        if self.task is not None:
            self.progress.emit(float(value), self.task.last_message)

    def _on_succeeded(self, result) -> None:
        self._done()
        self.succeeded.emit(result, record_in_history(result))

    def _on_failed(self, message: str) -> None:
        self._done()
        self.failed.emit(message)

    def _on_cancelled(self) -> None:
        self._done()
        self.cancelled.emit()


# ---------------------------------------------------------------- a finished run
def done_text(result) -> str:
    """What the panel says when a run has finished: how long it took."""
    seconds = sum(result.timings_s.values()) if result.timings_s else 0.0
    return f"Done in {seconds:.0f} s." if seconds else "Done."


def record_in_history(result) -> AnalysisRecord:
    """Add a finished run to its site's history (the site of result.params.site_name)."""
    from ..store.history import analysis_record

    record = analysis_record(result)
    site = next((s for s in site_store.load_sites() if s.name == result.params.site_name), None)
    if site is not None:
        site.workspace().add_analysis(record)
    return record



# ---------------------------------------------------------------- sites and captures
def site_area_text(site: site_store.Site) -> str:
    try:
        area = site.area_m2()
    except Exception:  # noqa: BLE001 (an odd CRS: show the rest anyway)
        return "area unknown"
    return f"{area / 1e6:.2f} km²" if area >= 1e5 else f"{area:,.0f} m²"


def workspace_tip(site: site_store.Site) -> str:
    return f"Site workspace (history, entered dates, results): {Path(site.workspace_path).parent}"


def capture_date_prompt(layer_id: str, captures: list) -> Optional[tuple]:
    """(layer name, its known capture date or None) to ask a date for; None when the layer is gone."""
    layer = QgsProject.instance().mapLayer(layer_id)
    if layer is None:
        return None
    cap = next((c for c in captures if c.layer_id == layer_id), None)
    return layer.name(), (cap.date.date if cap and cap.date else None)


def site_info_text(area_text: str, analyses: int) -> str:
    """The line under the site: its area and how many analyses it has."""
    return f"{area_text} · {analyses} analys{'is' if analyses == 1 else 'es'} so far"


def site_history(site: Optional[site_store.Site]) -> list[AnalysisRecord]:
    """The site's analyses, newest first (none for an unreadable workspace)."""
    if site is None:
        return []
    try:
        return site.workspace().analyses()
    except Exception:  # noqa: BLE001 (an unreadable workspace shows an empty history)
        return []


def record_to_open(site: Optional[site_store.Site], analysis_id: str) -> Optional[AnalysisRecord]:
    """The site's analysis `analysis_id` (None when it has none such); ValueError when its
    results are gone from disk."""
    record = next((r for r in site_history(site) if r.id == analysis_id), None)
    if record is not None and not Path(record.gpkg_path).exists():
        raise ValueError(f"The results of this analysis are gone from disk ({record.gpkg_path}).")
    return record


def captures_of(site: Optional[site_store.Site]) -> list[LayerCapture]:
    """The project's raster layers over the site, with the dates entered for it."""
    if site is None:
        return []
    try:
        remembered = site.workspace().capture_dates()
    except Exception:  # noqa: BLE001 (a missing workspace only loses remembered dates)
        remembered = {}
    return site_captures(site.geometry(), site.crs(), remembered=remembered)


def remember_capture_date(site: Optional[site_store.Site], layer_id: str, date_iso: str,
                          captures: list[LayerCapture]) -> None:
    """Keep a user-entered capture date on the layer and in the site workspace."""
    layer = QgsProject.instance().mapLayer(layer_id)
    if not isinstance(layer, QgsRasterLayer):
        return
    set_user_date(layer, date_iso)
    cap = next((c for c in captures if c.layer_id == layer_id), None)
    if site is not None:
        site.workspace().set_capture_date(cap.key if cap else layer_id, layer.name(), date_iso)


def export_gsd(before: LayerCapture, after: LayerCapture) -> float:
    """Web captures are saved at the GSD of the other (file) capture, else WEB_CAPTURE_GSD_M."""
    for cap in (before, after):
        if cap is not None and cap.path and cap.gsd_m:
            return float(cap.gsd_m)
    return WEB_CAPTURE_GSD_M


def web_capture_path(site: site_store.Site, cap: LayerCapture, gsd_m: float) -> Path:
    """Where a web capture is saved for this site (reused by later runs at the same GSD)."""
    name = f"{slugify(cap.name)}_{cap.layer_id[-8:]}_{cap.date_text}_{gsd_m:.2f}m.tif"
    return Path(site.workspace_path).parent / "captures" / slugify(name)


def examples_file(layer: Optional[QgsVectorLayer], site: site_store.Site) -> tuple[Optional[str], Optional[str]]:
    """(path, layer name) of the examples layer; a layer without a file of its own is saved
    as a GeoPackage in the site workspace first."""
    if layer is None:
        return None, None
    if layer.providerType() == "ogr":
        parts = QgsProviderRegistry.instance().decodeUri("ogr", layer.source())
        if parts.get("path") and Path(parts["path"]).exists():
            return parts["path"], parts.get("layerName") or None
    out = Path(site.workspace_path).parent / f"examples_{layer.id()}.gpkg"
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = "examples"
    err = QgsVectorFileWriter.writeAsVectorFormatV3(layer, str(out), QgsProject.instance().transformContext(), options)
    if err[0] != QgsVectorFileWriter.WriterError.NoError:
        raise ValueError(f"The examples layer could not be saved for the analysis: {err[1]}")
    return str(out), "examples"


# ---------------------------------------------------------------- results on the map
def shown_analysis_group(site: Optional[site_store.Site]):
    """(group, record) of the site's analysis the project already shows, else (None, None)."""
    records = {r.gpkg_path: r for r in site_history(site)}
    for child in QgsProject.instance().layerTreeRoot().children():
        gpkg = child.customProperty(GROUP_PROPERTY, "") if QgsLayerTree.isGroup(child) else ""
        if gpkg and gpkg in records:
            return child, records[gpkg]
    return None, None


def record_of_group(site: Optional[site_store.Site], group) -> Optional[AnalysisRecord]:
    """The site's analysis that an analysis group of the project shows (None: none of its own)."""
    gpkg = group.customProperty(GROUP_PROPERTY, "") if group is not None else ""
    return next((r for r in site_history(site) if gpkg and r.gpkg_path == gpkg), None)


def expand_in_layers_panel(iface, group) -> None:
    """Open an analysis group in the Layers panel so its legend (event colours) shows."""
    try:
        view = iface.layerTreeView()
        index = view.layerTreeModel().node2index(group)
        view.expand(view.proxyModel().mapFromSource(index) if hasattr(view, "proxyModel") else index)
    except Exception:  # noqa: BLE001 (cosmetic; a test interface may have no Layers panel)
        pass


def regions_total(group) -> Optional[tuple[int, float]]:
    """(number, area m²) of the change regions of an analysis group; None without regions."""
    layer = group_layers(group).get(ROLE_REGIONS)
    if layer is None:
        return None
    idx = layer.fields().indexOf("area_m2")
    area = sum(float(f[idx] or 0.0) if idx >= 0 else f.geometry().area() for f in layer.getFeatures())
    return int(layer.featureCount()), area


def row_roles(key: Optional[str], event: Optional[str]) -> list[str]:
    """The layers a results row points at: its class's detections where its event shows them
    (arrivals after, departures before), the change regions, or all of them."""
    if key == REGIONS_ROW_KEY:
        return [ROLE_REGIONS]
    if event == "arrived":
        return [ROLE_DETECTIONS_AFTER]
    if event == "departed":
        return [ROLE_DETECTIONS_BEFORE]
    roles = [ROLE_DETECTIONS_BEFORE, ROLE_DETECTIONS_AFTER]
    return roles + [ROLE_REGIONS] if key is None and event is None else roles


def select_row_objects(group, key: Optional[str], event: Optional[str], map_settings) -> Optional[QgsRectangle]:
    """Select the objects of a results row in their layers; returns the map extent to show
    them (a margin around, never closer than about 60 m across), None when there are none."""
    layers = group_layers(group)
    for layer in layers.values():
        if isinstance(layer, QgsVectorLayer):
            layer.removeSelection()
    class_name = None if key == REGIONS_ROW_KEY else key
    extent = QgsRectangle()
    extent.setMinimal()
    for layer in (layers.get(role) for role in row_roles(key, event)):
        if layer is None:
            continue
        rect = features_extent(layer, class_name, event)
        if class_name is not None or event is not None:
            layer.selectByIds(feature_ids(layer, class_name, event))
        if rect.xMinimum() <= rect.xMaximum():
            extent.combineExtentWith(map_settings.layerToMapCoordinates(layer, rect))
    if extent.xMinimum() > extent.xMaximum():
        return None
    extent.grow(max(extent.width(), extent.height()) * 0.15)
    min_half = 0.0003 if map_settings.destinationCrs().isGeographic() else 30.0
    if extent.width() < 2 * min_half and extent.height() < 2 * min_half:
        c = extent.center()
        extent = QgsRectangle(c.x() - min_half, c.y() - min_half, c.x() + min_half, c.y() + min_half)
    return extent
