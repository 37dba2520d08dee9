"""Schedules, the plan of airings, the runner and the broadcast log."""
