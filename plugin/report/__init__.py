"""The analyst's report (HTML with a PDF beside it) and the timeline chart as an image."""
