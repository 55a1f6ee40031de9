"""SiteWatch store layer (see DESIGN.md)."""
