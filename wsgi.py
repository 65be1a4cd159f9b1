"""WSGI entry: `gunicorn wsgi:app`. Flask's CLI finds it too (`flask ...` in this folder)."""
from core.app import create_app

app = create_app()
