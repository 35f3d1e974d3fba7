"""The words of the care pages: outcome labels, and the safety plan's headings in English and
Spanish (the printable plan is in the patient's language)."""

from __future__ import annotations

OUTCOME_LABELS = {
    "reached": "Reached the patient",
    "no_answer": "No answer — retry",
    "declined": "Declined",
    "reached_someone_else": "Reached someone else",
    "referred": "Referred",
}

# Step titles after the Stanley-Brown Safety Plan template.
SECTION_TITLES: dict[str, dict[str, str]] = {
    "en": {
        "warning_signs": "Step 1: Warning signs",
        "internal_coping_strategies": "Step 2: Things I can do on my own to take my mind off "
        "my problems",
        "people_and_places_that_distract": "Step 3: People and places that help me take my mind "
        "off things",
        "people_to_ask_for_help": "Step 4: People I can ask for help",
        "professionals_and_crisis_lines": "Step 5: Professionals and crisis lines I can contact",
        "making_the_environment_safe": "Step 6: Making my surroundings safe",
        "reasons_for_living": "The reasons I have to live",
    },
    "es": {
        "warning_signs": "Paso 1: Señales de alerta",
        "internal_coping_strategies": "Paso 2: Cosas que puedo hacer por mi cuenta para "
        "distraerme de mis problemas",
        "people_and_places_that_distract": "Paso 3: Personas y lugares que me ayudan a distraerme",
        "people_to_ask_for_help": "Paso 4: Personas a quienes puedo pedir ayuda",
        "professionals_and_crisis_lines": "Paso 5: Profesionales y líneas de crisis a las que "
        "puedo llamar",
        "making_the_environment_safe": "Paso 6: Hacer que mi entorno sea seguro",
        "reasons_for_living": "Mis razones para vivir",
    },
}

_WORDS = {
    "en": {
        "title": "My safety plan",
        "version": "Version",
        "made": "Made on",
        "empty": "(to fill in)",
        "emergency": "In an emergency call 911, or call or text 988 (Suicide & Crisis Lifeline).",
        "counselled": "We talked about keeping means of harm away",
    },
    "es": {
        "title": "Mi plan de seguridad",
        "version": "Versión",
        "made": "Hecho el",
        "empty": "(por completar)",
        "emergency": "En una emergencia llame al 911, o llame o envíe un mensaje al 988 "
        "(oprima 2 para español).",
        "counselled": "Hablamos de mantener lejos los medios para hacerse daño",
    },
}


def plan_words(language: str) -> dict[str, str]:
    return _WORDS.get(language, _WORDS["en"])
