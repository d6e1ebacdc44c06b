"""Work in progress that survives a reload: an open edit form's values, the rows ticked for bulk, an open bulk
confirmation. Kept on the server per browser session (the session cookie's token, hashed) and per item, never in
the URL (edited values there end up in history and logs). A draft only refills the screen: the decision still
goes through the one decision command when the reviewer presses its button, with the digest of what is shown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from approvals.core.actors import Actor
from approvals.core.records import PendingApproval, QueueItem
from approvals.core.visibility import QueueFilter, scoped
from approvals.identity.accounts import secret_hash
from approvals.service.queue import QueueService
from approvals.store import drafts
from approvals.store.database import utcnow


@dataclass(frozen=True)
class BulkDraft:
    """The ticked rows still pending (in queue order), the ones unticked because they are not (each named), and
    the open bulk confirmation as (verb, message), if one was open."""

    ticked: list[QueueItem]
    unticked: list[str]
    confirming: tuple[str, str] | None


NO_BULK_DRAFT = BulkDraft([], [], None)


class DraftService(QueueService):
    """Reads and writes of drafts for the page that owns them; `session` is the browser's session token."""

    def edit_draft(self, session: str | None, pending: PendingApproval, *, viewer: Actor) -> Any:
        """The values of the viewer's open edit form for this item, as this browser session left them; None when
        there is none, or it was made against a request that has changed since (it is dropped then)."""
        if (owner := self._draft_owner(session, viewer)) is None:
            return None
        item = (self.require_thread(pending.thread_id, viewer=viewer), pending.interrupt_id)
        draft = drafts.find(self.db, owner, "edit", item)
        if draft is not None and draft.digest != pending.request_digest:
            drafts.drop(self.db, owner, "edit", item)
            return None
        return draft.value if draft else None

    def keep_edit_draft(self, session: str | None, pending: PendingApproval, value: Any, *, viewer: Actor) -> None:
        """Keep the open edit form's values (any JSON) for this item and session."""
        if (owner := self._draft_owner(session, viewer)) is not None:
            item = (self.require_thread(pending.thread_id, viewer=viewer), pending.interrupt_id)
            drafts.keep(self.db, owner, "edit", item, value, pending.request_digest, utcnow())

    def drop_edit_draft(self, session: str | None, thread_id: str, interrupt_id: str, *, viewer: Actor) -> None:
        """The edit form was closed (cancelled, or another decision chosen instead)."""
        if (owner := self._draft_owner(session, viewer)) is not None:
            drafts.drop(self.db, owner, "edit", (thread_id, interrupt_id))

    def bulk_draft(self, session: str | None, *, viewer: Actor) -> BulkDraft | None:
        """The session's ticked rows and open bulk confirmation (None: this viewer keeps no drafts). Ticks of items
        that are no longer pending (decided, withdrawn, resolved elsewhere) are dropped here and named in
        `unticked`; with nothing left ticked, an open confirmation goes too."""
        if (owner := self._draft_owner(session, viewer)) is None:
            return None
        if not (ticks := drafts.of_kind(self.db, owner, "tick")):
            return NO_BULK_DRAFT  # (dropping the last tick dropped an open confirmation with it)
        still = drafts.still_pending_ticks(self.db, owner, scoped(QueueFilter(), viewer).owner)
        ticked: list[QueueItem] = []
        gone: list[drafts.Draft] = []
        for tick in sorted(ticks, key=_position):  # in the order they were ticked, as the confirmation lists them
            item = _ticked_item(tick)
            if item is not None and (tick.thread_id, tick.interrupt_id) in still:
                ticked.append(item)
            else:
                gone.append(tick)
        if gone:
            with self.db.transaction() as tx:
                for tick in gone:
                    drafts.drop(tx, owner, "tick", (tick.thread_id, tick.interrupt_id))
                if not ticked:
                    drafts.drop(tx, owner, "bulk")
        confirming = drafts.find(self.db, owner, "bulk") if ticked else None
        return BulkDraft(ticked, [_label(tick) for tick in gone], _confirming(confirming))

    def keep_ticks(self, session: str | None, items: list[QueueItem], *, viewer: Actor) -> None:
        """The rows ticked now, in place of those kept before. Each is kept as it was ticked (its digest and
        arguments: what a bulk confirmation shows and binds the decision to), with a name for the note that says
        it was unticked."""
        if (owner := self._draft_owner(session, viewer)) is None:
            return
        now = utcnow()
        with self.db.transaction() as tx:
            drafts.drop(tx, owner, "tick", None)
            for position, item in enumerate(items):
                label = f"{item.tool} for {item.requester} ({item.args_summary})"
                drafts.keep(tx, owner, "tick", (item.thread_id, item.interrupt_id),
                            {"label": label, "item": asdict(item), "position": position}, item.request_digest, now)
            if not items:
                drafts.drop(tx, owner, "bulk")

    def keep_bulk_confirmation(self, session: str | None, confirming: tuple[str, str] | None, *,
                               viewer: Actor) -> None:
        """The open bulk confirmation (verb, message), or None once it is closed."""
        if (owner := self._draft_owner(session, viewer)) is None:
            return
        if confirming is None:
            drafts.drop(self.db, owner, "bulk")
        else:
            drafts.keep(self.db, owner, "bulk", drafts.NO_ITEM, list(confirming), "", utcnow())

    @staticmethod
    def _draft_owner(session: str | None, viewer: Actor) -> drafts.Owner | None:
        """Drafts belong to a signed-in person in one browser session; guests and cookie-less runs keep none."""
        return drafts.Owner(secret_hash(session), viewer.name) if session and viewer.signed_in else None


def _confirming(draft: drafts.Draft | None) -> tuple[str, str] | None:
    """A kept bulk confirmation as (verb, message); anything else in its place is no confirmation."""
    value = draft.value if draft else None
    if isinstance(value, list) and len(value) == 2 and value[0] in ("approved", "rejected") and isinstance(
            value[1], str):
        return value[0], value[1]
    return None


def _ticked_item(tick: drafts.Draft) -> QueueItem | None:
    """The row as it was ticked; None for a value that does not make one (kept by another release)."""
    try:
        return QueueItem(**tick.value["item"])
    except (TypeError, KeyError):
        return None


def _label(tick: drafts.Draft) -> str:
    return str(tick.value.get("label", "")) if isinstance(tick.value, dict) else ""


def _position(tick: drafts.Draft) -> int:
    position = tick.value.get("position") if isinstance(tick.value, dict) else None
    return position if isinstance(position, int) else 0
