"""SiteWatch layers layer (see DESIGN.md)."""
