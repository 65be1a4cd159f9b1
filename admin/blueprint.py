"""The desk's blueprint (`admin`, under /admin): its templates and static files are its own."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates",
               static_folder="static", static_url_path="/static")


@bp.app_template_filter("beijing")
def beijing(dt) -> str:
    from core.clock import local

    return f"{local(dt):%Y-%m-%d %H:%M}" if dt else ""


@bp.app_template_global("role_name")
def role_name(role: str) -> str:
    from admin.labels import role_name as name

    return name(role)
