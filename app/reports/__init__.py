"""Airtime audit: planned against aired, campaign proof, station logbooks, exports."""
