"""One clock for all timed work: named jobs with intervals, each run by one replica per tick under a lease.

Started by the app's lifespan, so nothing waits for a browser: items escalate and expire, the outbox drains and
cut runs are finished with nobody watching, and three console tabs do not triple the work. Which replica runs a
job is the compare-and-set in `approvals.store.leases`, on SQLite and PostgreSQL alike; a replica-local job (the
heartbeat of this replica's own runs) takes no lease. A job that raises is logged and tried again on its next
tick; it never stops the scheduler or the other jobs. Jobs run on threads of their own, one at a time per job,
so a slow one (a webhook receiver that hangs, a deployment that is down) holds up nothing else.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from approvals.identity import housekeeping
from approvals.notify import webhooks
from approvals.notify.outbox import OutboxSender
from approvals.service import delivery, expiry, notifications, run_rows
from approvals.service.facade import ApprovalService
from approvals.service.runner import BackgroundRunner
from approvals.sources import discovery
from approvals.store import leases
from approvals.store.database import Database

log = logging.getLogger(__name__)

RECHECK_S = 30.0
"""A replica that found a job taken looks again after at most this long (a job that ticks once an hour is then
picked up within half a minute of being due, whichever replica ran it last)."""


@dataclass(frozen=True)
class Job:
    """A piece of timed work, called with the tick's time. `work` returns True when more is waiting (a full batch),
    to be run again at once; anything else it returns (a count, None) means done until the next tick."""

    name: str
    every: float
    """Seconds between ticks."""
    work: Callable[[datetime], object]
    shared: bool = True
    """True: one replica per tick (a lease); False: each replica runs its own (no lease)."""
    lease: float = 30.0
    """How long a replica may work on one tick before another one takes the job over (it is presumed dead)."""


class Scheduler:
    """Runs `jobs` on their ticks from `start()` until `stop()`; `run_due(now)` runs one round inline (tests)."""

    def __init__(self, db: Database, jobs: Sequence[Job], replica: str):
        self._db, self._jobs = db, {job.name: job for job in jobs}
        self._holder = f"{replica}/{uuid.uuid4().hex[:6]}"  # two schedulers of one replica are still two holders
        self._next: dict[str, datetime] = {}
        self._busy: set[str] = set()
        self._guard = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self._jobs)), thread_name_prefix="scheduled")
        self._clock = threading.Thread(target=self._dispatch, name="scheduler", daemon=True)

    def start(self) -> Scheduler:
        self._clock.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """No new ticks; the jobs running now finish (each within its own timeouts) before this returns."""
        self._stopping.set()
        self._wake.set()
        if self._clock.is_alive():
            self._clock.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def run_due(self, now: datetime | None = None) -> list[str]:
        """Run, here and now, every job that is due at `now` and that this replica wins; returns their names."""
        now = now or datetime.now(UTC)
        return [name for name in self._jobs if self._tick(name, now)]

    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            now = datetime.now(UTC)
            with self._guard:
                due = [name for name in self._jobs if name not in self._busy and self._next.get(name, now) <= now]
                self._busy.update(due)
            for name in due:
                self._pool.submit(self._tick_in_pool, name)
            with self._guard:
                waiting = [self._next.get(name, now) for name in self._jobs if name not in self._busy]
            pause = (min(waiting) - datetime.now(UTC)).total_seconds() if waiting else RECHECK_S
            self._wake.wait(min(max(pause, 0.01), RECHECK_S))
            self._wake.clear()

    def _tick_in_pool(self, name: str) -> None:
        try:
            self._tick(name, datetime.now(UTC))
        finally:
            with self._guard:
                self._busy.discard(name)
            self._wake.set()

    def _tick(self, name: str, now: datetime) -> bool:
        """One tick of one job: take its lease (shared jobs), run it, hand the lease back due at its next tick."""
        job = self._jobs[name]
        every = timedelta(seconds=job.every)
        try:
            if job.shared and not leases.take(self._db, name, self._holder, now, now + timedelta(seconds=job.lease)):
                self._next[name] = now + min(every, timedelta(seconds=RECHECK_S))
                return False
        except Exception:  # the database is briefly unreachable: the next tick tries again
            log.exception("scheduled job %s: could not take its lease; trying again next tick", name)
            self._next[name] = now + every
            return False
        more = False
        try:
            more = job.work(now) is True
        except Exception:
            log.exception("scheduled job %s failed; it runs again on its next tick", name)
        due = now if more else now + every
        self._next[name] = due
        if job.shared:
            try:
                leases.release(self._db, name, self._holder, due)
            except Exception:  # the lease then runs out by itself: the job is late, never run twice at once
                log.exception("scheduled job %s: could not hand back its lease", name)
        return True


# -- the app's timed work --------------------------------------------------------------------------------------

ESCALATION_SECONDS = 1.0
"""How often overdue items are looked for: a reminder or an expiry is at most about this late."""
DEPLOYMENT_SECONDS = 1.0


def timed_work(service: ApprovalService, runner: BackgroundRunner) -> list[Job]:
    """Every piece of the app's timed work, as the lifespan's scheduler runs it."""
    jobs = [discovery_job(service), delivery_job(service), escalation_job(service),
            housekeeping_job(service.db), cut_runs_job(service, runner), run_leases_job(service)]
    if service.remotes:
        jobs.append(deployments_job(service))
    return jobs + outbox_jobs(service)


def discovery_job(service: ApprovalService) -> Job:
    """Interrupts that other processes (workers) wrote reach the queue."""
    return Job("discovery", discovery.DISCOVERY_SECONDS, lambda now: discovery.discover_all(service))


def delivery_job(service: ApprovalService) -> Job:
    """Decisions whose resume did not take are tried again, each when its backoff says."""
    return Job("delivery", delivery.DELIVERY_SECONDS, lambda now: service.deliver_due())


def deployments_job(service: ApprovalService) -> Job:
    """Agent Server deployments' interrupted threads join the queue; threads resumed elsewhere leave it."""
    return Job("deployments", DEPLOYMENT_SECONDS, lambda now: service.poll_deployments())


