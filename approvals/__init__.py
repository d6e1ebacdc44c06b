"""The Streamlit-free core: storage, the approvals service and the background runner."""
