"""The station agent: the program on the PC beside a commune station's amplifier.

It enrols once with the server (a one-time code for its own credential), then keeps its
station's plan for the next days and every audio file the plan needs in its own state
directory, airs that plan with the same playout core as the central runner (app/playout) on
its own small SQLite copy, and writes each log row locally first, in the station's hash chain,
uploading rows whenever the link allows. Nothing here needs the server's database or the web
app; `python -m app.station_agent` is the command (docs/deploy.md, "Máy trạm").

- state.py: the state directory (settings, credential, database, audio cache);
- local.py: the agent's database and how a plan from the server is applied to it;
- client.py: the HTTP calls to /api/v1/agent/ (plan with ETag, audio with Range, log, health);
- sync.py: one sync cycle (plan, audio, log, health) and the loop with backoff and jitter;
- cli.py: enrol, run, status.
"""
