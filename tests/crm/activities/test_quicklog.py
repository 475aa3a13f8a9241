"""The quick-log box's words, read without the database."""

from __future__ import annotations

import pytest

from tandem.crm.activities.quicklog import OUTCOME_WORDS, QuickLog, kind_words, quicklog_parse
from tandem.crm.models import ActivityOutcome

KINDS = kind_words(
    {
        "call": "Call",
        "email": "Email",
        "meeting": "Meeting",
        "note": "Note",
        "linkedin_msg": "LinkedIn message",
    }
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "call connected 15m wants pricing",
            QuickLog(kind="call", outcome="connected", duration_minutes=15, notes="wants pricing"),
        ),
        ("Call, no answer", QuickLog(kind="call", outcome="no_answer")),
        (
            "vm call 1h30 - call back Tuesday",
            QuickLog(kind="call", outcome="left_voicemail", duration_minutes=90, notes="call back Tuesday"),
        ),
        (
            "e-mail replied inbound Re: pricing",
            QuickLog(kind="email", outcome="replied", direction="inbound", notes="Re: pricing"),
        ),
        ("meeting no-show", QuickLog(kind="meeting", outcome="no_show")),
        (
            "meeting held 45 min demo went well",
            QuickLog(kind="meeting", outcome="held", duration_minutes=45, notes="demo went well"),
        ),
        (
            "call connected call back Tuesday",
            QuickLog(kind="call", outcome="connected", notes="call back Tuesday"),
        ),
        ("call 0:45 90s", QuickLog(kind="call", duration_minutes=45, notes="90s")),
        ("call 90s", QuickLog(kind="call", duration_minutes=2)),
        ("LinkedIn message sent", QuickLog(kind="linkedin_msg", outcome="sent")),
        ("linkedinmessage sent", QuickLog(kind="linkedin_msg", outcome="sent")),
        ("15 people want a demo", QuickLog(notes="15 people want a demo")),
        ("", QuickLog()),
    ],
)
def test_the_first_words_say_kind_outcome_duration_and_direction_and_the_rest_is_the_note(text, expected):
    # given / when / then
    assert quicklog_parse(text, kinds=KINDS) == expected


def test_every_outcome_word_is_one_of_the_fixed_outcomes():
    # given / when / then
    assert set(OUTCOME_WORDS.values()) <= set(ActivityOutcome.values)
    assert set(ActivityOutcome.values) <= set(OUTCOME_WORDS.values())
