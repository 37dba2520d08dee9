"""Browser journeys: the real UI in Debian's Chromium, driven through Playwright."""
