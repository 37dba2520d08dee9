"""WSGI entry point: `gunicorn wsgi:app` or `flask --app wsgi run`."""

from werkzeug.middleware.proxy_fix import ProxyFix

from app import create_app

app = create_app()
if app.config.get("PROXY_FIX"):
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1)  # type: ignore[method-assign]
