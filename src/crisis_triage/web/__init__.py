"""crisis_triage.web."""
