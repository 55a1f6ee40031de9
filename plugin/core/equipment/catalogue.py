"""The equipment catalogue: classes with real dimensions, read from JSON data files."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from ..errors import InputError

DEFAULT_CATALOGUE = Path(__file__).resolve().parents[3] / "resources" / "catalogue" / "equipment.json"


@dataclass(frozen=True)
class EquipmentClass:
    id: str  # noqa: A003
    name: str
    category: str
    length_m: float
    width_m: float
    min_length_m: Optional[float] = None
    max_length_m: Optional[float] = None

    @property
    def length_range_m(self) -> tuple[float, float]:
        """Plausible object lengths: the given range, else +-25 % around the nominal length."""
        low = self.min_length_m if self.min_length_m is not None else 0.75 * self.length_m
        high = self.max_length_m if self.max_length_m is not None else 1.25 * self.length_m
        return low, high


@dataclass
class Catalogue:
    classes: dict[str, EquipmentClass]
    categories: dict[str, dict]

    def get(self, class_id: str) -> EquipmentClass:
        try:
            return self.classes[class_id]
        except KeyError:
            known = ", ".join(sorted(self.classes))
            raise InputError(f"Unknown equipment class '{class_id}'. Known classes: {known}") from None

    def category_label(self, class_id: str) -> str:
        """Human label of a class's category ('heavy transport'), or the id for unknown ones."""
        cls = self.classes.get(class_id)
        if cls is None or cls.category == "generic":  # generic classes name themselves
            return class_id
        return self.categories.get(cls.category, {}).get("label", cls.category)

    def detector_class(self, class_id: str) -> str:
        """The coarse class a detector reports for this class (aircraft, helicopter, vehicle, ship)."""
        cls = self.classes.get(class_id)
        if cls is None:
            return class_id
        coarse = self.categories.get(cls.category, {}).get("detector_class")
        return coarse or cls.id

    def suggest(self, length_m: float, width_m: float, candidates: Optional[Iterable[str]] = None,
                top: int = 3) -> list[tuple[str, float]]:
        """Classes whose size best fits an object, as (class id, fit 0..1), best first."""
        pool = [self.classes[c] for c in candidates] if candidates else list(self.classes.values())
        scored = []
        for cls in pool:
            if cls.category == "generic":
                continue
            err = abs(length_m - cls.length_m) / cls.length_m + abs(width_m - cls.width_m) / cls.width_m
            scored.append((cls.id, max(0.0, 1.0 - err / 2.0)))
        scored.sort(key=lambda item: item[1], reverse=True)
        return scored[:top]


def load_catalogue(*paths: str | Path) -> Catalogue:
    """Load the built-in catalogue, then user files that add or override classes."""
    classes: dict[str, EquipmentClass] = {}
    categories: dict[str, dict] = {}
    for path in (DEFAULT_CATALOGUE, *paths):
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"Cannot read the equipment catalogue {path}: {exc}") from exc
        categories.update(data.get("categories", {}))
        for entry in data.get("classes", []):
            try:
                cls = EquipmentClass(**entry)
            except TypeError as exc:
                raise InputError(f"Bad class entry in {path}: {entry} ({exc})") from exc
            if cls.length_m <= 0 or cls.width_m <= 0:
                raise InputError(f"Class '{cls.id}' in {path} needs positive length_m and width_m")
            classes[cls.id] = cls
    return Catalogue(classes, categories)
