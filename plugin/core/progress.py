"""Progress and cancellation without QGIS: the core takes a plain callback."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from .errors import Cancelled

# fraction in 0..1, message -> False to cancel (None or True keeps going)
ProgressCallback = Callable[[float, str], Optional[bool]]


@dataclass
class Progress:
    """Maps the progress of one stage onto a slice of the whole run."""

    callback: Optional[ProgressCallback] = None
    start: float = 0.0
    span: float = 1.0

    def report(self, fraction: float, message: str = "") -> None:
        """Report progress within this slice; raise Cancelled when the user asked."""
        if self.callback is None:
            return
        value = self.start + self.span * min(max(fraction, 0.0), 1.0)
        if self.callback(value, message) is False:
            raise Cancelled("Cancelled by the user; no output was written.")

    def stage(self, start: float, end: float) -> "Progress":
        """A child slice covering [start, end] of this slice."""
        return Progress(self.callback, self.start + self.span * start, self.span * (end - start))
