"""The reload benchmark's baseline: the smallest Streamlit page, served exactly as the app is."""

import streamlit as st

st.write("Blank page")
