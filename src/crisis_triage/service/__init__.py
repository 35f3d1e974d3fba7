"""crisis_triage.service."""
