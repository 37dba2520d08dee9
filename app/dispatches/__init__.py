"""Dispatches: the administrative documents that start campaigns, read into their fields."""
