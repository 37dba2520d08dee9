"""Users, roles, login, API tokens and the permission checks every view uses."""
