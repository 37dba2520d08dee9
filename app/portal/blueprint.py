"""The portal's blueprint: public pages and feeds, no login."""

from flask import Blueprint

# No prefix: public pages live under /portal/…, the upward feed under /feed/v1/….
bp = Blueprint("portal", __name__)
