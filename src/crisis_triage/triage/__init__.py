"""crisis_triage.triage."""
