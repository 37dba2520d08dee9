"""Organisation: the unit tree, stations and their broadcast sessions."""
