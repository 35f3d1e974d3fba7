"""Migration scripts, oldest first (each file's ``down_revision`` is the truth; there is no
0008: the revisions were renumbered when parallel branches were merged)."""
