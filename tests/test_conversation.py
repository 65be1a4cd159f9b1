"""A villager's whole path: scan, talk, submit, get a tracking number, follow the case."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.db import utcnow
from core.identity import check_query_code
from core.models import Attachment, Case, CaseEvent, Conversation, Group, Push, Reporter, Unit
from bot import simulator as sim
from tests.replies import tracking_no


def pieces(db) -> int:
    """Draft pieces still stored (submitted ones go with the periodic purge)."""
    return db.scalar(sa.select(sa.func.count()).select_from(Push).where(Push.conversation.is_not(None)))


def test_scan_to_tracking_number(citizen, db, run_jobs, draft_of):
    greeting = citizen.scan("G1-baisha")
    assert "县委第一巡察组" in greeting and "十三届县委第九轮巡察" in greeting
    assert "白沙村" in greeting and "0734-1234501" in greeting  # the group's public contact
    reply = citizen.say("白沙村村支书把低保名额给了自己亲戚，家里有车有房还吃低保")
    assert reply.startswith("已记录：白沙村村支书把低保名额") and "「提交」" in reply and "「匿名」" in reply
    reply = citizen.say("这个事情已经好几年了，村民都有意见")
    assert reply.startswith("已记录：这个事情已经好几年了")
    draft = draft_of(citizen)
    assert draft.entry_count == 2 and draft.summary == "白沙村村支书把低保名额给了自己亲戚，家里有车有房还吃低保；这个事情已经好几年了，村民都有意见"
    assert citizen.say("补充一下：他家的两个儿子都在城里买了房，还开着小车").startswith("已记录")
    assert draft_of(citizen).summary == \
        "白沙村村支书把低保名额给了自己亲戚，家里有车有房还吃低保；这个事情已经好几年了，村民都有意见；补充一下：他家的两个儿子"[:59] + "…"
    assert "3条内容" in citizen.say("查询")
    reply = citizen.say("提交")
    number = tracking_no(reply)
    assert "查询码" not in reply and "县委第一巡察组" in reply

    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    assert case.channel == "wechat" and case.status == "received" and case.anonymity == "default"
    assert "低保名额" in case.text and "好几年" in case.text
    assert db.get(Group, case.group_id).code == "G1"
    assert db.get(Unit, case.unit_id).path == "青石镇/白沙村"
    assert case.qr_code.scene == "G1-baisha" and case.round.name == "十三届县委第九轮巡察"
    # The reporter is kept, encrypted: no plain openid anywhere in the row.
    reporter = db.get(Reporter, case.reporter_id)
    assert citizen.openid.encode() not in reporter.openid_enc
    events = db.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert [(e.action, e.to_status, e.actor) for e in events] == [("submitted", "received", "citizen")]
    # The draft is gone once submitted.
    assert draft_of(citizen) is None

    run_jobs()  # the router assigns it to the group
    listing = citizen.say("查询")
    assert number in listing and "已分派巡察组" in listing


def test_anonymous_report_links_nothing_to_the_citizen(citizen, db, app, run_jobs, draft_of):
    citizen.scan("G2-shimen")
    citizen.say("石门村修路的工程款被村干部挪用，路修了一半就停了")
    assert "匿名" in citizen.say("匿名")
    reply = citizen.say("提交")
    number = tracking_no(reply)
    code = re.search(r"查询码：([0-9A-Z]+)", reply).group(1)
    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    assert case.anonymity == "anonymous" and case.reporter_id is None
    assert db.scalar(sa.select(sa.func.count()).select_from(Reporter)) == 0
    # The query code is stored only as a hash.
    assert code not in case.query_code_hash and check_query_code(code, case.query_code_hash)
    assert draft_of(citizen) is None
    # Replies are kept (for WeChat's retries) only sealed, and only for minutes; the pieces, only
    # sealed, until the periodic purge takes every submitted draft's at once.
    sealed = b" ".join(r or b"" for r in db.scalars(sa.select(Push.reply)))
    assert code.encode() not in sealed and number.encode() not in sealed and "工程款".encode() not in sealed
    assert "工程款".encode() not in b" ".join(db.scalars(sa.select(Push.sealed).where(Push.sealed.is_not(None))))
    db.execute(sa.update(Push).where(Push.conversation.is_(None)).values(at=utcnow() - timedelta(minutes=11)))
    db.commit()
    with app.app_context():
        from intake.jobs import purge_pushes

        done = purge_pushes()
    assert done["replies"] == 2 and done["submitted_pieces"] == 2  # the scan and 提交; the text and 匿名
    db.expire_all()
    assert db.scalar(sa.select(sa.func.count()).select_from(Push)) == 0
    # No row keeps the second the citizen last wrote: nothing to match the case's time against.
    conv = db.scalar(sa.select(Conversation))
    assert conv.last_inbound_at.minute == conv.last_inbound_at.second == 0
    assert conv.created_at.minute == conv.created_at.second == 0
    # "查询" does not list anonymous cases; tracking number + query code does.
    assert number not in citizen.say("查询")
    run_jobs()
    status = citizen.say(f"查询 {number} {code}")
    assert number in status and "状态：已分派巡察组" in status and "最新进展" in status
    assert "不正确" in citizen.say(f"查询 {number} WRONG999")


def test_named_report_keeps_name_and_phone_encrypted(citizen, db, app):
    citizen.scan("G1-zaohetian")
    assert "实名" in citizen.say("实名 张三 13800001234")
    citizen.say("早禾田村的灌溉水渠堵了两年，村里一直没人管")
    number = tracking_no(citizen.say("提交"))
    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    assert case.anonymity == "named" and case.reporter_id is not None
    assert b"13800001234" not in case.contact_phone_enc and "张三".encode() not in case.contact_name_enc
    vault = app.extensions["vault"]
    assert vault.decrypt(case.contact_name_enc) == "张三" and vault.decrypt(case.contact_phone_enc) == "13800001234"
    assert "格式" in citizen.say("实名")
    # The name belongs to that report only: the citizen's next, default report carries none.
    citizen.say("早禾田村的路灯坏了三个月，晚上出行不便")
    later = db.scalar(sa.select(Case).where(Case.tracking_no == tracking_no(citizen.say("提交"))))
    assert later.anonymity == "default" and later.contact_name_enc is None and later.reporter_id == case.reporter_id


def test_report_words_that_mean_anonymous_or_named(citizen, db):
    citizen.scan("G1-baisha")
    reply = citizen.say("匿名举报白沙村村主任挪用修路款")
    assert reply.startswith("已记录：匿名举报白沙村村主任挪用修路款") and "已设为匿名反映" in reply
    number = tracking_no(citizen.say("提交"))
    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    assert case.anonymity == "anonymous" and case.reporter_id is None and "挪用修路款" in case.text
    for word in ("匿名反映", "我要匿名"):
        assert "已设为匿名反映" in citizen.say(word)
        assert "取消" in citizen.say("取消")
    # "实名举报…" is a report (kept), with a hint how to give one's name.
    reply = citizen.say("实名举报白沙村村支书贪污低保金")
    assert reply.startswith("已记录：实名举报白沙村村支书贪污低保金") and "实名 姓名 手机号" in reply
    assert "请按格式" in citizen.say("实名举报")
    # "匿名提交" makes the draft anonymous and submits it.
    reply = citizen.say("匿名提交")
    assert "受理编号：XC" in reply and "查询码：" in reply
    case = db.scalar(sa.select(Case).where(Case.tracking_no == tracking_no(reply)))
    assert case.anonymity == "anonymous" and "贪污低保金" in case.text


def test_voice_image_location_attach_to_the_case(citizen, db, run_jobs, fake_wechat, draft_of, settings):
    import base64

    import requests

    requests.post(f"{fake_wechat}/_fake/media", json={"media_id": "VOICE1", "content_type": "audio/amr",
                                                      "data_b64": base64.b64encode(b"#!AMR voice").decode()})
    requests.post(f"{fake_wechat}/_fake/media", json={"media_id": "IMG1", "content_type": "image/jpeg",
                                                      "data_b64": base64.b64encode(b"\xff\xd8jpeg").decode()})
    citizen.scan("G1-baisha")
    reply = citizen.voice("VOICE1", "村里的自来水停了半个月了")
    assert reply.startswith("已记录语音：村里的自来水停了半个月了")
    assert citizen.image("IMG1").startswith("已记录图片。")
    assert citizen.location(26.9, 112.55, "白沙村二组水塔").startswith("已记录位置：白沙村二组水塔")
    assert "原声已保存" in citizen.voice("VOICE1", "")  # no recognition: the voice is still kept
    assert draft_of(citizen).entry_count == 4
    run_jobs()  # the draft's media are downloaded at once (WeChat's media ids expire)
    draft = draft_of(citizen)
    assert [p.media for p in draft.content] == ["stored", "stored", None, "stored"]
    assert (settings.media_dir / draft.content[1].file).read_bytes() == b"\xff\xd8jpeg"
    number = tracking_no(citizen.say("提交"))
    run_jobs()
    db.expire_all()
    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    kinds = [(a.kind, a.status) for a in case.attachments]
    assert kinds == [("voice", "stored"), ("image", "stored"), ("location", "stored"), ("voice", "stored")]
    assert "自来水停了半个月" in case.text and "白沙村二组水塔" in case.text
    voice = case.attachments[0]
    # The case has its own copy, named by its content: nothing in it matches the draft's row.
    assert voice.content_type == "audio/amr" and voice.size == len(b"#!AMR voice") and voice.media_id is None
    assert (settings.media_dir / voice.storage_path).read_bytes() == b"#!AMR voice"
    assert voice.storage_path != draft.content[0].file and voice.recognition == "村里的自来水停了半个月了"
    loc = case.attachments[2]
    assert (loc.lat, loc.lng, loc.label) == (26.9, 112.55, "白沙村二组水塔")


def test_media_not_yet_downloaded_at_submission_is_fetched_for_the_case(citizen, db, run_jobs, fake_wechat):
    import base64

    import requests

    requests.post(f"{fake_wechat}/_fake/media", json={"media_id": "SLOW1", "content_type": "image/jpeg",
                                                      "data_b64": base64.b64encode(b"\xff\xd8slow").decode()})
    citizen.say("白沙村的垃圾堆在河边好几个月了，没人清理")
    citizen.image("SLOW1")
    run_jobs()
    # As if WeChat had not answered the draft's download yet when the citizen submits.
    db.execute(sa.update(Push).where(Push.media.is_not(None)).values(media="pending", file=None, attempts=0))
    db.commit()
    number = tracking_no(citizen.say("提交"))
    run_jobs()
    db.expire_all()
    att = db.scalar(sa.select(Case).where(Case.tracking_no == number)).attachments[0]
    assert (att.kind, att.status, att.media_id, att.size) == ("image", "stored", "SLOW1", len(b"\xff\xd8slow"))


def test_failed_media_download_is_retried_and_visible(citizen, db, run_jobs, fake_wechat, runner):
    import requests

    citizen.scan("G1-baisha")
    citizen.image("GONE1")  # WeChat no longer has it: 40007 is final, shown, not retried forever
    run_jobs()
    db.expire_all()
    piece = db.scalar(sa.select(Push).where(Push.media.is_not(None)))
    assert piece.media == "invalid" and "40007" in piece.last_error and piece.attempts == 1
    out = runner.invoke(args=["media", "status"]).output
    assert "drafts invalid: 1" in out and "drafts invalid piece" in out and "40007" in out
    with runner.app.app_context():  # the sweep does not ask WeChat for it again
        from intake.jobs import requeue_pending_media

        assert requeue_pending_media(older_than_s=0) == 0

    # A busy WeChat (-1) twice, then the media is there: retried until stored.
    import base64
    requests.post(f"{fake_wechat}/_fake/media", json={"media_id": "BUSY1", "content_type": "image/jpeg",
                                                      "data_b64": base64.b64encode(b"\xff\xd8ok").decode()})
    requests.post(f"{fake_wechat}/_fake/fail", json={"path": "/cgi-bin/media/get", "errcode": -1, "times": 2})
    citizen.image("BUSY1")
    run_jobs()
    db.expire_all()
    busy = db.scalar(sa.select(Push).where(Push.media.is_not(None), Push.key != piece.key))
    assert busy.media == "stored" and busy.attempts == 3


def test_commands_with_nothing_to_act_on(citizen):
    assert "还没有要提交的内容" in citizen.say("提交")
    assert "没有未提交的反映" in citizen.say("取消")
    assert "还没有通过本公众号提交过反映" in citizen.say("查询")
    assert "使用说明" in citizen.say("帮助")
    assert "请直接描述要反映的问题" in citizen.say("你好")


def test_cancel_drops_the_draft_and_its_media(app, citizen, db, run_jobs, fake_wechat, settings, draft_of):
    import base64
    import os
    import time

    import requests

    requests.post(f"{fake_wechat}/_fake/media", json={"media_id": "DROP1", "content_type": "image/jpeg",
                                                      "data_b64": base64.b64encode(b"\xff\xd8drop").decode()})
    citizen.say("村里路灯坏了三个月没人修，晚上很黑")
    citizen.image("DROP1")
    run_jobs()
    stored = settings.media_dir / draft_of(citizen).content[1].file
    assert stored.exists()
    assert "已取消" in citizen.say("取消")
    assert "还没有要提交的内容" in citizen.say("提交")
    assert pieces(db) == 0 and not stored.exists()
    # A download that lands after the cancel leaves a file nothing points to: the purge takes it.
    late = settings.media_dir / "drafts" / "late.jpg"
    late.write_bytes(b"\xff\xd8late")
    with app.app_context():
        from intake.jobs import purge_orphan_media

        # The file's times on this process's clock (under faketime the file system keeps the real one).
        os.utime(late, (time.time(), time.time()))
        assert purge_orphan_media() == 0  # too fresh: it could be a download being stored
        os.utime(late, (time.time() - 7200, time.time() - 7200))
        assert purge_orphan_media() == 1
    assert not late.exists()


def test_report_without_scan_goes_to_the_office_queue(citizen, db):
    citizen.say("我想反映县里某单位办事拖拉的问题，跑了好几趟")
    reply = citizen.say("提交")
    assert "巡察办" in reply
    case = db.scalar(sa.select(Case))
    assert case.group_id is None and case.qr_code_id is None and case.round.name == "十三届县委第九轮巡察"


def test_office_qr_code_has_no_group(citizen, db):
    greeting = citizen.scan("OFFICE", first_time=False)
    assert "示范县委巡察办" in greeting and "0734-1234500" in greeting
    citizen.say("建议巡察组多到偏远的组里走一走，听听老百姓的意见")
    citizen.say("提交")
    case = db.scalar(sa.select(Case))
    assert case.group_id is None and case.qr_code.scene == "OFFICE"


def test_draft_survives_a_quiet_day_and_scan_reminds(citizen, db, age_pieces):
    citizen.scan("G1-baisha")
    citizen.say("白沙村的危房改造补贴被村干部克扣了一部分")
    age_pieces(30, conversations=True)
    greeting = citizen.scan("G1-baisha", first_time=False)
    assert "未提交的反映" in greeting and "危房改造" in greeting
    assert citizen.say("补充：涉及三户人家").startswith("已记录")
    assert "（2条内容）" in citizen.say("查询")
    assert "受理编号" in citizen.say("提交")


def test_sweep_reminds_then_abandons_but_never_loses(citizen, db, runner, fake_wechat, app, age_pieces):
    import requests

    citizen.say("青石镇的养老金发放拖了三个月还没到账")
    requests.post(f"{fake_wechat}/_fake/interaction", json={"openid": citizen.openid})
    age_pieces(21)
    assert "'reminded': 1" in runner.invoke(args=["drafts", "sweep"]).output
    sent = requests.get(f"{fake_wechat}/_fake/messages").json()
    texts = [str(m) for m in (sent if isinstance(sent, list) else sent.get("messages", sent))]
    assert any("还没有提交" in t and citizen.openid in t for t in texts)
    assert "'reminded': 0" in runner.invoke(args=["drafts", "sweep"]).output  # never twice

    age_pieces(80)
    assert "'abandoned': 1" in runner.invoke(args=["drafts", "sweep"]).output
    assert "pieces=1" in runner.invoke(args=["drafts", "list"]).output
    assert "pieces=1" not in runner.invoke(args=["drafts", "list", "--status", "open"]).output
    # The citizen comes back: the abandoned draft continues and can be submitted.
    assert citizen.say("补充一下，是2026年9月开始的").startswith("已记录")
    assert "pieces=2" in runner.invoke(args=["drafts", "list", "--status", "open"]).output  # back in the open
    assert "受理编号" in citizen.say("提交")
    case = db.scalar(sa.select(Case))
    assert "养老金" in case.text and "9月" in case.text


def test_a_draft_never_submitted_is_forgotten_after_the_stated_days(citizen, db, runner, app, age_pieces,
                                                                    draft_of, run_jobs, fake_wechat, settings):
    import base64

    import requests

    requests.post(f"{fake_wechat}/_fake/media", json={"media_id": "OLD1", "content_type": "image/jpeg",
                                                      "data_b64": base64.b64encode(b"\xff\xd8old").decode()})
    citizen.say("匿名")
    citizen.say("白沙村的水渠被挖断了，一直没修")
    citizen.image("OLD1")
    run_jobs()
    stored = settings.media_dir / draft_of(citizen).content[1].file
    age_pieces(24 * settings.draft_forget_days - 2)
    assert "'forgotten': 0" in runner.invoke(args=["drafts", "sweep"]).output
    age_pieces(24 * settings.draft_forget_days + 1)
    assert "'forgotten': 1" in runner.invoke(args=["drafts", "sweep"]).output
    assert draft_of(citizen) is None and pieces(db) == 0 and not stored.exists()
    assert "还没有要提交的内容" in citizen.say("提交")


def test_two_citizens_do_not_share_drafts(make_citizen, db):
    a, b = make_citizen("oAAAA000000000000000000001"), make_citizen("oBBBB000000000000000000001")
    a.scan("G1-baisha")
    b.scan("G2-shimen")
    a.say("白沙村村委会账目不公开，村民看不到")
    b.say("石门村的山塘水库年久失修，存在安全隐患")
    na, nb = tracking_no(a.say("提交")), tracking_no(b.say("提交"))
    ca = db.scalar(sa.select(Case).where(Case.tracking_no == na))
    cb = db.scalar(sa.select(Case).where(Case.tracking_no == nb))
    assert "账目" in ca.text and "账目" not in cb.text and ca.group.code == "G1" and cb.group.code == "G2"
    assert na not in b.say("查询")


def test_menu_click_and_unsubscribe(citizen, db):
    from bot import simulator as sim

    assert "使用说明" in citizen.send(sim.event(citizen.openid, "CLICK", "REPORT_HELP"))
    assert citizen.send(sim.event(citizen.openid, "unsubscribe")) is None  # answered "success"
    assert citizen.last_response.get_data(as_text=True) == "success"


@pytest.mark.needs_redis
def test_redis_gone_at_push_time_loses_nothing(app, citizen, db, runner, run_jobs, fake_wechat):
    """The queue is down when a voice arrives: the citizen still gets the answer, the attachment
    stays `pending`, and the sweep (`flask media retry`, also on RQ's cron) fetches it later."""
    import base64

    import requests
    from redis import Redis
    from rq import Queue

    jobs = app.extensions["jobs"]
    if jobs.in_process:
        pytest.skip("needs REDIS_URL: in-process jobs have no queue to lose")
    requests.post(f"{fake_wechat}/_fake/media", json={"media_id": "LATE1", "content_type": "audio/amr",
                                                      "data_b64": base64.b64encode(b"#!AMR late").decode()})
    real_redis, real_queue = jobs.redis, jobs.queue
    jobs.redis = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)
    jobs.queue = Queue("default", connection=jobs.redis)
    try:
        assert citizen.voice("LATE1", "村里的自来水停了半个月了").startswith("已记录语音")
    finally:
        jobs.redis, jobs.queue = real_redis, real_queue
    piece = db.scalar(sa.select(Push).where(Push.media.is_not(None)))
    assert piece.media == "pending"
    assert "re-enqueued 1" in runner.invoke(args=["media", "retry"]).output
    run_jobs()
    db.expire_all()
    assert db.get(Push, piece.key).media == "stored"


