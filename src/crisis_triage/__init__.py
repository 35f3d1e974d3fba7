"""crisis-triage: puts mental-health crisis messages in front of a crisis specialist first."""

__version__ = "0.1.0"
