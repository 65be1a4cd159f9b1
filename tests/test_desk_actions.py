"""The group's actions on the desk (admin/actions.py, admin/handling.py): every role × action ×
state against the rules of admin/access.py and through the real forms (404 out of scope, 403 not
allowed), then what a member does and sees: accept, labels and unit corrected, notes apart from
replies, reply templates, hand over with the redacted text edited, merge, refer, verify, file,
reject, and staff entry of a letter or a meeting's report."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from admin.access import may
from core import clock
from core.lifecycle import UNDISPOSED
from core.models import Case, CaseEvent, Handover, ReplyTemplate, Staff, Unit
from core.models.case import CaseStatus as S
from intake.progress import citizen_view
from tests.desk import LOGINS, login, make_case, post, staff, with_passwords

ALL = frozenset(S)
# The design's table, written out: in which statuses the group (and the office) may take each action.
GROUP_WORK = {
    "accept": UNDISPOSED,
    "note": ALL,
    "reply": {S.handed_over, S.transferred, S.referred, S.verifying, S.filed, S.reopened, S.replied},
    "correct_labels": ALL - {S.merged},
    "correct_unit": UNDISPOSED,
    "merge": UNDISPOSED,
    "hand_over": UNDISPOSED | {S.verifying},
    "transfer": UNDISPOSED | {S.verifying, S.handed_over},
    "refer": UNDISPOSED | {S.verifying},
    "verify": UNDISPOSED | {S.handed_over},
    "file": UNDISPOSED | {S.verifying},
    "reject": UNDISPOSED | {S.verifying},
    "decide_proposal": {S.handed_over},
}
UNIT_WORK = {"report_progress": {S.handed_over}, "propose_reply": {S.handed_over}}
OFFICE, G1 = {"lizhuren"}, {"zhang", "li"}
AFTER_HANDOVER = {S.handed_over, S.verifying, S.replied, S.closed, S.rated}


def expected(login: str, action: str, status: S, transferred: bool) -> bool:
    """A G1 case about 白沙村, handed to 白沙村 (and, when `transferred`, once moved to the commission)."""
    group = login in OFFICE | G1
    unit_sees = login == "baisha" and status in AFTER_HANDOVER
    commission_sees = login == "jw" and transferred
    if action in GROUP_WORK:
        return group and status in GROUP_WORK[action]
    if action in UNIT_WORK:
        return unit_sees and status in UNIT_WORK[action]
    return {"evidence": group or unit_sees, "outcome": commission_sees,
            "read_outcome": group or commission_sees}[action]


ACTIONS = [*GROUP_WORK, *UNIT_WORK, "evidence", "outcome", "read_outcome"]


@pytest.mark.parametrize("status", list(S))
def test_each_role_action_and_state_against_may(db, status):
    plain = make_case(db, "村里低保名额有问题", status=status, handed_to="青石镇/白沙村")
    clue = make_case(db, "村支书贪污", kind="clue", status=status, handed_to="青石镇/白沙村", transferred=True)
    for login_name in LOGINS:
        member = staff(db, login_name)
        for action in ACTIONS:
            for case, transferred in ((plain, False), (clue, True)):
                assert may(member, action, case) is expected(login_name, action, status, transferred), \
                    (login_name, action, status, transferred)


# form → the access rule it needs (admin.actions.FORMS), with data it would accept.
FORMS = {
    "accept": ("accept", {}), "note": ("note", {"note": "备注"}), "reply": ("reply", {"reply": "答复"}),
    "labels": ("correct_labels", {"kind": "petition", "domain": "funds"}), "unit": ("correct_unit", {}),
    "merge": ("merge", {"main": "XC000000000000"}), "handover": ("hand_over", {"text": "交办"}),
    "transfer": ("transfer", {}), "refer": ("refer", {"channel": "12345热线"}), "verify": ("verify", {}),
    "file": ("file", {}), "reject": ("reject", {"reason": "理由"}), "progress": ("report_progress", {"text": "进展"}),
    "propose": ("propose_reply", {"text": "拟答复"}), "decide": ("decide_proposal", {"decision": "approve"}),
    "outcome": ("outcome", {"outcome": "talk"}),
}


@pytest.mark.parametrize("status", [S.assigned, S.handed_over, S.transferred])
def test_every_form_as_every_role(client, db, status):
    """404 for a case out of scope, 403 where access.may says no, else the form is taken."""
    with_passwords(db)
    for who in LOGINS:
        login(client, who)
        member = staff(db, who)
        for form, (rule, data) in FORMS.items():
            case = make_case(db, "村支书贪污低保款", kind="clue", status=status, handed_to="青石镇/白沙村",
                             transferred=status == S.transferred)
            sees = may(member, "see", case)
            allowed = may(member, rule, case)
            code = post(client, f"/admin/cases/{case.tracking_no}/{form}", data).status_code
            assert code == (302 if allowed else 403 if sees else 404), (who, form, status)
    assert post(client, "/admin/cases/XC261201999999/note", {"note": "x"}).status_code == 404


def events(db, case) -> list[CaseEvent]:
    db.expire_all()
    return list(db.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)))


def page(client, case) -> str:
    return client.get(f"/admin/cases/{case.tracking_no}").get_data(as_text=True)


def test_triage_accept_correct_labels_and_unit(client, db):
    with_passwords(db)
    case = make_case(db, "白沙村的路灯坏了半年没人修", status=S.received, kind="suggestion", domain="other")
    login(client, "zhang")
    html = page(client, case)
    assert "受理确认" in html and "确认或更正分类" in html and "更正被反映单位" in html
    post(client, f"/admin/cases/{case.tracking_no}/accept", {})
    post(client, f"/admin/cases/{case.tracking_no}/labels", {"kind": "petition", "domain": "livelihood"})
    html = client.get(f"/admin/cases/{case.tracking_no}").get_data(as_text=True)
    assert "分类已确认" in html and "已由工作人员确认" in html and "民生" in html
    db.expire_all()
    case = db.get(Case, case.id)
    assert (case.status, case.kind, case.domain, case.labels_confirmed) == ("assigned", "petition", "livelihood", True)
    log = events(db, case)
    assert [(e.action, e.public) for e in log[1:]] == [("accepted", True), ("labels_confirmed", False)]
    assert log[2].note == "suggestion/other → petition/livelihood" and log[2].staff_id == staff(db, "zhang").id
    # The citizen reads that the group took it, not the label change.
    view = citizen_view(db, case)
    assert view.status == "已分派巡察组" and view.latest.note == "县委第一巡察组已受理，正在办理"
    # An unknown label is refused, nothing stored.
    r = post(client, f"/admin/cases/{case.tracking_no}/labels", {"kind": "gossip"})
    assert "类别或领域无效" in client.get(r.headers["Location"]).get_data(as_text=True)
    # The unit, corrected: li (from 县水利局) steps aside when the case turns out to be about it.
    li = staff(db, "li")
    case.assignee_id = li.id
    db.commit()
    water = db.scalar(sa.select(Unit).where(Unit.path == "县水利局"))
    r = post(client, f"/admin/cases/{case.tracking_no}/unit", {"unit": str(water.id)})
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "被反映单位已更正" in html and "李联络员来自被反映单位，须回避" in html
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.unit_id == water.id and case.assignee_id is None
    assert events(db, case)[-1].action == "unit_corrected" and "青石镇/白沙村 → 县水利局" in events(db, case)[-1].note


def test_assign_from_the_case_page_keeps_the_conflict_rule(client, db):
    with_passwords(db)
    case = make_case(db, "白沙村的事", group=None, status=S.received)
    login(client, "lizhuren")
    wang, li = staff(db, "wang"), staff(db, "li")
    assert "分派" in page(client, case)
    r = post(client, "/admin/assign", {"case": [case.tracking_no], "assignee": str(wang.id),
                                       "back": f"/admin/cases/{case.tracking_no}"})
    assert "须回避" in client.get(r.headers["Location"]).get_data(as_text=True)
    post(client, "/admin/assign", {"case": [case.tracking_no], "assignee": str(li.id)})
    db.expire_all()
    assert db.get(Case, case.id).assignee_id == li.id and db.get(Case, case.id).status == "assigned"


def test_internal_note_stays_on_the_desk_and_a_reply_reaches_the_citizen(client, db):
    with_passwords(db)
    case = make_case(db, "白沙村低保评定不公", status=S.verifying, handed_to="青石镇/白沙村")
    login(client, "lizhuren")
    r = post(client, "/admin/reply-templates", {"title": "已核实整改", "body": "经核实，您反映的问题属实，已督促整改。"})
    assert "模板「已核实整改」已保存" in client.get(r.headers["Location"]).get_data(as_text=True)
    template = db.scalar(sa.select(ReplyTemplate))
    post(client, "/admin/reply-templates", {"id": str(template.id), "title": "已核实整改",
                                            "body": "经核实，您反映的问题属实，已督促村委会整改。"})
    login(client, "zhang")
    assert client.get("/admin/reply-templates").status_code == 404  # the office keeps them
    post(client, f"/admin/cases/{case.tracking_no}/note", {"note": "先核实低保名单，暂不答复"})
    html = client.get(f"/admin/cases/{case.tracking_no}?reply_template={template.id}").get_data(as_text=True)
    assert "先核实低保名单，暂不答复" in html and "内部（仅工作人员）" in html
    assert ">经核实，您反映的问题属实，已督促村委会整改。</textarea>" in html  # the reply starts from the template
    post(client, f"/admin/cases/{case.tracking_no}/reply", {"reply": "经核实，您反映的问题属实，已督促村委会重新评定。"})
    db.expire_all()
    assert db.get(Case, case.id).status == "replied"
    view = citizen_view(db, db.get(Case, case.id))
    assert view.status == "已答复" and view.reply.note == "经核实，您反映的问题属实，已督促村委会重新评定。"
    assert all("先核实低保名单" not in (step.note or "") for step in view.timeline)
    # A second reply keeps the status and is the one the citizen reads.
    post(client, f"/admin/cases/{case.tracking_no}/reply", {"reply": "补充答复：新名单已公示。"})
    assert citizen_view(db, db.get(Case, case.id)).reply.note == "补充答复：新名单已公示。"
    # The unit never reads the internal note.
    login(client, "baisha")
    html = page(client, case)
    assert "先核实低保名单" not in html and "补充答复：新名单已公示。" in html
    assert [(e.action, e.public) for e in events(db, case)][-3:] == [("note", False), ("reply", True), ("reply", True)]
    assert post(client, f"/admin/cases/{case.tracking_no}/note", {"note": "x"}).status_code == 403


def test_hand_over_with_the_redacted_text_checked_and_edited(client, db, app):
    with_passwords(db)
    vault = app.extensions["vault"]
    original = "白沙村低保评定不公，我叫王小明，电话13800138000，身份证430123199001011234"
    case = make_case(db, original, status=S.assigned, vault=vault, name="王小明", phone="13800138000")
    login(client, "zhang")
    html = page(client, case)
    due = clock.today() + timedelta(days=15)  # the round's handover_days
    assert f'name="due_on" value="{due}"' in html
    assert "白沙村低保评定不公，我叫某某，电话＊＊＊，身份证＊＊＊" in html
    edited = "白沙村低保评定不公，请核查2026年低保名单。联系电话13912345678"  # a phone typed back in
    r = post(client, f"/admin/cases/{case.tracking_no}/handover", {
        "unit": str(case.unit_id), "due_on": str(due), "text": edited})
    assert "已交办" in client.get(r.headers["Location"]).get_data(as_text=True)
    db.expire_all()
    handover = db.scalar(sa.select(Handover).where(Handover.case_id == case.id))
    assert handover.text == "白沙村低保评定不公，请核查2026年低保名单。联系电话＊＊＊"
    assert (handover.due_on, handover.staff_id) == (due, staff(db, "zhang").id)
    case = db.get(Case, case.id)
    assert case.status == "handed_over" and case.text == original  # the original is kept
    assert citizen_view(db, case).latest.note == f"已交办白沙村整改，办理期限{due:%Y年%m月%d日}"
    login(client, "baisha")
    html = page(client, case)
    assert "请核查2026年低保名单" in html and "13912345678" not in html and "王小明" not in html
    assert "报送整改进展" in html and "拟答复" in html and "受理确认" not in html
    # A due date in the past is refused.
    other = make_case(db, "路灯坏了", status=S.assigned)
    login(client, "zhang")
    r = post(client, f"/admin/cases/{other.tracking_no}/handover", {
        "unit": str(other.unit_id), "due_on": str(date(2020, 1, 1)), "text": "路灯坏了"})
    assert "办理期限不能早于今天" in client.get(r.headers["Location"]).get_data(as_text=True)
    assert db.get(Case, other.id).status == "assigned"


def test_merge_shares_the_main_case_replies(client, db):
    with_passwords(db)
    main = make_case(db, "白沙村水渠堵了", status=S.assigned)
    duplicate = make_case(db, "白沙村的水渠堵了没人管", status=S.received)
    login(client, "zhang")
    r = post(client, f"/admin/cases/{duplicate.tracking_no}/merge", {"main": main.tracking_no.lower()})
    assert f"已合并到 {main.tracking_no}" in client.get(r.headers["Location"]).get_data(as_text=True)
    post(client, f"/admin/cases/{main.tracking_no}/verify", {})
    post(client, f"/admin/cases/{main.tracking_no}/reply", {"reply": "水渠已清淤，感谢监督。"})
    db.expire_all()
    duplicate = db.get(Case, duplicate.id)
    assert (duplicate.status, duplicate.merged_into_id) == ("merged", main.id)
    view = citizen_view(db, duplicate)
    assert view.status == "已合并办理" and view.reply.note == "水渠已清淤，感谢监督。"
    assert f"与受理编号{main.tracking_no}的反映合并办理" in [s.note for s in view.timeline]
    # Nothing else of the main case's history reaches the duplicate's citizen.
    assert "巡察组正在核查" not in [s.note for s in view.timeline]
    assert "合并到" in page(client, duplicate)
    r = post(client, f"/admin/cases/{main.tracking_no}/merge", {"main": main.tracking_no})
    assert r.status_code == 403  # replied: nothing to merge any more


def test_refer_verify_file_and_reject_tell_the_citizen(client, db):
    with_passwords(db)
    login(client, "zhang")
    numbers = {}
    for action, data in (("refer", {"channel": "12345热线", "reason": "属于市政维修事项"}),
                         ("verify", {"remark": "下周走访"}), ("file", {}),
                         ("reject", {"reason": "属于正在诉讼的私人纠纷，请通过法院解决", "out_of_scope": "1"})):
        case = make_case(db, "张三和李四的宅基地纠纷", status=S.assigned, kind="petition", domain="land")
        post(client, f"/admin/cases/{case.tracking_no}/{action}", data)
        numbers[action] = case.id
    db.expire_all()
    expect = {"refer": ("referred", "已转办", "已转办12345热线：属于市政维修事项"),
              "verify": ("verifying", "核查中", "巡察组正在核查"),
              "file": ("filed", "已存档", "已存档备查，作为巡察工作参考"),
              "reject": ("rejected", "不予受理", "属于正在诉讼的私人纠纷，请通过法院解决")}
    for action, (status, label, note) in expect.items():
        case = db.get(Case, numbers[action])
        view = citizen_view(db, case)
        assert (case.status, view.status, view.latest.note) == (status, label, note), action
    verify_log = events(db, db.get(Case, numbers["verify"]))
    assert (verify_log[-1].action, verify_log[-1].public, verify_log[-1].note) == ("note", False, "下周走访")
    rejected = db.get(Case, numbers["reject"])
    assert rejected.kind == "out_of_scope" and rejected.labels_confirmed  # training data
    empty = make_case(db, "私人纠纷", status=S.assigned)
    r = post(client, f"/admin/cases/{empty.tracking_no}/reject", {"reason": " "})
    assert "请填写不予受理的理由" in client.get(r.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("channel, name", [("letter", "来信"), ("meeting", "屋场恳谈会"), ("phone", "来电"),
                                           ("visit", "来访")])
def test_staff_entry_opens_a_routed_case(client, db, run_jobs, channel, name):
    with_passwords(db)
    login(client, "li")
    html = client.get("/admin/cases/new").get_data(as_text=True)
    assert name in html and "录入反映" in html
    r = post(client, "/admin/cases/new", {"channel": channel, "text": "白沙村村主任把集体鱼塘低价包给亲戚",
                                          "anonymity": "default"})
    assert r.status_code == 200 and "已录入，受理编号：" in r.get_data(as_text=True)
    case = db.scalar(sa.select(Case).order_by(Case.id.desc()))
    assert case.channel == channel and case.reporter_id is None
    first = events(db, case)[0]
    assert (first.action, first.actor, first.staff_id) == ("submitted", "staff", staff(db, "li").id)
    run_jobs()
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.routed_at is not None and case.group.code == "G1" and case.unit.path == "青石镇/白沙村"
    assert case.status == "assigned"  # routed like any other case: entering it decided nothing


def test_staff_entry_named_and_anonymous(client, db, app):
    with_passwords(db)
    login(client, "lizhuren")
    r = post(client, "/admin/cases/new", {"channel": "visit", "text": "反映低保问题", "anonymity": "named"})
    assert r.status_code == 400 and "实名反映请填写姓名和联系电话" in r.get_data(as_text=True)
    r = post(client, "/admin/cases/new", {"channel": "visit", "text": "反映低保问题", "anonymity": "named",
                                          "name": "赵大妈", "phone": "13912345678"})
    case = db.scalar(sa.select(Case).order_by(Case.id.desc()))
    assert case.anonymity == "named" and app.extensions["vault"].decrypt(case.contact_name_enc) == "赵大妈"
    assert "赵大妈" not in page(client, case) and "13912345678" not in page(client, case)
    r = post(client, "/admin/cases/new", {"channel": "letter", "text": "匿名来信反映低保问题", "anonymity": "anonymous"})
    assert "查询码：" in r.get_data(as_text=True)
    assert post(client, "/admin/cases/new", {"channel": "wechat", "text": "x"}).status_code == 400
    for who in ("baisha", "jw", "audit"):
        login(client, who)
        assert client.get("/admin/cases/new").status_code == 404
        assert "录入" not in client.get("/admin/").get_data(as_text=True).split("</header>")[0]
