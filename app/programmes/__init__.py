"""Programmes: rundowns of approved spots, recordings and library items, mixed into one file."""
