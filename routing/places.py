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
    def __init__(self, places: list[Place], names: dict[str, list[int]]):
        self.places = {p.id: p for p in places}
        # Longest names first, so 早禾田村 wins over 早禾田 and 县人社局 over 人社局. A name may
        # belong to several units (two townships each with a 石门村).
        self._names = sorted(names.items(), key=lambda kv: -len(kv[0]))

    @classmethod
    def load(cls, s: Session) -> "Gazetteer":
        """All units with their names and aliases; the names become jieba words (idempotent)."""
        from routing import segment

        places = [Place(u.id, u.path, u.name, u.kind, u.parent_id, u.lat, u.lng) for u in s.scalars(sa.select(Unit))]
        names: dict[str, list[int]] = {}
        for p in places:
            names.setdefault(p.name, []).append(p.id)
        for alias, unit_id in s.execute(sa.select(UnitAlias.alias, UnitAlias.unit_id).order_by(UnitAlias.id)):
            if unit_id not in names.setdefault(alias, []):
                names[alias].append(unit_id)
        gaz = cls(places, names)
        segment.load_user_words(gaz.words)
        return gaz

    @property
    def words(self) -> list[str]:
        return [name for name, _ in self._names]

    def paths(self) -> dict[str, str]:
        """Each unit's path, and each name or alias that belongs to one unit only → its path."""
        out = {p.path: p.path for p in self.places.values()}
        out.update({name: self.places[ids[0]].path for name, ids in self._names if len(ids) == 1})
        return out

    def find(self, text: str, near: int | None = None) -> Mention | None:
        """The unit the text names. Names count only as whole words (青石板路 does not name 青石镇).
        Of several units: a department (the one asked to act, where a village only says where the
        citizen lives), else the most specific (a village over its township), then the first
        mentioned. A name shared by several units is the one under another unit the text names,
        else the one related to `near` (the QR code's unit), else left out as ambiguous."""
        from routing import segment

        starts, ends = set(), set()
        for _, a, b in segment.tokenizer().tokenize(text, HMM=segment.HMM):
            starts.add(a)
            ends.add(b)
        hits: list[tuple[int, str, list[int]]] = []
        taken: list[tuple[int, int]] = []
        for name, unit_ids in self._names:
            start = text.find(name)
            while start >= 0:
                end = start + len(name)
                whole = start in starts and end in ends
                if whole and not any(a < end and start < b for a, b in taken):  # not inside a longer name
                    taken.append((start, end))
                    hits.append((start, name, unit_ids))
                start = text.find(name, end if whole else start + 1)
        named = {ids[0] for _, _, ids in hits if len(ids) == 1}
        found: list[tuple[int, int, Mention]] = []
        for start, name, unit_ids in hits:
            unit_id = self._pick(unit_ids, named, near)
            if unit_id is None:
                continue
            place = self.places[unit_id]
            rank = -9 if place.kind == "department" else -place.depth
            found.append((rank, start, Mention(place, name)))
        return min(found, key=lambda f: (f[0], f[1]))[2] if found else None

    def _pick(self, unit_ids: list[int], named: set[int], near: int | None) -> int | None:
        if len(unit_ids) == 1:
            return unit_ids[0]
        for pool in (named, {near} if near else set()):
            fits = [u for u in unit_ids if any(self.related(u, other) for other in pool)]
            if len(fits) == 1:
                return fits[0]
        return None

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
