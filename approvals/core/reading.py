"""How long an item must have been on the decider's screen before a key or click may decide it.

A second press of A lands on whatever the first one opened; the dwell makes that press do nothing, so a
decision is always about something the reviewer had time to read.
"""

from __future__ import annotations

from datetime import datetime

from approvals.core.errors import TooSoon

READ_SECONDS = 0.8
"""The dwell after an item (or a confirmation step) is drawn, during which its keys and buttons do nothing."""


def check_read(shown_at: str, now: datetime) -> None:
    """Refuse a decision made less than READ_SECONDS after the pane drew the item (or at an unreadable time)."""
    try:
        on_screen = (now - datetime.fromisoformat(shown_at)).total_seconds()
    except (TypeError, ValueError) as error:
        raise TooSoon("When the item was shown is not a time; open it again before deciding.") from error
    if on_screen < READ_SECONDS:
        raise TooSoon(f"Not decided: the item had been on screen for {max(on_screen, 0):.1f} s. Read it first; "
                      f"its keys work {READ_SECONDS:g} s after it opens.")
