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
