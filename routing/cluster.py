"""Duplicate clustering: reports about the same issue in the same unit within a window.

Similarity is the cosine of character-bigram counts (robust to jieba's choices and to the
citizens' wording); a cluster is identified by its first case. Its size raises the priority.
Routing jobs run in any order (two workers at once, a lost job queued again later), so a unit's
reports are clustered one job at a time (`lock_unit`) and a case looks both ways in time: the
clusters come out as if the jobs had run in the order the reports were submitted.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.models import Case, Unit
from core.models.case import NO_TEXT

WINDOW = timedelta(days=30)
THRESHOLD = 0.45
_NOISE = re.compile(r"[\s\W_0-9a-zA-Z]+")


def bigrams(text: str) -> Counter:
    t = _NOISE.sub("", text)
    return Counter(t[i:i + 2] for i in range(len(t) - 1))


def similarity(a: Counter, b: Counter) -> float:
    if not a or not b:
        return 0.0
    dot = sum(n * b[g] for g, n in a.items() if g in b)
    return dot / math.sqrt(sum(n * n for n in a.values()) * sum(n * n for n in b.values()))


def lock_unit(s: Session, unit_id: int) -> None:
    """Cluster one unit's reports one routing job at a time, until the caller commits: two jobs
    at once would each miss the other's case. On PostgreSQL a lock on the unit's row that does
    not hold up cases being filed about it (FOR NO KEY UPDATE); SQLite writes one transaction
    at a time anyway."""
    s.execute(sa.select(Unit.id).where(Unit.id == unit_id).with_for_update(key_share=True))


def find_cluster(s: Session, case: Case) -> tuple[int | None, float]:
    """The cluster (first case id) this case repeats, with the best similarity found: among the
    same unit's routed cases submitted within the WINDOW of it, before or after (the window
    counts from the case, not from when its job runs). Reports without words are never
    clustered."""
    if case.unit_id is None:
        return None, 0.0
    mine = bigrams(case.text.replace(NO_TEXT, ""))
    best: tuple[float, int | None] = (0.0, None)
    rows = s.execute(sa.select(Case.id, Case.text, Case.cluster_id).where(
        Case.unit_id == case.unit_id, Case.id != case.id, Case.text != NO_TEXT,
        Case.created_at >= case.created_at - WINDOW, Case.created_at <= case.created_at + WINDOW,
        Case.routed_at.is_not(None)).order_by(Case.id.desc()).limit(300))
    for other_id, text, cluster_id in rows:
        sim = similarity(mine, bigrams(text))
        if sim > best[0]:
            best = (sim, cluster_id or other_id)
    return (best[1], best[0]) if best[0] >= THRESHOLD else (None, best[0])


def join_cluster(s: Session, case: Case, root_id: int) -> int:
    """Put the case into the cluster `root_id`, and return the cluster's first case: the case
    itself when it was submitted before that one (its job ran late), taking the cluster over."""
    first = s.get(Case, root_id)
    if (case.created_at, case.id) < (first.created_at, first.id):
        s.execute(sa.update(Case).where(sa.or_(Case.id == root_id, Case.cluster_id == root_id))
                  .values(cluster_id=case.id))
        case.cluster_id = None
        return case.id
    case.cluster_id = root_id
    return root_id


def cluster_size(s: Session, root_id: int) -> int:
    return 1 + (s.scalar(sa.select(sa.func.count()).where(Case.cluster_id == root_id)) or 0)
