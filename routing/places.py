"""Where a report is about: the round's gazetteer (unit names and aliases), or a location.

Built from the database once per routing call (a few hundred units per county: cheap), used
without Flask. A village implies its township: the unit's path carries both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.models import Unit, UnitAlias


@dataclass(frozen=True)
class Place:
    id: int
    path: str
    name: str
    kind: str  # township | village | community | department
    parent_id: int | None
    lat: float | None
    lng: float | None

    @property
    def depth(self) -> int:
        return self.path.count("/")


@dataclass(frozen=True)
class Mention:
    place: Place
    word: str  # the name or alias found in the text


class Gazetteer:
    def __init__(self, places: list[Place], names: dict[str, int]):
        self.places = {p.id: p for p in places}
        # Longest names first, so 早禾田村 wins over 早禾田 and 县人社局 over 人社局.
        self._names = sorted(names.items(), key=lambda kv: -len(kv[0]))

    @classmethod
    def load(cls, s: Session) -> "Gazetteer":
        places = [Place(u.id, u.path, u.name, u.kind, u.parent_id, u.lat, u.lng) for u in s.scalars(sa.select(Unit))]
        names = {p.name: p.id for p in places}
        for alias, unit_id in s.execute(sa.select(UnitAlias.alias, UnitAlias.unit_id)):
            names.setdefault(alias, unit_id)
        return cls(places, names)

    @property
    def words(self) -> list[str]:
        return [name for name, _ in self._names]

    def find(self, text: str) -> Mention | None:
        """The unit the text names. Of several: a department (the one asked to act, where a
        village only says where the citizen lives), else the most specific (a village over its
        township), then the first mentioned."""
        found: list[tuple[int, int, Mention]] = []
        taken: list[tuple[int, int]] = []
        for name, unit_id in self._names:
            start = text.find(name)
            while start >= 0:
                end = start + len(name)
                if not any(a < end and start < b for a, b in taken):  # inside a longer name already
                    taken.append((start, end))
                    place = self.places[unit_id]
                    rank = -9 if place.kind == "department" else -place.depth
                    found.append((rank, start, Mention(place, name)))
                start = text.find(name, end)
        return min(found, key=lambda f: (f[0], f[1]))[2] if found else None

    def lineage(self, unit_id: int) -> list[int]:
        """The unit and its ancestors, nearest first."""
        out, cur = [], self.places.get(unit_id)
        while cur is not None:
            out.append(cur.id)
            cur = self.places.get(cur.parent_id) if cur.parent_id else None
        return out

    def related(self, a: int, b: int) -> bool:
        """Same unit, or one contains the other (a township and its village)."""
        return a in self.lineage(b) or b in self.lineage(a)

    def nearest(self, lat: float, lng: float, max_km: float = 15.0) -> Place | None:
        """The closest unit with coordinates within `max_km` (the most specific on a tie)."""
        best: tuple[float, int, Place] | None = None
        for p in self.places.values():
            if p.lat is None or p.lng is None:
                continue
            d = _km(lat, lng, p.lat, p.lng)
            if d <= max_km and (best is None or (d, -p.depth) < best[:2]):
                best = (d, -p.depth, p)
        return best[2] if best else None


def _km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371 * math.asin(math.sqrt(h))
