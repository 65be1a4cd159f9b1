"""The desk's one authorization (admin/access.py) and every desk URL going through it: each
role × state against `may`, 404 out of scope, search, keyset pages, bulk assign, and no
reporter identity in any answer."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from admin.access import AFTER_HANDOVER, RULES, may, may_do, permissions, visible_cases
from core.lifecycle import UNDISPOSED
from core.models import Attachment, Case, CaseEvent
from core.models.case import CaseStatus as S
from intake import media
from tests.desk import LOGINS, login, make_case, post, staff, tracking_numbers, with_passwords

OFFICE, G1, G2 = {"lizhuren"}, {"zhang", "li"}, {"wang"}


def expected_see(login: str, status: S) -> bool:
    """A G1 case about 白沙村, handed to 白沙村, never transferred."""
    if login in OFFICE | G1:
        return True
    if login == "baisha":
        return status in AFTER_HANDOVER
    return False  # wang (another group), jw (no transfer), audit (no case text ever)


# Who reads what of a case within their scope (the unit: its image, never a voice or a place;
# the reporter: the office, and the leader of the case's own group).
READING = {"labels": OFFICE | G1, "cluster": OFFICE | G1, "image": OFFICE | G1 | {"baisha"},
           "location": OFFICE | G1, "evidence": OFFICE | G1 | {"baisha"}, "reveal": OFFICE | {"zhang"},
           "outbox": OFFICE | G1}  # the messages to the case's citizens, never who they went to
# Pages and forms about no one case: who may open them.
PAGES = {"enter_case": OFFICE | G1 | G2, "use_templates": OFFICE | G1 | G2, "edit_templates": OFFICE,
         "reconciliation": OFFICE | {"jw"}, "audit_log": OFFICE | {"audit"}, "statistics": OFFICE | {"audit"},
         "warnings": OFFICE | G1 | G2 | {"baisha"}, "campaigns": OFFICE, "outbox_page": OFFICE | G1 | G2,
         "outbox_no_case": OFFICE}


@pytest.mark.parametrize("status", list(S))
def test_each_role_and_state_against_may(db, status):
    case = make_case(db, "村里低保名额有问题", status=status, handed_to="青石镇/白沙村")
    for login in LOGINS:
        member = staff(db, login)
        see = expected_see(login, status)
        assert may(member, "see", case) is see, (login, status)
        assert may(member, "read_text", case) is (see and login != "baisha"), (login, status)
        assert may(member, "read_redacted", case) is (see and login == "baisha"), (login, status)
        assert may(member, "internal_events", case) is (see and login != "baisha"), (login, status)
        assert may(member, "voice", case) is (see and login != "baisha")
        assert may(member, "assign", case) is (login in OFFICE | G1 and status in UNDISPOSED), (login, status)
        for action in READING:
            assert may(member, action, case) is (see and login in READING[action]), (login, action, status)
        assert (case.id in set(db.scalars(visible_cases(member).with_only_columns(Case.id)))) is see
        assert ("see" in permissions(db, member, case)) is see


def test_pages_about_no_case(db):
    for login in LOGINS:
        member = staff(db, login)
        for action, allowed in PAGES.items():
            assert may_do(member, action) is (login in allowed), (login, action)
    with pytest.raises(ValueError):
        may_do(staff(db, "lizhuren"), "reveal")  # about a case: may() decides it
    with pytest.raises(ValueError):
        may(staff(db, "lizhuren"), "audit_log", make_case(db, "道路坏了"))


def test_every_rule_is_enumerated():
    """Each rule of the one table is checked role by role, here or in test_desk_actions."""
    from tests.test_desk_actions import ACTIONS as WORK

    here = {"see", "read_text", "read_redacted", "internal_events", "voice", "assign", *READING, *PAGES}
    assert set(RULES) == here | set(WORK)


def test_commission_sees_transferred_clues_only(db):
    clue = make_case(db, "村支书贪污扶贫款", kind="clue", status=S.transferred, transferred=True)
    other = make_case(db, "村支书贪污扶贫款", kind="clue", status=S.assigned)
    jw = staff(db, "jw")
    assert may(jw, "see", clue) and may(jw, "read_text", clue) and not may(jw, "assign", clue)
    assert not may(jw, "see", other)


def test_a_case_given_from_the_office_queue_is_seen_by_its_member(db):
    case = make_case(db, "私人纠纷", unit=None, group=None, status=S.assigned)
    wang = staff(db, "wang")
    assert not may(wang, "see", case)
    case.assignee_id = wang.id
    db.commit()
    assert may(wang, "see", case) and not may(staff(db, "zhang"), "see", case)


def test_an_inactive_account_may_nothing(db):
    case = make_case(db, "道路坏了")
    admin = staff(db, "lizhuren")
    admin.active = False
    db.commit()
    assert not may(admin, "see", case)


@pytest.fixture
def scene(app, db):
    """One case per kind of scope, with an image and a voice stored."""
    media_dir = app.extensions["settings"].media_dir
    vault = app.extensions["vault"]
    cases = {
        "g1": make_case(db, "白沙村低保评定不公，我叫王小明，电话13800138000，身份证430123199001011234",
                        status=S.handed_over, handed_to="青石镇/白沙村", vault=vault, name="王小明",
                        phone="13800138000"),
        "g1_open": make_case(db, "白沙村路灯坏了很久", status=S.assigned),
        "g2": make_case(db, "石门村水渠堵了", unit="柳溪镇/石门村", group="G2", status=S.handed_over,
                        handed_to="柳溪镇/石门村"),
        "clue": make_case(db, "早禾田村主任违规插手工程", unit="青石镇/早禾田村", kind="clue",
                          status=S.transferred, transferred=True),
    }
    for key, case in cases.items():
        for kind, ctype in (("image", "image/jpeg"), ("voice", "audio/amr")):
            path, digest = media.store(media_dir, f"{key}-{kind}".encode(), ctype)
            db.add(Attachment(case_id=case.id, kind=kind, status="stored", storage_path=path, sha256=digest,
                              content_type=ctype, size=10))
        db.add(Attachment(case_id=case.id, kind="location", status="stored", lat=26.9, lng=112.55, label="白沙村口"))
    from core import lifecycle
    lifecycle.record(db, cases["g1"], lifecycle.SYSTEM, "note", "内部备注：先核实低保名单")
    db.commit()
    with_passwords(db)
    return cases


def urls(case: Case, db) -> list[str]:
    files = db.scalars(sa.select(Attachment.id).where(Attachment.case_id == case.id,
                                                      Attachment.kind != "location")).all()
    return [f"/admin/cases/{case.tracking_no}", *[f"/admin/cases/{case.tracking_no}/files/{i}" for i in files]]


# Which scene cases each role may open (everything else must answer 404).
IN_SCOPE = {"lizhuren": {"g1", "g1_open", "g2", "clue"}, "zhang": {"g1", "g1_open", "clue"},
            "li": {"g1", "g1_open", "clue"}, "wang": {"g2"}, "baisha": {"g1"}, "jw": {"clue"}, "audit": set()}


@pytest.mark.parametrize("who", LOGINS)
def test_every_desk_url_answers_404_out_of_scope(client, db, scene, who):
    assert login(client, who).status_code == 302
    for key, case in scene.items():
        for url in urls(case, db):
            code = client.get(url).status_code
            if key not in IN_SCOPE[who]:
                assert code == 404, (who, url)
            elif who == "baisha" and "/files/" in url:
                att = db.get(Attachment, int(url.rsplit("/", 1)[1]))
                assert code == (200 if att.kind == "image" else 404), (who, url, att.kind)
            else:
                assert code == 200, (who, url)
    assert client.get("/admin/cases/XC261201999999").status_code == 404  # a guessed number
    assert client.get(f"/admin/cases/{scene['g1'].tracking_no}/files/999999").status_code == 404
    inbox = client.get("/admin/").get_data(as_text=True)
    assert set(tracking_numbers(inbox)) == {scene[k].tracking_no for k in IN_SCOPE[who]}


def test_a_unit_reads_redacted_text_and_no_internal_note(client, db, scene):
    login(client, "baisha")
    page = client.get(f"/admin/cases/{scene['g1'].tracking_no}").get_data(as_text=True)
    assert "白沙村低保评定不公" in page and "已脱敏" in page
    assert "13800138000" not in page and "430123199001011234" not in page and "王小明" not in page
    assert "内部备注" not in page and "audio" not in page and "在地图上查看" not in page
    login(client, "zhang")
    page = client.get(f"/admin/cases/{scene['g1'].tracking_no}").get_data(as_text=True)
    assert "内部备注：先核实低保名单" in page and "内部（仅工作人员）" in page and "公开（群众可见）" in page
    assert "<audio" in page and "<img" in page and "uri.amap.com" in page


def test_no_reporter_identity_in_any_answer(client, db, scene, app):
    vault = app.extensions["vault"]
    case = scene["g1"]
    openid = "oREPORTER00000000000000001"
    from intake.cases import _reporter
    case.reporter = _reporter(db, vault, openid)
    # The identity lives in the encrypted columns only; the text above names it on purpose for
    # the unit's redaction, so a report without it in the text is checked here.
    quiet = make_case(db, "白沙村低保有人冒领", vault=vault, name="赵大妈", phone="13912345678")
    quiet.reporter = case.reporter
    db.commit()
    for who in LOGINS:
        login(client, who)
        answers = [client.get(u).get_data() for c in (quiet,) for u in urls(c, db)]
        answers += [client.get("/admin/").get_data(), client.get("/admin/?q=赵大妈").get_data(),
                    client.get("/admin/?q=13912345678").get_data()]
        for body in answers:
            text = body.decode("utf-8", "replace")
            assert "赵大妈" not in text.replace("q=赵大妈", "").replace('value="赵大妈"', ""), who
            assert "13912345678" not in text.replace("q=13912345678", "").replace('value="13912345678"', ""), who
            assert openid not in text, who


def test_search_finds_a_chinese_word(client, db, scene):
    make_case(db, "修路款被挪用了", status=S.assigned)
    login(client, "lizhuren")
    found = tracking_numbers(client.get("/admin/?q=低保").get_data(as_text=True))
    assert found == [scene["g1"].tracking_no]
    assert tracking_numbers(client.get("/admin/?q=挪用").get_data(as_text=True)) != []
    assert tracking_numbers(client.get("/admin/?q=低保 路灯").get_data(as_text=True)) == []
    assert tracking_numbers(client.get("/admin/?q=水").get_data(as_text=True)) == [scene["g2"].tracking_no]
    # Pairs narrow, the text decides: both pairs of 低保户 are in no text together.
    assert tracking_numbers(client.get("/admin/?q=保评定").get_data(as_text=True)) == [scene["g1"].tracking_no]
    assert tracking_numbers(client.get("/admin/?q=低保户").get_data(as_text=True)) == []
    # A unit searches only its own.
    login(client, "baisha")
    assert tracking_numbers(client.get("/admin/?q=路灯").get_data(as_text=True)) == []


def test_search_index_follows_a_changed_text(db):
    from core.search import matches
    case = make_case(db, "路灯坏了")
    case.text = "低保名单不公开"
    db.commit()
    dialect = db.get_bind().dialect.name
    assert db.scalar(sa.select(Case.id).where(matches("低保", dialect))) == case.id
    assert db.scalar(sa.select(Case.id).where(matches("路灯", dialect))) is None


@pytest.mark.parametrize("sort", ["newest", "oldest", "priority"])
def test_keyset_pages_return_every_case_once(db, sort):
    from datetime import datetime, timedelta

    from admin.listing import Filters, inbox_page
    base = datetime(2026, 11, 20)
    for i in range(23):
        # Ties on purpose: same time and priority for several cases.
        make_case(db, f"反映{i}", created_at=base + timedelta(hours=i // 3), priority=i % 2)
    admin = staff(db, "lizhuren")
    seen, cursor = [], None
    while True:
        page = inbox_page(db, admin, Filters(sort=sort), cursor, limit=5)
        seen += [c.id for c in page.cases]
        cursor = page.next
        if cursor is None:
            break
    assert sorted(seen) == sorted(db.scalars(sa.select(Case.id))) and len(seen) == len(set(seen)) == 23


def test_filters(client, db, scene):
    login(client, "lizhuren")
    g1, g2 = scene["g1"].tracking_no, scene["g2"].tracking_no
    assert tracking_numbers(client.get("/admin/?unit=柳溪镇").get_data(as_text=True)) == [g2]
    assert set(tracking_numbers(client.get("/admin/?status=handed_over").get_data(as_text=True))) == {g1, g2}
    assert tracking_numbers(client.get("/admin/?kind=clue").get_data(as_text=True)) == [scene["clue"].tracking_no]
    assert tracking_numbers(client.get("/admin/?overdue=1").get_data(as_text=True)) == []
    assert client.get("/admin/?cursor=garbage").status_code == 400


def test_bulk_assign_moves_each_case_and_keeps_the_conflict_rule(client, db, scene):
    fresh = make_case(db, "青石镇集体鱼塘承包不公开", unit="青石镇", status=S.received)
    login(client, "zhang")
    li, wang = staff(db, "li"), staff(db, "wang")
    numbers = [scene["g1_open"].tracking_no, fresh.tracking_no, scene["g1"].tracking_no, scene["g2"].tracking_no]
    r = post(client, "/admin/assign", {"case": numbers, "assignee": str(li.id)})
    assert r.status_code == 302
    db.expire_all()
    assert db.get(Case, fresh.id).assignee_id == li.id and db.get(Case, fresh.id).status == "assigned"
    assert db.get(Case, scene["g1_open"].id).assignee_id == li.id
    assert db.get(Case, scene["g1"].id).assignee_id is None  # handed over: not undecided any more
    assert db.get(Case, scene["g2"].id).assignee_id is None  # another group's: unseen, untouched
    events = db.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == fresh.id).order_by(CaseEvent.id)).all()
    assert (events[-1].action, events[-1].staff_id, events[-1].public) == ("assigned", staff(db, "zhang").id, False)
    # wang comes from 白沙村 (青石镇's village): the office may not give him a 青石镇 case.
    login(client, "lizhuren")
    office_case = make_case(db, "白沙村的事", group=None, status=S.received)
    page = post(client, "/admin/assign", {"case": [office_case.tracking_no], "assignee": str(wang.id)})
    assert "须回避" in client.get(page.headers["Location"]).get_data(as_text=True)
    db.expire_all()
    assert db.get(Case, office_case.id).assignee_id is None


def test_a_filter_on_another_group_is_answered_without_a_query(db):
    from admin.listing import Filters, inbox_page
    from core.models import Group

    g1, g2 = (db.scalar(sa.select(Group.id).where(Group.code == code)) for code in ("G1", "G2"))
    theirs = make_case(db, "石门村水渠堵了", unit="柳溪镇/石门村", group="G2")
    ours = make_case(db, "白沙村路灯坏了")
    given = make_case(db, "邻居借钱不还", unit=None, group=None)
    li = staff(db, "li")
    given.assignee_id = li.id
    db.commit()
    statements = []
    engine = db.get_bind()

    def count(*_args):
        statements.append(1)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert inbox_page(db, li, Filters(group=str(g2))).cases == []
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert statements == []
    assert [c.id for c in inbox_page(db, li, Filters(group=str(g1))).cases] == [ours.id]
    # The office queue is not decided from the values: the office gives its cases to any group.
    assert [c.id for c in inbox_page(db, li, Filters(group="office")).cases] == [given.id]
    assert [c.id for c in inbox_page(db, staff(db, "lizhuren"), Filters(group=str(g2))).cases] == [theirs.id]