def test_a_claimed_download_is_not_fetched_twice(app, citizen, db, fake_wechat):
    import base64

    import requests

    from intake.jobs import CLAIM_TIMEOUT, download_piece

    requests.post(f"{fake_wechat}/_fake/media", json={"media_id": "TWICE1", "content_type": "image/jpeg",
                                                      "data_b64": base64.b64encode(b"\xff\xd8x").decode()})
    citizen.image("TWICE1")
    app.extensions["jobs"].wait() if app.extensions["jobs"].in_process else None
    key = db.scalar(sa.select(Push.key).where(Push.media.is_not(None)))
    # Another worker holds the claim: this run leaves it alone.
    db.execute(sa.update(Push).where(Push.key == key).values(media="fetching", claimed_at=utcnow(), file=None))
    db.commit()
    with app.app_context():
        assert download_piece(key).startswith("nothing to do")
    # The claim is older than CLAIM_TIMEOUT: that worker died; the download is taken over.
    db.execute(sa.update(Push).where(Push.key == key).values(claimed_at=utcnow() - CLAIM_TIMEOUT - timedelta(seconds=1)))
    db.commit()
    with app.app_context():
        assert download_piece(key).endswith(".jpg")
    db.expire_all()
    assert db.get(Push, key).media == "stored"


