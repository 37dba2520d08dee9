"""The portal's blueprint: public pages and feeds, no login."""

from flask import Blueprint

# No prefix: public pages live under /portal/…, the upward feed under /feed/v1/…. Its own
# small stylesheet (the player and the list on phones) is served under /portal/static/.
bp = Blueprint(
    "portal",
    __name__,
    template_folder=None,
    static_folder="static",
    static_url_path="/portal/static",
)
