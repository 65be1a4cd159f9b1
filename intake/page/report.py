"""The report form (`/r/<scene>`, `/r/` for the office) and, inside WeChat, the web authorization
(snsapi_base) that lets replies reach the citizen: routed like a chat report through
`intake.cases.open_case`, channel `h5`.

Inside WeChat the first visit goes to WeChat's authorize page and comes back to `/r/oauth` with
a code, traded for the openid; the openid is sealed (`IdentityVault.seal`) into the session
cookie and the browser is sent on to the form's own clean address. A default or named report
links it (replies by WeChat); an anonymous one never does, and the sealed openid is dropped from
the cookie. Every report made here gets a query code (shown once): the status page follows it,
with WeChat or without.
"""
from __future__ import annotations

import hmac
import logging
import secrets

import sqlalchemy as sa
from flask import redirect, render_template, request, session, url_for

from core import clock
from core.app import db_session, jobs, limiter, settings, vault
from core.models import Group, Office, QrCode
from core.wechat_api import WeChatApiError
from core.wechat_oauth import authorize_url, openid_for_code
from intake.cases import EmptyDraft, NewCase, open_case
from intake.page import bp, renew_csrf
from intake.page import uploads

log = logging.getLogger(__name__)

REPORTS_PER_ADDRESS = (10, 3600)  # reports from one address in an hour (a village's shared Wi-Fi fits)
OAUTH_PER_ADDRESS = (60, 3600)
WX_KEY, OAUTH_STATE, OAUTH_TRIED = "r_wx", "r_oauth_state", "r_oauth_tried"


def in_wechat() -> bool:
    return "micromessenger" in request.headers.get("User-Agent", "").lower()


def session_openid() -> str | None:
    sealed = session.get(WX_KEY)
    if not sealed:
        return None
    try:
        return vault().unseal(sealed).get("o")
    except Exception:  # another key, a damaged cookie: as if never authorized
        session.pop(WX_KEY, None)
        return None


@bp.get("/", defaults={"scene": None})
@bp.get("/<scene>")
def form(scene: str | None):
    s = db_session()
    qr = _poster(s, scene)
    if scene is not None and qr is None:
        return render_template("mobile/message.html", title="二维码无效",
                               message="没有找到这张二维码。您仍可以向巡察办反映问题。",
                               link=url_for("mobile.form"), link_text="向巡察办反映"), 404
    if in_wechat() and not session.get(WX_KEY) and not session.get(OAUTH_TRIED):
        state = secrets.token_urlsafe(16)
        session[OAUTH_STATE] = [state, scene or ""]
        cfg = settings()
        # Under PUBLIC_URL, the address WeChat knows: behind a proxy the request's own host is
        # the proxy's upstream (127.0.0.1:8000), which WeChat would refuse.
        back = cfg.public_url.rstrip("/") + url_for("mobile.oauth_back")
        return redirect(authorize_url(cfg.wechat_appid, cfg.wechat_api_base, back, state))
    return _form_page(s, qr, scene)


@bp.get("/oauth")
def oauth_back():
    """WeChat sends the browser back here with `code` and our `state`."""
    kept = session.pop(OAUTH_STATE, None)
    session[OAUTH_TRIED] = True  # once per session: a failure never loops between here and WeChat
    scene = kept[1] if isinstance(kept, list) and len(kept) == 2 else ""
    code, state = request.args.get("code", ""), request.args.get("state", "")
    good_state = isinstance(kept, list) and hmac.compare_digest(state.encode(), str(kept[0]).encode())
    if code and good_state and limiter().allow(f"h5-oauth:{request.remote_addr}", *OAUTH_PER_ADDRESS):
        cfg = settings()
        try:
            openid = openid_for_code(cfg.wechat_appid, cfg.wechat_secret, cfg.wechat_api_base, code)
            session[WX_KEY] = vault().seal({"o": openid})
        except WeChatApiError as exc:  # the report still works: it is followed by its query code
            log.warning("web authorization failed: %s", exc.errcode)
    return redirect(url_for("mobile.form", scene=scene or None))


@bp.post("/", defaults={"scene": None})
@bp.post("/<scene>")
def submit(scene: str | None):
    s = db_session()
    qr = _poster(s, scene)
    if scene is not None and qr is None:
        return render_template("mobile/message.html", title="二维码无效", message="没有找到这张二维码。"), 404
    f = request.form
    if not limiter().allow(f"h5-report:{request.remote_addr}", *REPORTS_PER_ADDRESS):
        return _form_page(s, qr, scene, "提交过于频繁，请稍后再试；也可以拨打巡察组公布的电话反映。", f), 429
    try:
        text = uploads.text(f.get("text", ""))
        way = uploads.way(f.get("way", ""), f.get("name", ""), f.get("phone", ""))
        contents = [file.read(uploads.MAX_PHOTO_BYTES + 1) for file in request.files.getlist("photos")
                    if file and file.filename]
        if not text and not contents:
            raise uploads.BadForm("请填写要反映的问题，或上传照片。")
        place = uploads.location(f.get("lat", ""), f.get("lng", ""), f.get("place", ""))
        attachments = uploads.photos(settings().media_dir, contents)
    except uploads.BadForm as problem:
        return _form_page(s, qr, scene, str(problem), f), 400
    openid = session_openid() if way.anonymity != "anonymous" else None
    new = NewCase(channel="h5", texts=[text], anonymity=way.anonymity, openid=openid, name=way.name,
                  phone=way.phone, qr=qr, attachments=attachments + ([place] if place else []),
                  query_code=True)  # the page can always be followed, also by someone who never follows the account
    try:
        sub = open_case(s, new, vault(), jobs())
    except EmptyDraft:
        return _form_page(s, qr, scene, "请填写要反映的问题，或上传照片。", f), 400
    group = s.get(Group, sub.case.group_id) if sub.case.group_id else None
    s.commit()
    if way.anonymity == "anonymous":
        session.pop(WX_KEY, None)  # nothing of the citizen's WeChat stays beside an anonymous report
    renew_csrf()
    return render_template("mobile/submitted.html", tracking_no=sub.case.tracking_no, query_code=sub.query_code,
                           anonymous=way.anonymity == "anonymous", by_wechat=openid is not None,
                           handler=group.name if group else "巡察办")


def _poster(s, scene: str | None) -> QrCode | None:
    return s.scalar(sa.select(QrCode).where(QrCode.scene == scene)) if scene else None


def _form_page(s, qr: QrCode | None, scene: str | None, error: str | None = None, values=None):
    office = s.scalar(sa.select(Office).order_by(Office.id).limit(1))
    state = qr.state(clock.today()) if qr is not None else None
    live = state == "live"
    who = qr.group.name if live and qr.group else (office.name if office else "巡察办")
    contact = (qr.group if live and qr.group else office)
    return render_template("mobile/report.html", scene=scene, who=who, poster_state=state,
                           round_name=qr.round.name if qr is not None else None,
                           unit_name=qr.unit.name if live and qr.unit else None,
                           phone=getattr(contact, "phone", None), error=error, values=values or {},
                           wechat=session.get(WX_KEY) is not None, max_photos=uploads.MAX_PHOTOS)