def _submitted_keys(app, db) -> list[str]:
    from core.models import SubmittedPiece

    vault = app.extensions["vault"]
    tags = set(db.scalars(sa.select(SubmittedPiece.tag)))
    return [k for k in db.scalars(sa.select(Push.key)) if vault.tag(k) in tags]


def test_a_mistyped_query_never_becomes_part_of_a_report(citizen, db, app):
    citizen.say("石门村修路的工程款被村干部挪用，路修了一半就停了")
    reply = citizen.say("匿名提交")
    number, code = tracking_no(reply), re.search(r"查询码：([0-9A-Z]+)", reply).group(1)
    for asked in (f"查询 {number}，{code}", f"查询：{number} {code}", f"{number} {code}",
                  f"查询{number} 查询码{code}", f"受理编号：{number}\n查询码：{code}", f"查询 {number} {code.lower()}"):
        answer = citizen.say(asked)
        assert answer.startswith(f"受理编号：{number}") and "状态：" in answer, (asked, answer)
    assert "查询 受理编号 查询码" in citizen.say(f"我的编号是{number}，怎么查")  # no code: how to ask
    # Nothing of it went into a draft tied to this WeChat user.
    assert db.scalar(sa.select(sa.func.count()).select_from(Push).where(
        Push.conversation.is_not(None), Push.key.not_in(_submitted_keys(app, db)))) == 0
    assert db.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def test_commands_work_as_copied_from_the_bot_and_in_full_width(citizen, db):
    assert "使用说明" in citizen.say("帮助？") and "使用说明" in citizen.say("ＨＥＬＰ")
    assert "使用说明" in citizen.say("？")
    citizen.say("白沙村的自来水停了半个月，一直没人管")
    assert citizen.say("") == citizen.say("   ") and "请直接描述" in citizen.say("。")  # blank: nothing added
    assert "匿名" in citizen.say("【匿名】")
    assert "受理编号" in citizen.say("「提交」")
    case = db.scalar(sa.select(Case))
    assert case.text == "白沙村的自来水停了半个月，一直没人管" and case.anonymity == "anonymous"


