"""Thin adapters between crisis-triage and the systems a clinic already runs.

Each adapter calls ``triage`` (one way in, one way out) and is called by ``service`` / ``cli``;
none holds triage logic of its own.  ``integrations.paging``: alerts to Slack, Microsoft Teams,
PagerDuty and e-mail.
"""

__all__: list[str] = []
