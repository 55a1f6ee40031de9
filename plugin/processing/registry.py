"""The list of algorithm classes the provider registers (append new modules here)."""
from __future__ import annotations

ALGORITHMS: list = []