def test_spoken_commands_act_like_typed_ones(citizen, db, draft_of):
    citizen.voice("VOICE_A", "白沙村的低保名额被村干部的亲戚占了。")
    assert "匿名" in citizen.voice("VOICE_B", "匿名。")
    assert draft_of(citizen).anonymity == "anonymous"
    reply = citizen.voice("VOICE_C", "提交。")
    assert "受理编号" in reply and "查询码" in reply
    case = db.scalar(sa.select(Case))
    assert case.anonymity == "anonymous" and case.reporter_id is None and "低保名额" in case.text


def test_an_event_wechatpy_does_not_know_gets_no_answer(citizen):
    xml = sim.event(citizen.openid, "subscribe_msg_popup_event")
    r = citizen.push(xml)
    assert r.status_code == 200 and r.get_data(as_text=True) == "success"


def test_the_summary_grows_after_the_citizen_writes_an_ellipsis(citizen):
    citizen.say("村里的路坏了很久了……")
    citizen.say("下雨天根本走不了，孩子上学要绕远路")
    assert "孩子上学" in citizen.scan("G1-baisha", first_time=False)  # the pending draft's summary


def test_the_sweep_does_not_remind_an_empty_draft(citizen, db, runner, fake_wechat, age_pieces):
    import requests

    citizen.say("匿名")  # a draft with nothing in it yet
    requests.post(f"{fake_wechat}/_fake/interaction", json={"openid": citizen.openid})
    age_pieces(21)
    assert "'reminded': 0" in runner.invoke(args=["drafts", "sweep"]).output


