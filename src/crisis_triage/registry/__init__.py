"""The model registry: models with their card and hash, one champion scoring the queue, a
challenger scoring every message in shadow, and champion-vs-challenger comparisons.

Promotion, rollback and shadowing need an admin and are audited.  Shadow scores hold ids and
numbers only, never message text.
"""

from crisis_triage.registry._compare import (
    DISPOSITION_LABELS,
    ResolvedPairs,
    compare_on_file,
    compare_resolved,
    resolved_pairs,
)
from crisis_triage.registry._registry import (
    CHALLENGER,
    CHAMPION,
    REGISTERED,
    RETIRED,
    ROLES,
    ModelEntry,
    RegistryError,
    challenger,
    champion,
    list_models,
    load_registered,
    promote,
    register_model,
    require_admin,
    rollback,
    start_shadow,
    stop_shadow,
)
from crisis_triage.registry._shadow import SHADOW_BATCH, pending_shadow_ids, shadow_score_pending

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "DISPOSITION_LABELS",
    "REGISTERED",
    "RETIRED",
    "ROLES",
    "SHADOW_BATCH",
    "ModelEntry",
    "RegistryError",
    "ResolvedPairs",
    "challenger",
    "champion",
    "compare_on_file",
    "compare_resolved",
    "list_models",
    "load_registered",
    "pending_shadow_ids",
    "promote",
    "register_model",
    "require_admin",
    "resolved_pairs",
    "rollback",
    "shadow_score_pending",
    "start_shadow",
    "stop_shadow",
]
