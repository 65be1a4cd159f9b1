"""保存期限 (admin/retention.py): the reporter identity of a case finished longer ago than the
office's period is purged, the case stays; a reporter row goes when no other case needs it; one
audit row per batch; the reveal says the identity was purged; the period from the deployment file."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
import yaml

from admin import retention
from admin.deploy import DeploymentError, load_deployment
from core import lifecycle
from core.models import AuditEntry, Case, CaseEvent, Office, Reporter
from core.models.case import CaseStatus as S
from intake.cases import _reporter
from tests.desk import login, make_case, post, with_passwords

OPENID, OTHER = "oRETENTION000000000000001", "oRETENTION000000000000002"


def run_job(app) -> dict[str, int]:
    with app.app_context():  # as the cron's worker runs it
        return retention.purge_identities()


def finish(db, case, to=S.closed):
    lifecycle.move(db, case, to, lifecycle.SYSTEM, "closed", "已办结", public=True)
    db.commit()


def scene(app, db, clock):
    """On 2026-01-05 (Beijing): a named case closed and one rated, their reporter shared with a
    case still open; a default case of another reporter closed; an anonymous one closed. On
    2026-06-01 a case closed (recent for the purge on 2026-07-10, 186 days after January)."""
    vault = app.extensions["vault"]
    clock.pin("2026-01-05 10:00")
    shared = _reporter(db, vault, OPENID)
    alone = _reporter(db, vault, OTHER)
    cases = {
        "named": make_case(db, "白沙村低保评定不公", status=S.replied, vault=vault, name="赵大妈", phone="13912345678"),
        "rated": make_case(db, "白沙村路灯坏了", status=S.replied),
        "open": make_case(db, "白沙村水渠堵了", status=S.assigned),
        "alone": make_case(db, "早禾田村道路破损", status=S.replied),
        "anonymous": make_case(db, "村支书优亲厚友", status=S.replied),
    }
    cases["anonymous"].anonymity = "anonymous"
    for key in ("named", "rated", "open"):
        cases[key].reporter = shared
    cases["alone"].reporter = alone
    db.commit()
    for key in ("named", "alone", "anonymous"):
        finish(db, cases[key])
    finish(db, cases["rated"], S.rated)
    clock.pin("2026-06-01 10:00")
    recent = make_case(db, "石门村垃圾没人清", status=S.replied, vault=vault, name="钱大爷", phone="13700000000")
    finish(db, recent)
    cases["recent"] = recent
    return cases


def test_purges_identity_of_cases_finished_past_the_period(app, db, clock):
    cases = scene(app, db, clock)
    clock.pin("2026-07-10 10:00")  # 186 days after January's closures, 39 after June's
    assert run_job(app) == {"cases": 3, "batches": 1}
    db.expire_all()
    got = {k: db.get(Case, c.id) for k, c in cases.items()}
    for key in ("named", "rated", "alone"):
        case = got[key]
        assert case.reporter_id is None and case.contact_name_enc is None and case.contact_phone_enc is None, key
        assert case.identity_purged_at is not None and case.text  # the case stays
        assert case.status in (S.closed.value, S.rated.value)
        last = db.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id.desc())).first()
        assert (last.action, last.public, last.note) == ("identity_purged", False, retention.NOTE)
    assert got["open"].reporter_id is not None and got["open"].identity_purged_at is None
    assert got["recent"].contact_name_enc is not None and got["recent"].identity_purged_at is None
    assert got["anonymous"].identity_purged_at is None  # nothing to purge: never linked
    # The shared reporter still has an open case; the other's only case was purged.
    hashes = set(db.scalars(sa.select(Reporter.openid_hash)))
    vault = app.extensions["vault"]
    assert vault.openid_hash(OPENID) in hashes and vault.openid_hash(OTHER) not in hashes
    rows = db.scalars(sa.select(AuditEntry).where(AuditEntry.action == "identity_purged")).all()
    assert len(rows) == 1 and rows[0].staff_id is None and rows[0].case_id is None
    assert rows[0].detail == "3件已办结案件的反映人身份已清除（保存期限180天），删除反映人记录1条"
    assert run_job(app) == {"cases": 0, "batches": 0}  # nothing twice, no empty audit rows
    assert db.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                     .where(AuditEntry.action == "identity_purged")) == 1


def test_a_reopened_case_counts_from_its_new_closure_and_batches(app, db, clock):
    cases = scene(app, db, clock)
    clock.pin("2026-06-20 10:00")
    case = cases["alone"]
    lifecycle.move(db, case, S.reopened, lifecycle.CITIZEN, "reopened", "不满意")
    lifecycle.move(db, case, S.replied, lifecycle.SYSTEM, "reply", "再次答复", public=True)
    finish(db, case)
    clock.pin("2026-07-10 10:00")
    assert retention.purge_batch(db, limit=1) == 1  # a batch is one audit row
    db.commit()
    assert retention.purge_batch(db, limit=5) == 1
    db.commit()
    assert retention.purge_batch(db) == 0
    assert db.get(Case, case.id).identity_purged_at is None
    assert len(db.scalars(sa.select(AuditEntry).where(AuditEntry.action == "identity_purged")).all()) == 2


def test_the_period_comes_from_the_deployment_file(app, db, clock):
    with open("deploy/demo.yaml", encoding="utf-8") as f:
        data = yaml.safe_load(f)
    data["office"]["identity_retention_days"] = 30
    load_deployment(db, data)
    db.commit()
    assert db.scalar(sa.select(Office.identity_retention_days)) == 30
    cases = scene(app, db, clock)
    clock.pin("2026-07-10 10:00")  # June's closure is 39 days old: past 30
    assert run_job(app)["cases"] == 4
    db.expire_all()
    assert db.get(Case, cases["recent"].id).identity_purged_at is not None
    data["office"]["identity_retention_days"] = 0
    with pytest.raises(DeploymentError):
        load_deployment(db, data)
    db.rollback()


def test_the_job_runs_daily(app):
    assert any(func is retention.purge_identities for func, _, _ in app.extensions["jobs"].periodic)


def test_the_reveal_says_the_identity_was_purged(app, client, db, clock):
    cases = scene(app, db, clock)
    clock.pin("2026-07-10 10:00")
    run_job(app)
    with_passwords(db)
    login(client, "lizhuren")
    number = cases["named"].tracking_no
    page = client.get(f"/admin/cases/{number}").get_data(as_text=True)
    assert "没有可查看的身份信息：已按保存期限清除" in page and "查看理由" not in page
    assert "反映人身份已按保存期限清除（案件保留）" in page  # the internal event on the timeline
    answer = post(client, f"/admin/cases/{number}/reveal", {"reason": "核实举报人情况"}).get_data(as_text=True)
    assert "没有可查看的身份信息：已按保存期限清除" in answer and "赵大妈" not in answer
    assert db.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "reveal")) == 0
    # A case not yet due is revealed as before.
    answer = post(client, f"/admin/cases/{cases['recent'].tracking_no}/reveal", {"reason": "核实举报人情况"})
    assert "钱大爷" in answer.get_data(as_text=True)
