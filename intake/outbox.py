"""The outbox: every message to a citizen is a row (`core.models.outbox.OutboxMessage`) first,
then a delivery job (`intake.delivery.deliver`), queued once the row is committed.

- `queue`: one message to one reporter (a reply, a status change, a rating request, a survey,
  a reminder). The recipient is the reporter's id; the openid is decrypted at send time only.
- `notify_case`: a message about a case to its reporter and to the reporters of the cases
  merged into it (each about their own case, one message per person). An anonymous case has
  no reporter: nothing is queued, its news waits on the mobile page and in 查询.
- `retry`: the desk's retry of a failed (or unsettled) message.
- `template_receipt`: WeChat's TEMPLATESENDJOBFINISH push (via the bot's webhook), the evidence
  that settles a template message whose sender died before recording it (`intake.delivery`).

Why a message reaches the citizen once is explained in `intake.delivery`.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.db import utcnow
from core.models import Case
from core.models.outbox import IN_FLIGHT, OutboxMessage, OutboxPurpose, OutboxStatus as O
from intake.links import case_path

# How a public reply asks for the rating (the bot reads the answer, the page has the form).
RATING_ASK = "请对办理结果进行评价：回复 1 满意 2 基本满意 3 不满意，可附原因。"
_KICK = "mashang.outbox.kick"


def queue(s: Session, *, reporter_id: int, purpose: str, text: str, case: Case | None = None,
          campaign_id: int | None = None, link_path: str | None = None) -> OutboxMessage:
    """A message to one reporter, delivered after `s` commits."""
    OutboxPurpose(purpose)  # refuses an unknown purpose before the database does
    if not text or not text.strip():
        raise ValueError("an outbox message needs a text")
    row = OutboxMessage(reporter_id=reporter_id, purpose=purpose, text=text.strip(), link_path=link_path,
                        case_id=case.id if case is not None else None, campaign_id=campaign_id,
                        status=O.queued.value, attempts=0, next_at=utcnow(), created_at=utcnow())
    s.add(row)
    _deliver_after_commit(s)
    return row


def notify_case(s: Session, case: Case, purpose: str, text: str,
                link_path: str | None = None) -> list[OutboxMessage]:
    """`text` to the citizens of `case`: its own reporter and those of the cases merged into it
    (at any depth), each message about their own case with a link to it (`link_path` overrides
    the link for the main case's reporter). A person who reported several of them hears once."""
    from core.app import of_session

    secret = of_session(s).extensions["settings"].secret_key
    s.flush()
    rows, seen = [], set()
    for each in [case, *_merged_into(s, case)]:
        if each.reporter_id is None or each.anonymity == "anonymous" or each.reporter_id in seen:
            continue
        seen.add(each.reporter_id)
        path = link_path if (each is case and link_path) else (
            case_path(secret, each.tracking_no) if each.tracking_no else None)
        rows.append(queue(s, reporter_id=each.reporter_id, purpose=purpose, text=text, case=each, link_path=path))
    return rows


def _merged_into(s: Session, case: Case) -> list[Case]:
    """The cases merged into `case`, directly or through another merged case."""
    found, frontier = [], [case.id]
    while frontier:
        more = list(s.scalars(sa.select(Case).where(Case.merged_into_id.in_(frontier)).order_by(Case.id)))
        more = [c for c in more if c.id != case.id and c not in found]
        found += more
        frontier = [c.id for c in more]
    return found


def _deliver_after_commit(s: Session) -> None:
    """One delivery job per transaction, however many rows it queued."""
    if s.info.get(_KICK):
        return
    s.info[_KICK] = True
    from core.app import of_session
    from intake.delivery import deliver

    event.listen(s, "after_commit", lambda session: session.info.pop(_KICK, None), once=True)
    of_session(s).extensions["jobs"].after_commit(s, deliver)


def retry(s: Session, message: OutboxMessage) -> bool:
    """The desk's retry: a failed message, or one left unsettled by a dead worker (`unknown`:
    the person who retries accepts that it may arrive twice), goes back to the queue."""
    if message.status not in (O.failed.value, O.unknown.value):
        return False
    message.status = O.queued.value
    message.next_at = utcnow()
    message.attempts = 0
    message.claim = message.lease_until = None
    _deliver_after_commit(s)
    return True


# One statement, on PostgreSQL and SQLite: the row named by the msgid, or else the recipient's one
# message in flight (sent by a worker that died, or has not yet recorded its answer). That row
# may still read `claimed`: a worker releases its requests while the COMMIT of their attempts is
# on its way (`intake.sender`), and WeChat's receipt can overtake it. The UPDATE then waits for
# that COMMIT (the worker holds the row) and applies to what it wrote, as it does when the worker
# is recording its answer: `sent` stays sent, with the receipt. (The row is the only one in
# flight for its recipient, and only a template has a receipt.)
_IN_FLIGHT = "(" + ", ".join(f"'{s}'" for s in IN_FLIGHT) + ")"
_RECEIPT = sa.text(f"""
UPDATE outbox SET receipt = :receipt, msgid = :msgid,
  last_error = CASE WHEN status IN {_IN_FLIGHT} AND :success THEN NULL
                    WHEN status IN ('claimed', 'sending', 'sent') AND NOT :success THEN :failed
                    ELSE last_error END,
  sent_at = CASE WHEN status IN {_IN_FLIGHT} THEN :now ELSE sent_at END,
  claim = CASE WHEN status IN {_IN_FLIGHT} THEN NULL ELSE claim END,
  lease_until = CASE WHEN status IN {_IN_FLIGHT} THEN NULL ELSE lease_until END,
  status = CASE WHEN status IN ('claimed', 'sending', 'sent') THEN (CASE WHEN :success THEN 'sent' ELSE 'failed' END)
                ELSE status END
WHERE id = COALESCE(
  (SELECT o.id FROM outbox o WHERE o.msgid = :msgid AND o.reporter_id = (SELECT r.id FROM reporters r
     WHERE r.openid_hash = :recipient) LIMIT 1),
  (SELECT o.id FROM outbox o WHERE o.reporter_id = (SELECT r.id FROM reporters r WHERE r.openid_hash = :recipient)
     AND o.status IN {_IN_FLIGHT} AND (o.status = 'claimed' OR o.via = 'template') AND o.msgid IS NULL
     LIMIT 1))
RETURNING id""")


def template_receipt(conn: sa.Connection, openid_hash: str, msgid: int, status: str) -> int | None:
    """WeChat's TEMPLATESENDJOBFINISH for a template message to the reporter with `openid_hash`:
    the row it settles becomes `sent` (with the msgid and the receipt), or `failed` when WeChat
    accepted it and then could not deliver it (the citizen blocked it). Returns the row's id
    (None: no such message). Not committed."""
    status = status[:40]
    return conn.execute(_RECEIPT, {"receipt": status, "msgid": msgid, "success": status == "success",
                                   "failed": f"微信未送达：{status}"[:300], "now": utcnow(),
                                   "recipient": openid_hash}).scalar()
