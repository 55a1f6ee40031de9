"""Exceptions the core raises; each message is meant for the user."""
from __future__ import annotations


class SiteWatchError(Exception):
    """Base class: the message explains what is wrong and what to do."""


class InputError(SiteWatchError):
    """An input raster, vector or parameter is unusable."""


class RastersDoNotOverlap(InputError):
    """Two captures share no area (inside the AOI when one is given)."""


class MissingCRS(InputError):
    """A georeferenced input has no coordinate reference system."""


class UnreadableRaster(InputError):
    """GDAL cannot open or read a raster."""


class EmptyRaster(InputError):
    """A raster (or the overlap) holds only nodata."""


class BandMismatch(InputError):
    """Band counts or meanings differ and no mapping was given."""


class CoregistrationFailed(SiteWatchError):
    """The images do not correlate well enough to estimate a shift."""


class ModelError(SiteWatchError):
    """A detection model file is missing, malformed or incompatible."""


class MissingDependency(SiteWatchError):
    """An optional package is needed for this feature and is not installed."""


class Cancelled(SiteWatchError):
    """The user cancelled the run; nothing was written."""
