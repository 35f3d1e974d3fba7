"""Migration scripts, oldest first (each file's ``down_revision`` is the truth; there is no
0008: the revision was renumbered when parallel branches were merged)."""
