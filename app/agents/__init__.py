"""Station agents: enrolment, credentials, the plan and audio they pull, playout mode."""
