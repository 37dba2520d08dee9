"""The portal's blueprint: public pages and feeds, no login."""

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/portal")
