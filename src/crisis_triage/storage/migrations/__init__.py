"""Alembic migrations shipped inside the package (``crisis-triage db upgrade`` runs them)."""
