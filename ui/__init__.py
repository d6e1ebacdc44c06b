"""Streamlit helpers shared by the pages; the pure parts are plain functions, testable without Streamlit."""
