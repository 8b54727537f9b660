"""The WSGI entry point for gunicorn: settings come from the environment only."""

from app import create_app

app = create_app()
