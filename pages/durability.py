"""Durability lab (/durability): why the HITL payload is written in its own step, measured live."""

import json
from dataclasses import asdict
from importlib.metadata import version

import streamlit as st

import resources
from graphs.lab import run_experiment
from graphs.lab_results import crash_rows, last_experiment, matrix_rows, save_experiment
from graphs.lab_variants import VARIANTS, variant_source
from ui.approval_widgets import short_time
from ui.identity import current_actor

MECHANISM = """
A node's writes (its return value and anything it `send()`s through `CONFIG_KEY_SEND`) are dropped when it raises
the interrupt, in **every** durability mode: LangGraph saves only the interrupt, and the node reruns from the top
on resume. The in-place approach only *looked* right under `exit` (and under `async` when its background save
runs late) because the node mutated the shared AIMessage before the previous step's checkpoint was serialized;
`sync` serializes that checkpoint before the node runs and shows the truth, and a copied message loses the payload
everywhere. The fix is two nodes: `annotate` returns the updated AIMessage (same id, so `add_messages` replaces
it) and its step commits; `await_approval` then calls `interrupt(...)`.
"""


resources.route_through_app()
st.title("Durability lab")
st.markdown(MECHANISM)

# A run replaces the results every visitor sees: reviewers only (checked again on the click itself).
may_run = (actor := current_actor()) is not None and actor.is_reviewer
runs = st.number_input("Runs per cell", min_value=1, max_value=100, value=10, key="durability_runs",
                       disabled=not may_run)
if st.button("Run the experiment", key="durability_run", type="primary", disabled=not may_run) and may_run:
    bar = st.progress(0.0, text="Starting")
    save_experiment(run_experiment(int(runs), lambda fraction, label: bar.progress(fraction, text=label)))
    bar.empty()

if not may_run:
    st.caption("Only reviewers can re-run the experiment (it replaces the results everyone sees); sign in on the"
               " Reviewer console.")
experiment = last_experiment()
if experiment is None:
    st.info("No results yet: press **Run the experiment** (about ten seconds at 10 runs per cell).")
else:
    st.subheader("Is the payload there after a reload?")
    st.caption(f"Last measured {short_time(experiment.ran_at)} on langgraph {experiment.langgraph_version}, "
               f"{experiment.runs_per_cell} runs per cell, {experiment.seconds} s. Each reload is a separate process "
               "opening the SQLite file, which then approves with `Command(resume=...)`. ⚠️ marks a race.")
    if experiment.langgraph_version != version("langgraph"):
        st.warning(f"These results are from langgraph {experiment.langgraph_version}; this server runs "
                   f"{version('langgraph')}. Run the experiment again to check them.")
    st.dataframe(matrix_rows(experiment.cells), hide_index=True, key="durability_matrix")

st.subheader("The code of each variant")
for tab, variant in zip(st.tabs(list(VARIANTS)), VARIANTS, strict=True):
    tab.code(variant_source(variant), language="python", wrap_lines=True)

if experiment is not None:
    st.subheader("What do I give up with exit?")
    st.caption("A child process runs `fast_step` then `slow_step`, is killed with SIGKILL inside `slow_step`, "
               "then a fresh process reads the thread and calls `invoke(None, config)`.")
    st.dataframe(crash_rows(experiment.crashes), hide_index=True, key="durability_crash")
    st.download_button("Download results (JSON)", json.dumps(asdict(experiment), indent=2),
                       file_name="durability-lab.json", mime="application/json", key="durability_json")
