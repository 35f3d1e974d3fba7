"""crisis_triage.training."""
