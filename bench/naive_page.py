"""The reload benchmark's peer: the approval page a user writes by hand in 35 lines, served exactly as the app is."""

import os
import sqlite3

import streamlit as st
from langgraph.checkpoint.sqlite import SqliteSaver

from graphs import build_graph


@st.cache_resource
def get_graph():
    conn = sqlite3.connect(os.environ["DATABASE_URL"], check_same_thread=False)
    return build_graph(SqliteSaver(conn))


def chat():
    config = {"configurable": {"thread_id": st.query_params.get("thread", "")}}
    state = get_graph().get_state(config)
    for message in state.values.get("messages", []):
        with st.chat_message("user" if message.type == "human" else "assistant"):
            st.text(message.text)
    for task in state.tasks:
        for interrupt in task.interrupts:
            with st.container(border=True):
                for action in interrupt.value["action_requests"]:
                    st.subheader(action["name"])
                    st.json(action["args"])
                st.button("Approve", key=f"approve_{interrupt.id}")
                st.button("Reject", key=f"reject_{interrupt.id}")


def about():
    st.write("Approvals for our agent.")


st.navigation([st.Page(chat, title="Chat"), st.Page(about, title="About")]).run()
