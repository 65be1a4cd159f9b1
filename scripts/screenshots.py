"""The desk's screenshots in docs/: the demo (SQLite in a temporary folder, the demo deployment,
a dozen reports opened through `intake.cases.open_case` and routed by the routing job, a few
moved along their lifecycle) served on loopback and photographed in Debian's Chromium.

    .venv/bin/python scripts/screenshots.py [--out docs]

Writes desk-login-phone.png, desk-inbox-laptop.png, desk-inbox-phone.png, desk-case-laptop.png,
desk-case-phone.png, and the mobile page's mobile-form-phone.png and mobile-status-phone.png
(laptop 1366×768, phone 390×844 at 2× pixels). Needs /usr/bin/chromium
and fonts-noto-cjk (scripts/browser-setup.sh).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

REPORTS = [  # (poster scene or None for the office's, channel, text, anonymity)
    ("G1-baisha", "wechat", "白沙村的低保评定不公开，村干部的亲戚家里有车有房也吃上了低保，真正困难的人却没评上。", "default"),
    ("G1-baisha", "wechat", "白沙村村口的路灯坏了三个多月，晚上老人小孩出门很不安全，反映过几次没人管。", "default"),
    ("G1-zaohetian", "h5", "早禾田村主任违规插手村部建设工程，把工程给了自己的小舅子，工程款去向不明。", "anonymous"),
    ("G1-zaohetian", "wechat", "早禾田村修路款拨下来一年了，路只修了一半就停工，希望巡察组过问。", "default"),
    ("G2-shimen", "wechat", "石门村的水渠堵了半年，春耕放不了水，村里说没钱清淤。", "default"),
    ("G2-shimen", "meeting", "屋场恳谈会上群众反映：石门村集体鱼塘承包费收了好几年，账目从来没有公开过。", "default"),
    (None, "phone", "县人社局窗口办事推诿，养老金资格认证跑了三趟还没办好。", "named"),
    (None, "wechat", "邻居借钱不还，想请政府帮忙要回来。", "default"),
    ("G1-baisha", "wechat", "白沙村危房改造补助被村干部克扣了一部分，我家只拿到一半。", "anonymous"),
    ("G2-shimen", "letter", "花园社区垃圾清运不及时，夏天臭气很大，建议增加清运次数。", "default"),
    (None, "wechat", "柳溪镇养殖场排污进了河道，河里的鱼都死了。", "default"),
    ("G1-baisha", "wechat", "白沙村低保名单上有已经去世的人，还在领钱。", "default"),
]
PASSWORD = "demo-screenshots-2026"


def build(instance: Path):
    import yaml
    from alembic import command
    from alembic.config import Config

    from admin.accounts import set_password
    from admin.deploy import load_deployment
    from core.settings import Settings
    from product import create_app

    env = {"INSTANCE_PATH": str(instance), "APP_ENV": "testing", "SECRET_KEY": "screenshots-" + "s" * 24,
           "IDENTITY_KEY": "screenshots-identity-key", "WECHAT_TOKEN": "screenshots", "WECHAT_APPID": "wxscreenshots0001",
           "WECHAT_SECRET": "screenshots", "WECHAT_API_BASE": "http://127.0.0.1:9"}
    settings = Settings.from_env(env, instance_path=instance)
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = settings.database_url
    command.upgrade(cfg, "head")
    app = create_app(settings)
    with app.extensions["db"].session() as s:
        load_deployment(s, yaml.safe_load((ROOT / "deploy" / "demo.yaml").read_text(encoding="utf-8")))
        for login in ("lizhuren", "zhang", "li", "wang", "baisha", "jw", "audit"):
            set_password(s, login, PASSWORD)
        s.commit()
        open_reports(app, s)
    return app


def open_reports(app, s) -> None:
    import sqlalchemy as sa

    from core import lifecycle
    from core.models import Case, Handover, QrCode, Staff
    from core.models.case import CaseStatus as S
    from intake.cases import NewCase, open_case

    vault, jobs = app.extensions["vault"], app.extensions["jobs"]
    opened = []
    for scene, channel, text, anonymity in REPORTS:
        qr = s.scalar(sa.select(QrCode).where(QrCode.scene == scene)) if scene else None
        named = anonymity == "named"
        new = NewCase(channel=channel, texts=[text], anonymity=anonymity,
                      openid=None if anonymity == "anonymous" else f"oDEMO{len(opened):022d}",
                      name="赵大妈" if named else None, phone="13912345678" if named else None, qr=qr)
        opened.append(open_case(s, new, vault, jobs).case.id)
        s.commit()
    jobs.wait(timeout=120)  # routing: kind, domain, unit, group, assignee, clusters
    s.expire_all()
    zhang = s.scalar(sa.select(Staff).where(Staff.login == "zhang"))
    wang = s.scalar(sa.select(Staff).where(Staff.login == "wang"))
    cases = [s.get(Case, i) for i in opened]

    def move(case, to, by, action, note, public=False):
        if case.status != S.assigned.value and to != S.assigned:
            lifecycle.move(s, case, S.assigned, lifecycle.Actor.staff(by.id), "assigned", f"分派给{by.name}")
        lifecycle.move(s, case, to, lifecycle.Actor.staff(by.id), action, note, public=public)

    # A few moved along, as a group's week would: a handover, a transfer, a reply.
    first = cases[0]
    move(first, S.handed_over, zhang, "handover", "交办白沙村：十日内重新评议低保名单并张榜公示")
    s.add(Handover(case_id=first.id, unit_id=first.unit_id, due_on=(first.created_at + timedelta(days=15)).date(),
                   staff_id=zhang.id))
    move(cases[2], S.transferred, zhang, "transfer", "问题线索移交县纪委监委")
    move(cases[4], S.handed_over, wang, "handover", "交办石门村：组织清淤")
    s.add(Handover(case_id=cases[4].id, unit_id=cases[4].unit_id,
                   due_on=(cases[4].created_at + timedelta(days=15)).date(), staff_id=wang.id))
    lifecycle.move(s, cases[4], S.replied, lifecycle.Actor.staff(wang.id), "reply",
                   "水渠已于本周清淤完毕，恢复通水。感谢您的监督。", public=True)
    lifecycle.record(s, first, lifecycle.Actor.staff(zhang.id), "note", "内部备注：先调取近三年低保评议会议记录")
    s.commit()


def shoot(app, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    from tests.browser import LAPTOP, PHONE, launch, log_in, new_page, serve

    base, stop = serve(app)
    shots = []
    try:
        with sync_playwright() as p:
            browser = launch(p)
            for name, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
                page = new_page(browser, viewport, base)
                if name == "phone":
                    page.goto("/admin/login")
                    page.get_by_label("账号").fill("zhang")
                    shots.append(_save(page, out / "desk-login-phone.png"))
                log_in(page, "zhang", PASSWORD)
                shots.append(_save(page, out / f"desk-inbox-{name}.png"))
                page.get_by_label("搜索").fill("低保")
                page.get_by_label("搜索").press("Enter")
                page.wait_for_url("**q=**")
                page.locator("table.cases a").last.click()  # the first report: handed over, with a note
                page.wait_for_url("**/admin/cases/**")
                shots.append(_save(page, out / f"desk-case-{name}.png", full_page=name == "laptop"))
                page.context.close()
            shots += shoot_mobile(app, browser, base, out)
            browser.close()
    finally:
        stop()
    return shots


def shoot_mobile(app, browser, base: str, out: Path) -> list[Path]:
    """The mobile page on a phone: the report form from a poster's link, then a report made
    through it (anonymous), answered by the group, looked up on the status page with its rating form."""
    import sqlalchemy as sa

    from admin import handling
    from core import lifecycle
    from core.models import Case, Staff
    from core.models.case import CaseStatus as S
    from tests.browser import PHONE, new_page

    page = new_page(browser, PHONE, base)
    page.goto("/r/G1-baisha")
    page.get_by_label("要反映的问题").fill("白沙村村口的路灯坏了三个多月，晚上老人小孩出门很不安全。")
    page.get_by_label("地点").fill("白沙村村口")
    shots = [_save(page, out / "mobile-form-phone.png", full_page=True)]
    page.locator("input[name=way][value=anonymous]").check()
    page.get_by_role("button", name="提交反映").click()
    page.wait_for_selector("#query-code")
    number, code = page.locator("#tracking-no").inner_text(), page.locator("#query-code").inner_text()
    with app.extensions["db"].session() as s:
        case = s.scalar(sa.select(Case).where(Case.tracking_no == number))
        zhang = s.scalar(sa.select(Staff).where(Staff.login == "zhang"))
        lifecycle.move(s, case, S.handed_over, lifecycle.Actor.staff(zhang.id), "handover", "交办白沙村：更换路灯")
        handling.reply(s, zhang, case, "经核实，白沙村村口3盏路灯已于本周全部更换，恢复夜间照明。感谢您的监督。")
        s.commit()
    page.goto("/r/status")
    page.get_by_label("受理编号").fill(number)
    page.get_by_label("查询码").fill(code)
    page.get_by_role("button", name="查询").click()
    page.wait_for_selector("#reply")
    shots.append(_save(page, out / "mobile-status-phone.png", full_page=True))
    page.context.close()
    return shots


def _save(page, path: Path, full_page: bool = False) -> Path:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path), full_page=full_page)
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mashang-screenshots-") as tmp:
        app = build(Path(tmp))
        for path in shoot(app, a.out):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
        app.extensions["jobs"].wait(timeout=30)
        app.extensions["db"].dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
