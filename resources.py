"""Process-wide objects shared by every session, created once with st.cache_resource."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from approvals.identity.accounts import demo_mode, seed_demo_accounts
from approvals.service.facade import ApprovalService
from approvals.service.runner import BackgroundRunner
from approvals.service.scheduler import Scheduler, timed_work
from approvals.store.schema import open_store


def _release_service(service: ApprovalService) -> None:
    """The runner works for this service: it stops first (its runs end), then the graphs' factories (their MCP
    sessions) and the store close."""
    background_runner.clear()
    service.registry.close()
    service.store.close()


@st.cache_resource(on_release=_release_service)
def approval_service() -> ApprovalService:
    """The store, graph and service; decisions left unapplied by a crash are applied on start."""
    service = ApprovalService(open_store())
    if demo_mode(service.db):
        seed_demo_accounts(service.db)
    service.recover()
    return service


@st.cache_resource(on_release=BackgroundRunner.shutdown)
def background_runner() -> BackgroundRunner:
    """The runs of this replica (APPROVAL_MAX_RUNS at once), their heartbeat, and taking over cut runs."""
    return BackgroundRunner(runs=approval_service())


def scheduler() -> Scheduler:
    """The replica's clock for all timed work (app.py's lifespan starts and stops it); not cached: one per server."""
    service = approval_service()
    return Scheduler(service.db, timed_work(service, background_runner()), service.replica)


def route_through_app() -> None:
    """Make sure this page runs inside app.py's st.navigation.

    A fresh server starts in Streamlit's legacy pages/-folder mode until app.py has called st.navigation once,
    so a deep link (/console) as its very first request would run the page file on its own: default sidebar,
    no page config. Leave that mode and rerun through app.py; the URL picks the same page.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
