"""After the crisis: follow-ups that cannot be forgotten, safety plans, caring contacts.

A domain beside ``triage`` on the same storage, encryption, audit and alerts: resolving a crisis
through ``resolve_case`` schedules the site's follow-ups; ``run_care_round`` (the service's
worker) alerts overdue ones and escalates them like an unacknowledged crisis, and queues due
caring contacts on the outbound webhooks exactly once.  See docs/care.md.
"""

from crisis_triage.care._caring_contacts import (
    CARING_CONTACT_EVENT,
    CARING_LANGUAGES,
    OPT_OUT_WORDS,
    CaringContactsStatus,
    approved_template,
    caring_contacts_status,
    is_opt_out,
    opt_out_by_message,
    send_due_caring_contacts,
    set_caring_contacts,
)
from crisis_triage.care._early_warning import RULE as EARLY_WARNING_RULE
from crisis_triage.care._early_warning import RisingRisk, rising_risk
from crisis_triage.care._errors import CareInputError
from crisis_triage.care._follow_ups import (
    FOLLOW_UP_DISPOSITIONS,
    FollowUpOutcome,
    FollowUpStatus,
    FollowUpSweep,
    FollowUpView,
    complete_follow_up,
    create_follow_up,
    list_follow_ups,
    schedule_follow_ups,
    sweep_follow_ups,
)
from crisis_triage.care._intake import CareRound, note_new_messages, run_care_round
from crisis_triage.care._measures import CareMeasures, care_measures
from crisis_triage.care._resolution import RiskInput, resolve_case
from crisis_triage.care._risk import (
    RiskFormulationView,
    RiskLevel,
    add_risk_formulation,
    risk_formulations,
)
from crisis_triage.care._safety_plans import (
    PLAN_LANGUAGES,
    SECTIONS,
    SafetyPlanVersion,
    read_safety_plan,
    save_safety_plan,
)
from crisis_triage.care._schedule import (
    caring_contact_times,
    exists_locally,
    follow_up_times,
)
from crisis_triage.care._templates import (
    TemplateView,
    add_template,
    list_templates,
    review_template,
)
from crisis_triage.care._timeline import RISK_DAYS, PatientTimeline, TimelineEntry, patient_timeline

__all__ = [
    "CARING_CONTACT_EVENT",
    "CARING_LANGUAGES",
    "EARLY_WARNING_RULE",
    "FOLLOW_UP_DISPOSITIONS",
    "OPT_OUT_WORDS",
    "PLAN_LANGUAGES",
    "RISK_DAYS",
    "SECTIONS",
    "CareInputError",
    "CareMeasures",
    "CareRound",
    "CaringContactsStatus",
    "FollowUpOutcome",
    "FollowUpStatus",
    "FollowUpSweep",
    "FollowUpView",
    "PatientTimeline",
    "RisingRisk",
    "RiskFormulationView",
    "RiskInput",
    "RiskLevel",
    "SafetyPlanVersion",
    "TemplateView",
    "TimelineEntry",
    "add_risk_formulation",
    "add_template",
    "approved_template",
    "care_measures",
    "caring_contact_times",
    "caring_contacts_status",
    "complete_follow_up",
    "create_follow_up",
    "exists_locally",
    "follow_up_times",
    "is_opt_out",
    "list_follow_ups",
    "list_templates",
    "note_new_messages",
    "opt_out_by_message",
    "patient_timeline",
    "read_safety_plan",
    "resolve_case",
    "review_template",
    "rising_risk",
    "risk_formulations",
    "run_care_round",
    "save_safety_plan",
    "schedule_follow_ups",
    "send_due_caring_contacts",
    "set_caring_contacts",
    "sweep_follow_ups",
]
