"""Public portals: each unit's approved announcements as a page and a podcast feed, and the
upward JSON feed for the provincial source information system."""
