"""crisis_triage.storage."""
