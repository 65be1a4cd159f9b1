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


def training_rows(with_instance: bool = True) -> tuple[list[dict[str, str]], dict[str, int]]:
    """The project's examples, plus (unless only the shipped model is wanted) this office's
    imported history (`flask routing import`) and the cases staff confirmed; returns the rows
    and how many came from the office's files and from staff."""
    from routing import model
    from routing.labeled import imported_rows

    rows, office_rows, staff_rows = model.read_examples(), [], []
    if with_instance:
        office_rows = imported_rows(settings().instance_path / "training", _taxonomy())
        with database().session() as s:
            staff_rows = confirmed_rows(s)
    return rows + office_rows + staff_rows, {"office": len(office_rows), "staff": len(staff_rows)}


def train_and_save(rows: list[dict[str, str]], folder):
    """Train on `rows` (with jieba's domain words loaded) and make the model `folder`'s current."""
    from routing import model

    _taxonomy()
    bundle = model.train(rows)
    return bundle, bundle.save(folder)


def retrain_if_changed() -> str | None:
    """Nightly: retrain on the examples plus the office's imported history and the staff-confirmed
    cases when these changed since the current model (so corrections improve routing without
    anyone running a command). Returns the new version, "shipped" when every import is gone
    and nothing is confirmed (back to the shipped model), or None when nothing changed."""
    from routing import model

    rows, counts = training_rows()
    folder = settings().instance_path / "models"
    current = model.current(folder)
    if not any(counts.values()):  # the shipped model has seen everything there is
        if current is not None:  # an import deleted since: back to the shipped model
            (folder / "CURRENT").unlink()
            return "shipped"
        return None
    if current is not None and current.stem.endswith(f"-{model.digest(rows)}"):
        return None
    return train_and_save(rows, folder)[0].version
