"""LangGraph code for the approval agent; no Streamlit here."""

from graphs.graph import build_graph

__all__ = ["build_graph"]
