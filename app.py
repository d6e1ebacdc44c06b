"""Entry point (`streamlit run app.py`): Streamlit serves `navigation.py`, plus the JSON API, behind our middleware.

The middleware gives every browser that loads a page a server-side session in an HttpOnly cookie, so who you are
survives reloads, new tabs and app restarts. The lifespan starts the scheduler with the server, not with the first
visitor, and stops it with the server: all timed work (interrupt discovery, retried deliveries, deployment polling,
the outbox to the webhook, email and Slack, escalation and expiry, housekeeping, taking over cut runs) happens
whether or not anybody has the app open, once per tick across replicas (approvals/service/scheduler.py).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware

import resources
from approvals.http.api import api_routes
from approvals.http.email_links import email_routes
from approvals.http.guards import ClientAddressMiddleware, MetricsGuardMiddleware, SecurityHeadersMiddleware
from approvals.http.oversight_api import oversight_routes
from approvals.http.slack_actions import slack_routes
from approvals.http.web import BrowserSessionMiddleware


@asynccontextmanager
async def lifespan(_app: st.App) -> AsyncIterator[None]:
    clock = resources.scheduler().start()
    try:
        yield
    finally:
        clock.stop()


app = st.App(
    "navigation.py",
    lifespan=lifespan,
    routes=[*oversight_routes(resources.approval_service), *api_routes(resources.approval_service),
            *email_routes(resources.approval_service), *slack_routes(resources.approval_service)],
    middleware=[
        Middleware(ClientAddressMiddleware),
        Middleware(SecurityHeadersMiddleware),
        Middleware(MetricsGuardMiddleware, identity=lambda: resources.approval_service().identity),
        Middleware(BrowserSessionMiddleware, identity=lambda: resources.approval_service().identity),
    ],
)
