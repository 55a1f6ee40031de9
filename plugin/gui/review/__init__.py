"""The review panel and its map tool: keyboard review of an analysis's objects and change regions."""
