"""SiteWatch processing layer (see DESIGN.md)."""
