"""SiteWatch QGIS plugin entry point."""


def classFactory(iface):  # noqa: N802 (QGIS API name)
    """Return the plugin instance; imported lazily so loading the package stays cheap."""
    from .plugin.sitewatch_plugin import SiteWatchPlugin

    return SiteWatchPlugin(iface)
