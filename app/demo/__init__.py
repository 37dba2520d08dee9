"""Demo data for a first run: Bình Thuận's units, stations, one user per role, the seed scripts."""
