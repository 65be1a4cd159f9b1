"""The routing job: enqueued after each submission; idempotent (a routed case is left alone)."""
from __future__ import annotations

import functools

from core.app import database, settings


@functools.cache
def _taxonomy():
    """The taxonomy and jieba's user words: once per process."""
    from routing import segment
    from routing.taxonomy import load_taxonomy

    tax = load_taxonomy()
    segment.load_user_words(tax.user_words)
    return tax


def router():
    """A router on this instance's current model. The model file is loaded once per process
    (`routing.model.load` keeps it); a model retrained by another process is picked up."""
    from routing import model
    from routing.service import Router

    return Router(model.load(settings().instance_path / "models"), _taxonomy())


def route_case(case_id: int) -> str:
    from routing.service import route_case as route

    with database().session() as s:
        decision = route(s, router(), case_id)
        s.commit()
    return "already routed" if decision is None else f"{decision.kind}/{decision.domain} → {decision.group or 'office'}"


def requeue_unrouted(older_than_s: int = 300) -> int:
    """Cases whose routing job was lost (Redis down at submission, a worker killed, an
    in-process thread gone with its server): queue them again. Routing is idempotent."""
    from datetime import timedelta

    import sqlalchemy as sa

    from core.app import jobs
    from core.db import utcnow
    from core.models import Case

    with database().session() as s:
        ids = list(s.scalars(sa.select(Case.id).where(
            Case.routed_at.is_(None), Case.created_at < utcnow() - timedelta(seconds=older_than_s))))
    for case_id in ids:
        jobs().enqueue(route_case, case_id, job_id=f"route-{case_id}")
    return len(ids)


def confirmed_rows(s) -> list[dict[str, str]]:
    """Cases whose labels staff confirmed or corrected, as training rows (oldest first)."""
    import sqlalchemy as sa

    from core.models import Case

    return [{"text": text, "kind": kind or "", "domain": domain or ""}
            for text, kind, domain in s.execute(sa.select(Case.text, Case.kind, Case.domain)
                                                .where(Case.labels_confirmed.is_(True)).order_by(Case.id))]


def retrain_if_corrected() -> str | None:
    """Nightly: retrain on the examples plus the staff-confirmed cases when these changed since
    the current model (so corrections improve routing without anyone running a command).
    Returns the new version, or None when the current model already saw every confirmation."""
    from routing import model

    with database().session() as s:
        staff_rows = confirmed_rows(s)
    if not staff_rows:
        return None  # the shipped model has seen everything there is
    rows = model.read_examples() + staff_rows
    folder = settings().instance_path / "models"
    current = model.current(folder)
    if current is not None and current.stem.endswith(f"-{model.digest(rows)}"):
        return None
    _taxonomy()  # jieba's user words, as `flask routing train` has them
    bundle = model.train(rows)
    bundle.save(folder)
    return bundle.version
