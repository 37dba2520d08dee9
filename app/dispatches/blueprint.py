"""The dispatch desk's blueprint: intake, confirmation and drafts (views.py), tracking and the
report back (report_views.py)."""

from flask import Blueprint

bp = Blueprint("dispatches", __name__, url_prefix="/dispatches")
