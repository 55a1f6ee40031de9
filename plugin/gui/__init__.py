"""SiteWatch gui layer (see DESIGN.md)."""