def test_a_download_whose_draft_is_cancelled_meanwhile_ends_quietly(citizen, db, app, monkeypatch, run_jobs):
    from core.wechat_api import Media
    from intake import jobs as intake_jobs

    citizen.image("CANCELLED1")
    run_jobs()  # the job the push queued has run (the fake WeChat has no such media: invalid)
    key = db.scalar(sa.select(Push.key).where(Push.media.is_not(None)))
    db.execute(sa.update(Push).where(Push.key == key).values(media="pending"))
    db.commit()  # as if WeChat had not answered yet

    class CancelWhileDownloading:  # the citizen sends 取消 while WeChat sends the file
        def download_media(self, media_id):
            from bot.texts import CANCELLED

            assert citizen.say("取消") == CANCELLED
            return Media(b"\xff\xd8jpeg", "image/jpeg", None)

    monkeypatch.setattr(intake_jobs, "wechat_api", lambda: CancelWhileDownloading())
    with app.app_context():
        assert intake_jobs.download_piece(key).startswith("gone")
    db.expire_all()
    assert db.get(Push, key) is None


def test_query_code_guesses_are_limited(citizen, make_citizen):
    from bot.conversation import QUERY_LIMIT

    citizen.say("石门村修路的工程款被村干部挪用，路修了一半就停了")
    reply = citizen.say("匿名提交")
    number, code = tracking_no(reply), re.search(r"查询码：([0-9A-Z]+)", reply).group(1)
    guesser = make_citizen("oGUESS000000000000000000001")
    for i in range(QUERY_LIMIT):
        assert "没有查到" in guesser.say(f"查询 {number} WRONG{i:03d}")
    assert "查询过于频繁" in guesser.say(f"查询 {number} {code}")  # refused before any check
    assert citizen.say(f"查询 {number} {code}").startswith(f"受理编号：{number}")  # others unaffected
