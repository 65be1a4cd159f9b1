"""Yellow and red cards (红黄牌预警): computed by the periodic job from real cases, handovers and
ratings against the round's thresholds (the deployment file's, or the defaults), stored with
their reasons, cleared when the figures fall back; shown on the desk to the office, to the
groups for the units they inspect and to a unit's liaison for its own unit, 404 for others."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
import yaml

from admin.deploy import DeploymentError, load_deployment
from admin.warnings import refresh_cards
from core.db import utcnow
from core.models import SurveyAnswer, SurveyCampaign, UnitCard
from tests.conftest import DEMO
from tests.desk import login, post, staff, with_passwords
from tests.oversight import day, demo_round, handed, rate, reply, unit_id
from tests.test_deadlines import periodic


def cards(db) -> dict[str, tuple[str, dict[str, dict]]]:
    """unit path → (level, {rule: reason})."""
    db.expire_all()
    out = {}
    for card in db.scalars(sa.select(UnitCard)):
        out[card.unit.path] = (card.level, {r["rule"]: r for r in card.reasons})
    return out


@pytest.fixture
def scene(app, db):
    """白沙村: three handovers past due (red); 早禾田村: one (yellow); 石门村: a case rated
    不满意 twice (escalated: red); 县人社局: one 不满意 (under every threshold)."""
    vault = app.extensions["vault"]
    made = {
        "b1": handed(db, vault, "白沙村水渠堵塞，灌溉用不上水", "青石镇/白沙村", due_in=-3),
        "b2": handed(db, vault, "白沙村垃圾无人清运", "青石镇/白沙村", due_in=-1),
        "b3": handed(db, vault, "白沙村低保名单不公开", "青石镇/白沙村", due_in=-10),
        "b_ok": handed(db, vault, "白沙村路灯坏了", "青石镇/白沙村", due_in=5),
        "z1": handed(db, vault, "早禾田村村道坑洼", "青石镇/早禾田村", due_in=-2),
        "s1": handed(db, vault, "石门村修路款去向不明", "柳溪镇/石门村", due_in=7, group="G2", member="wang"),
        "r1": handed(db, vault, "县人社局养老金发放迟缓", "县人社局", due_in=7),
    }
    reply(db, made["s1"], "已修好", member="wang")
    rate(db, made["s1"], "unsatisfied", "路还是坏的")
    reply(db, made["s1"], "已重新修补", member="wang")
    rate(db, made["s1"], "unsatisfied", "还是没修好")  # the second: escalated to the office
    reply(db, made["r1"])
    rate(db, made["r1"], "unsatisfied")
    return made


def test_the_cron_job_computes_cards_with_their_reasons(app, db, scene):
    job = periodic(app, "refresh_cards")
    assert job is refresh_cards
    with app.app_context():
        assert job() == {"red": 2, "yellow": 1, "cleared": 0}
    found = cards(db)
    assert set(found) == {"青石镇/白沙村", "青石镇/早禾田村", "柳溪镇/石门村"}
    level, reasons = found["青石镇/白沙村"]
    assert level == "red" and set(reasons) == {"overdue"}
    assert reasons["overdue"]["count"] == 3 and reasons["overdue"]["threshold"] == 3
    assert reasons["overdue"]["cases"] == sorted(scene[k].id for k in ("b1", "b2", "b3"))
    level, reasons = found["青石镇/早禾田村"]
    assert level == "yellow" and reasons["overdue"]["count"] == 1 and reasons["overdue"]["level"] == "yellow"
    level, reasons = found["柳溪镇/石门村"]
    assert level == "red" and set(reasons) == {"unsatisfied", "escalated"}
    assert reasons["escalated"] == {"rule": "escalated", "level": "red", "count": 1, "threshold": 1,
                                    "cases": [scene["s1"].id]}
    assert reasons["unsatisfied"]["level"] == "yellow" and reasons["unsatisfied"]["count"] == 2
    issued = db.scalar(sa.select(UnitCard.issued_at).where(UnitCard.unit_id == unit_id(db, "青石镇/白沙村")))

    # Two of 白沙村's overdue items answered: down to yellow; 早禾田村's answered: cleared.
    reply(db, scene["b1"])
    reply(db, scene["b2"])
    reply(db, scene["z1"])
    with app.app_context():
        assert job() == {"red": 1, "yellow": 1, "cleared": 1}
        assert job() == {"red": 1, "yellow": 1, "cleared": 0}  # idempotent
    found = cards(db)
    assert set(found) == {"青石镇/白沙村", "柳溪镇/石门村"}
    assert found["青石镇/白沙村"][0] == "yellow" and found["青石镇/白沙村"][1]["overdue"]["cases"] == [scene["b3"].id]
    assert db.scalar(sa.select(UnitCard.issued_at).where(UnitCard.unit_id == unit_id(db, "青石镇/白沙村"))) > issued


def test_thresholds_come_from_the_round_in_the_deployment_file(app, db, scene, runner, tmp_path):
    data = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["round"]["cards"] = {"yellow": {"overdue": 2, "unsatisfied": 0}, "red": {"overdue": 5, "escalated": 0}}
    path = tmp_path / "round.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert runner.invoke(args=["deploy", "load", str(path)]).exit_code == 0
    assert "nothing changed" in runner.invoke(args=["deploy", "load", str(path)]).output
    rules = demo_round(db).card_rules
    assert rules["yellow"] == {"overdue": 2, "unsatisfied": 0, "escalated": 0, "survey_rate": 0.8}  # the rest default
    with app.app_context():
        refresh_cards()
    found = cards(db)
    assert set(found) == {"青石镇/白沙村"}  # 早禾田村's one item is under 2; 石门村's rules are off
    assert found["青石镇/白沙村"][0] == "yellow" and found["青石镇/白沙村"][1]["overdue"]["threshold"] == 2
    for bad, words in (({"yellow": {"overdue": "many"}}, "round: cards: yellow: overdue must be a number"),
                       ({"orange": {}}, "unknown key(s) orange"), ({"red": {"survey_rate": 60}}, "between 0 and 1"),
                       ({"red": {"late": 1}}, "unknown rule 'late'")):
        data["round"]["cards"] = bad
        with pytest.raises(DeploymentError, match=words.replace("(", r"\(").replace(")", r"\)")):
            load_deployment(db, data)
        db.rollback()
    data["round"]["cards"] = None
    data["round"]["reminder_days"] = "soon"
    with pytest.raises(DeploymentError, match="reminder_days"):
        load_deployment(db, data)


def survey(db, unit: str, scores: dict[str, int], late: int = 0) -> SurveyCampaign:
    campaign = SurveyCampaign(code=f"c{unit_id(db, unit)}", round_id=demo_round(db).id, unit_id=unit_id(db, unit),
                              question="满意吗？", closes_on=day(7), created_by=staff(db, "lizhuren").id)
    db.add(campaign)
    db.flush()
    for score, n in scores.items():
        db.add_all(SurveyAnswer(campaign_id=campaign.id, via="qr", score=score, state="counted") for _ in range(n))
    db.add_all(SurveyAnswer(campaign_id=campaign.id, via="qr", score="satisfied", state="late") for _ in range(late))
    db.commit()
    return campaign


def test_a_low_survey_rate_is_a_reason(app, db):
    low = survey(db, "县水利局", {"satisfied": 3, "basically": 2, "unsatisfied": 5}, late=20)  # 50%: red
    survey(db, "柳溪镇/花园社区", {"satisfied": 7, "unsatisfied": 3})  # 70%: yellow
    survey(db, "青石镇", {"unsatisfied": 9})  # 9 answers: under the minimum of 10, no card
    with app.app_context():
        refresh_cards()
    found = cards(db)
    assert set(found) == {"县水利局", "柳溪镇/花园社区"}
    assert found["县水利局"] == ("red", {"survey_rate": {"rule": "survey_rate", "level": "red", "rate": 0.5,
                                                          "answers": 10, "threshold": 0.6, "campaign": low.id}})
    assert found["柳溪镇/花园社区"][0] == "yellow"


def test_the_warnings_page_shows_each_reader_its_units(app, db, client, scene):
    with_passwords(db)
    with app.app_context():
        refresh_cards()
    seen = {}
    for who in ("lizhuren", "zhang", "li", "wang", "baisha"):
        login(client, who)
        r = client.get("/admin/warnings")
        assert r.status_code == 200, who
        html = r.get_data(as_text=True)
        seen[who] = {u for u in ("青石镇/白沙村", "青石镇/早禾田村", "柳溪镇/石门村") if f"</span> {u} <small>" in html}
        if who == "lizhuren":
            office = html
        if who == "baisha":
            unit = html
    assert seen == {"lizhuren": {"青石镇/白沙村", "青石镇/早禾田村", "柳溪镇/石门村"},
                    "zhang": {"青石镇/白沙村", "青石镇/早禾田村"}, "li": {"青石镇/白沙村", "青石镇/早禾田村"},
                    "wang": {"柳溪镇/石门村"}, "baisha": {"青石镇/白沙村"}}
    assert "交办事项逾期未办结3件（红牌线为3件及以上）" in office
    assert "二次不满意升级督办1件（红牌线为1件及以上）" in office and "群众评价不满意2次（黄牌线为2次及以上）" in office
    assert all(scene[k].tracking_no in office for k in ("b1", "b2", "b3", "s1"))
    assert "预警规则" in office and "立即重新计算" in office
    assert "交办事项逾期未办结3件" in unit and "立即重新计算" not in unit and "预警规则" not in unit
    assert all(scene[k].tracking_no in unit for k in ("b1", "b2", "b3"))
    for who in ("jw", "audit"):
        login(client, who)
        assert client.get("/admin/warnings").status_code == 404
        assert "预警" not in client.get("/admin/").get_data(as_text=True).split("</nav>")[0]
    # Only the office recomputes at once.
    login(client, "zhang")
    assert post(client, "/admin/warnings/refresh", {}).status_code == 404
    reply(db, scene["z1"])
    login(client, "lizhuren")
    r = post(client, "/admin/warnings/refresh", {})
    assert "已重新计算：红牌2个，黄牌0个，解除1个" in client.get(r.headers["Location"]).get_data(as_text=True)


def test_a_unit_reads_only_the_cases_it_may_see_behind_a_reason(app, db, client, scene):
    """A group's reasons list the group's cases; a case given elsewhere is counted, not named."""
    with_passwords(db)
    with app.app_context():
        refresh_cards()
    card = db.scalar(sa.select(UnitCard).where(UnitCard.unit_id == unit_id(db, "柳溪镇/石门村")))
    login(client, "wang")
    html = client.get("/admin/warnings").get_data(as_text=True)
    assert scene["s1"].tracking_no in html and "不在您的查看范围" not in html
    scene["s1"].group_id = None  # moved to the office's queue: wang can no longer see it
    db.commit()
    html = client.get("/admin/warnings").get_data(as_text=True)
    assert card.level == "red" and scene["s1"].tracking_no not in html and "另有1件不在您的查看范围" in html


def test_a_round_long_over_has_no_cards_computed(app, db, scene, round_dates):
    start = (utcnow() - timedelta(days=400)).date()
    round_dates(str(start), str(start + timedelta(days=60)))
    with app.app_context():
        assert refresh_cards() == {"red": 0, "yellow": 0, "cleared": 0}


@pytest.mark.needs_redis
def test_rqs_own_cron_enqueues_the_cards_job_and_a_worker_computes_them(app, db, scene, run_jobs):
    """`flask jobs cron` with Redis registers the job with RQ's CronScheduler; when its hour
    comes the scheduler enqueues it and a real worker process computes the cards."""
    from datetime import datetime, timezone

    from rq.cron import CronScheduler

    jobs = app.extensions["jobs"]
    assert not jobs.in_process, "needs redis: jobs ran in-process"
    cron = CronScheduler(connection=jobs.redis)
    registered = {func.__name__: cron.register(func, queue_name="default", cron=expr, job_timeout=timeout)
                  for func, expr, timeout in jobs.periodic if func.__name__ in ("refresh_cards", "remind_due_handovers")}
    assert registered["refresh_cards"].job_options["job_timeout"] == 600
    for job in registered.values():
        job.next_enqueue_time = datetime.now(timezone.utc) - timedelta(seconds=1)  # its hour has come
    assert {j.func_name for j in cron.enqueue_jobs()} == {"admin.warnings.refresh_cards",
                                                         "admin.deadlines.remind_due_handovers"}
    assert cards(db) == {}
    run_jobs()
    found = cards(db)
    assert {k: v[0] for k, v in found.items()} == {"青石镇/白沙村": "red", "青石镇/早禾田村": "yellow", "柳溪镇/石门村": "red"}
