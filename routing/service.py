"""The router (分办): classify a report, find its unit and group, set its priority, explain.

`Router.decide` works on text alone (for `flask routing explain` and `eval`); `route_case`
applies a decision to a stored case, once. Runs without Flask: the caller passes a session.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from core import clock, lifecycle
from core.db import utcnow
from core.models import Attachment, Case, CaseEvent, CaseStatus, Group, QrCode
from core.models.case import NO_TEXT
from routing.segment import CONTENT
from routing.cluster import cluster_size, find_cluster, join_cluster, lock_unit
from routing.groups import choose_assignee, inspecting_group
from routing.model import ModelBundle
from routing.places import Gazetteer
from routing.rules import names_top_official, strong_signal
from routing.taxonomy import Taxonomy


# Fewer letters/digits/CJK characters than this and there is nothing to classify.
MIN_CHARS = 2


def has_words(text: str | None) -> bool:
    """Whether a report says anything in words (not only a photo, a voice or a location)."""
    return len(CONTENT.findall((text or "").replace(NO_TEXT, ""))) >= MIN_CHARS


@dataclass
class Decision:
    kind: str | None  # None: nothing in words to classify; staff label it
    domain: str | None
    unit: str | None  # path
    group: str | None  # code; None: the office's triage queue
    priority: int
    evidence: dict = field(default_factory=dict)
    unit_id: int | None = None
    group_id: int | None = None

    def public(self) -> dict:
        """The JSON of `flask routing explain` (the design's contract)."""
        d = asdict(self)
        return {k: d[k] for k in ("kind", "domain", "unit", "group", "priority", "evidence")}


class Router:
    def __init__(self, model: ModelBundle, taxonomy: Taxonomy):
        self.model = model
        self.taxonomy = taxonomy

    def decide(self, s: Session, text: str, qr: QrCode | None = None,
               location: tuple[float, float] | None = None, gaz: Gazetteer | None = None) -> Decision:
        today = clock.today()
        gaz = gaz or Gazetteer.load(s)
        evidence: dict = {"model_version": self.model.version}
        if qr is not None and qr.retired_at is not None:
            # The office took this poster out of the deployment: its group and unit no longer hold.
            evidence["qr"] = f"qr code {qr.scene} retired: ignored"
            qr = None

        # 1. Classify: the model, unless a strong signal overrules it. A report without words
        # (a photo, a voice message WeChat did not transcribe) is left for staff to label.
        kind = domain = None
        if has_words(text):
            kind_scores = self.model.kind_scores(text)
            domain_scores = self.model.domain_scores(text)
            kind = max(kind_scores, key=kind_scores.get)
            domain = max(domain_scores, key=domain_scores.get)
            evidence["scores"] = {"kind": _top(kind_scores), "domain": _top(domain_scores)}
            evidence["words"] = {"kind": self.model.kind_words(text, kind),
                                 "domain": self.model.domain_words(text, domain)}
            hit = strong_signal(text, self.taxonomy)
            if hit is not None:
                evidence["rule"] = {"name": hit.rule, "words": list(hit.words), "model_said": kind}
                kind = hit.kind
        else:
            evidence["unclassified"] = "no words to classify: staff label it"

        # 2. The unit: named in the text, else the QR code's, else the nearest to a location.
        unit_id, how = None, None
        if (m := gaz.find(text, near=qr.unit_id if qr else None)) is not None:
            unit_id, how = m.place.id, f"named: {m.word}"
        elif qr is not None and qr.unit_id is not None:
            unit_id, how = qr.unit_id, f"qr: {qr.scene}"
        elif location is not None and (p := gaz.nearest(*location)) is not None:
            unit_id, how = p.id, "location"
        if how:
            evidence["unit"] = how

        # 3. The group: the one inspecting the unit in an active round, else the QR code's, else
        # the office. Out-of-scope reports always go to the office, which refers them on.
        group = None
        if kind == "out_of_scope":
            evidence["group"] = "out of scope: office queue"
        elif unit_id is not None and (group := inspecting_group(s, gaz, unit_id, today)) is not None:
            evidence["group"] = "inspects the unit"
        elif qr is not None and qr.group_id is not None and qr.live_on(today):
            group = s.get(Group, qr.group_id)
            evidence["group"] = "qr code's group"
        elif qr is not None and qr.group_id is not None:  # outside its round: no group in the field
            evidence["group"] = {"over": f"qr code's round ended {qr.round.end}: office queue",
                                 "ahead": f"qr code's round starts {qr.round.start}: office queue"}[qr.state(today)]
        else:
            evidence["group"] = "no group: office queue"

        # 4. Priority: a clue about a top official (一把手) rises; clusters add later.
        priority = 0
        if kind == "clue":
            priority += 1
            if top := names_top_official(text, self.taxonomy):
                priority += 2
                evidence["top_official"] = top
        evidence["base_priority"] = priority
        unit = gaz.places[unit_id].path if unit_id is not None else None
        return Decision(kind, domain, unit, group.code if group else None, priority, evidence, unit_id,
                        group.id if group else None)


def route_case(s: Session, router: Router, case_id: int) -> Decision | None:
    """Route a stored case once: labels, unit, group, assignee, cluster, priority, evidence and a
    CaseEvent. A case already routed is left alone (the job may run twice). A person's decision
    wins over a late routing job: once staff acted on the case (assigned, corrected, moved it),
    routing only records its advice in the evidence."""
    now = utcnow()
    case = s.get(Case, case_id, with_for_update=True)
    if case is None or case.routed_at is not None:
        return None
    location = s.execute(sa.select(Attachment.lat, Attachment.lng).where(
        Attachment.case_id == case.id, Attachment.kind == "location").limit(1)).first()
    gaz = Gazetteer.load(s)
    decision = router.decide(s, case.text, case.qr_code, tuple(location) if location else None, gaz)
    case.routed_at, case.model_version = now, router.model.version
    if _staff_acted(s, case):
        decision.evidence["staff_first"] = "staff acted before routing: advice only, nothing changed"
        case.evidence = decision.evidence
        lifecycle.record(s, case, lifecycle.SYSTEM, "routed", "已由工作人员处理，路由结果仅供参考")
        return decision
    case.kind, case.domain = decision.kind, decision.domain
    # Routing saw the poster (and knows whether it still holds): its unit decides. Only a case
    # that came without one keeps a unit given at intake when routing finds none.
    if decision.unit_id is not None or case.qr_code_id is not None:
        case.unit_id = decision.unit_id
    case.group_id = decision.group_id
    if case.group_id is not None:
        assignee, set_aside = choose_assignee(s, gaz, case.group_id, case.unit_id)
        case.assignee_id = assignee.id if assignee else None
        if set_aside:
            decision.evidence["conflict_of_interest"] = set_aside
        if assignee is None and set_aside:
            # Every member comes from the unit concerned: the office gives it to another group
            # (交叉巡察) rather than leave it with this one.
            decision.evidence["group"] = f"every member of {decision.group} is conflicted: office queue"
            case.group_id, decision.group, decision.group_id = None, None, None
    case.priority = max(case.priority or 0, decision.priority)
    s.flush()
    root, sim = None, 0.0
    if case.unit_id is not None and has_words(case.text):
        lock_unit(s, case.unit_id)
        root, sim = find_cluster(s, case)
    if root is not None:
        root = join_cluster(s, case, root)
        size = cluster_size(s, root)
        decision.evidence["cluster"] = {"first_case": root, "size": size, "similarity": round(sim, 2)}
        _raise_cluster(s, root, min(size - 1, 3))
        decision.priority = case.priority
    case.evidence = decision.evidence
    if case.group_id is not None and case.status == CaseStatus.received.value:
        lifecycle.move(s, case, CaseStatus.assigned, lifecycle.SYSTEM, "routed", _note(decision, case))
    else:
        lifecycle.record(s, case, lifecycle.SYSTEM, "routed", _note(decision, case))
    return decision


def _staff_acted(s: Session, case: Case) -> bool:
    """Whether a staff member decided anything about the case (entering a letter is not deciding)."""
    return s.scalar(sa.select(sa.exists().where(CaseEvent.case_id == case.id, CaseEvent.actor == "staff",
                                                CaseEvent.action != lifecycle.OPENED)))


def _raise_cluster(s: Session, root: int, bump: int) -> None:
    """Every case of the cluster rises to its own base priority plus the cluster's bump (never
    lowered: staff may have raised one by hand)."""
    for member in s.scalars(sa.select(Case).where(sa.or_(Case.id == root, Case.cluster_id == root))):
        base = (member.evidence or {}).get("base_priority", member.priority or 0)
        member.priority = max(member.priority or 0, base + bump)


def _note(d: Decision, case: Case) -> str:
    where = d.group or "巡察办分办"
    labels = f"{d.kind}/{d.domain}" if d.kind else "待人工分类"
    return f"分类：{labels}；单位：{d.unit or '未识别'}；承办：{where}；优先级：{case.priority}"


def _top(scores: dict[str, float], k: int = 3) -> dict[str, float]:
    return {label: round(v, 3) for label, v in sorted(scores.items(), key=lambda kv: -kv[1])[:k]}


class InvalidLabel(ValueError):
    """A kind or domain the taxonomy does not have."""


def correct_labels(s: Session, case: Case, taxonomy: Taxonomy, actor: lifecycle.Actor, kind: str | None = None,
                   domain: str | None = None) -> None:
    """Staff confirm or correct the machine's labels. The case becomes training data for the
    next model (`flask routing train`), and the change is kept in the case's history."""
    if kind is not None and kind not in taxonomy.kinds:
        raise InvalidLabel(f"unknown kind {kind!r}: one of {', '.join(taxonomy.kinds)}")
    if domain is not None and domain not in taxonomy.domains:
        raise InvalidLabel(f"unknown domain {domain!r}: one of {', '.join(taxonomy.domains)}")
    before = f"{case.kind}/{case.domain}"
    case.kind, case.domain = kind or case.kind, domain or case.domain
    case.labels_confirmed = True
    lifecycle.record(s, case, actor, "labels_confirmed", f"{before} → {case.kind}/{case.domain}")
