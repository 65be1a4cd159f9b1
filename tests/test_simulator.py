"""The chat simulator (`flask wechat chat`) against a live webhook over HTTP, as a person uses it."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from core.models import Attachment, Case
from tests.replies import tracking_no


@pytest.fixture
def live_url(app):
    import threading

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/wechat"
    server.shutdown()


@pytest.mark.parametrize("aes", [False, pytest.param(True, marks=pytest.mark.aes)])
def test_simulator_completes_a_report(runner, live_url, db, run_jobs, aes):
    script = "\n".join([
        "白沙村村支书把低保名额给了自己亲戚",
        "/voice 村里的自来水停了半个月",
        "/image",
        "/location 26.9 112.55 白沙村二组",
        "/video",
        "提交",
    ]) + "\n"
    result = runner.invoke(args=["wechat", "chat", "--scene", "G1-baisha", "--url", live_url], input=script)
    out = result.output
    assert result.exit_code == 0, out
    assert "县委第一巡察组" in out and "已记录：白沙村村支书" in out and "已记录语音：村里的自来水停了半个月" in out
    assert "已记录图片" in out and "已记录位置：白沙村二组" in out and "暂时无法处理这类消息" in out
    number = tracking_no(out)
    run_jobs()
    db.expire_all()
    case = db.scalar(sa.select(Case).where(Case.tracking_no == number))
    assert case.group.code == "G1" and "低保名额" in case.text and "自来水" in case.text
    media = db.scalars(sa.select(Attachment).where(Attachment.case_id == case.id)).all()
    assert sorted((a.kind, a.status) for a in media) == [("image", "stored"), ("location", "stored"),
                                                         ("voice", "stored")]


def test_simulator_anonymous_report_and_query(runner, live_url, run_jobs):
    out = runner.invoke(args=["wechat", "chat", "--scene", "G2-shimen", "--url", live_url],
                        input="匿名\n石门村修路的工程款被村干部挪用了\n提交\n").output
    number = tracking_no(out)
    code = re.search(r"查询码：([0-9A-Z]+)", out).group(1)
    run_jobs()
    out = runner.invoke(args=["wechat", "chat", "--url", live_url], input=f"查询 {number} {code}\n").output
    assert f"受理编号：{number}" in out and "状态：已分派巡察组" in out


def test_simulator_reports_http_errors(runner):
    result = runner.invoke(args=["wechat", "chat", "--url", "http://127.0.0.1:9/wechat"], input="帮助\n")
    assert result.exit_code == 1 and "无法连接 http://127.0.0.1:9/wechat" in result.output
