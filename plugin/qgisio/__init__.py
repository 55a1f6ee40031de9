"""SiteWatch qgisio layer (see DESIGN.md)."""