def outbox_jobs(service: ApprovalService) -> list[Job]:
    """The outbox is sent: one job per channel configured (the webhook, email, Slack); a channel not configured
    queues nothing and has no job."""
    webhook = webhooks.sender(service.db)
    return [outbox_job(sender) for sender in [*([webhook] if webhook else []), *notifications.senders(service)]]


def outbox_job(sender: OutboxSender) -> Job:
    """One channel's rows of the outbox, a batch per tick, the next batch at once while batches come back full."""
    return Job(f"outbox-{sender.channel}", sender.delivery.poll_s,
               lambda now: sender.deliver_due() >= sender.delivery.batch)


def escalation_job(service: ApprovalService) -> Job:
    """Reminders, reassignments and expiry, as the policy's rules (and APPROVAL_TTL_MINUTES) set them; an expiry
    is a decision through the one command, which queues the run that delivers it (this replica's runner)."""
    return Job("escalation", ESCALATION_SECONDS, lambda now: expiry.expire_overdue(service, expiry.ttl_minutes(), now))


def housekeeping_job(db: Database) -> Job:
    """Ended sessions, dead API tokens and old sign-in failures are purged, once per period across replicas."""
    return Job("identity-purge", housekeeping.every().total_seconds(), lambda now: housekeeping.purge(db, now))


def cut_runs_job(service: ApprovalService, runner: BackgroundRunner) -> Job:
    """Runs whose replica stopped renewing their lease (a crash, a restart) are continued here."""

    def take_over(now: datetime) -> None:
        for run in service.take_over_cut_runs():
            log.info("taking over run %s of thread %s (attempt %d)", run.run_id, run.thread_id, run.attempts)
            runner.start(run)

    return Job("cut-runs", heartbeat_seconds(), take_over)


def run_leases_job(service: ApprovalService) -> Job:
    """This replica's heartbeat on its own runs, so nobody takes them over: every replica beats for itself."""
    return Job("run-leases", heartbeat_seconds(), lambda now: service.renew_leases(), shared=False)


def heartbeat_seconds() -> float:
    """A third of a run's lease: two beats may be missed before another replica takes the run over."""
    return min(1.0, run_rows.LEASE_SECONDS / 3)
