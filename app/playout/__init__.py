"""The playout core: the runner, the outputs, the runner lock and the manual actions.

Two hosts run it unchanged: the central runner (`flask scheduler run`) on the server's
database, and the station agent (app/station_agent) on its own small SQLite copy of its
station's plan. app/schedules keeps the rules and the plan that feed it.
"""
