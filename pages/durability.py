"""Durability lab (/durability): why the HITL payload is written in its own step, measured live."""

import json
from dataclasses import asdict
from importlib.metadata import version

import streamlit as st

import resources
from graphs.lab import run_experiment
from graphs.lab_results import (
    Experiment,
    crash_rows,
    disagreements,
    matrix_rows,
    own_run,
    save_own_run,
    shipped_experiment,
)
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


def show_matrix(experiment: Experiment, key: str) -> None:
    st.dataframe(matrix_rows(experiment.cells), hide_index=True, key=key)


def measured(experiment: Experiment) -> str:
    return (f"measured {short_time(experiment.ran_at)} on langgraph {experiment.langgraph_version}, "
            f"{experiment.runs_per_cell} runs per cell, {experiment.seconds} s")


def download(experiment: Experiment, label: str, file_name: str, key: str) -> None:
    st.download_button(label, json.dumps(asdict(experiment), indent=2), file_name=file_name,
                       mime="application/json", key=key)


resources.route_through_app()
st.title("Durability lab")
st.markdown(MECHANISM)

# A run is kept for the person who made it; the shipped table is never written from here. Running costs the
# server about ten seconds of two processes, so reviewers only (checked again on the click itself).
actor = current_actor()
may_run = actor is not None and actor.is_reviewer
shipped = shipped_experiment()
mine = own_run(actor.name) if actor is not None else None

st.subheader("Is the payload there after a reload?")
if shipped is None:
    st.info("The shipped results (docs/durability-lab.json) are missing from this deployment; run the experiment "
            "below to measure it here.")
else:
    st.caption(f"Shipped with this release: {measured(shipped)}. Each reload is a separate process opening the "
               "SQLite file, which then approves with `Command(resume=...)`. ⚠️ marks a race.")
    if shipped.langgraph_version != version("langgraph"):
        st.warning(f"The shipped table is from langgraph {shipped.langgraph_version}; this server runs "
                   f"{version('langgraph')}. Run the experiment below to check it here.")
    show_matrix(shipped, "durability_matrix")

st.subheader("Your run")
runs = st.number_input("Runs per cell", min_value=1, max_value=100, value=10, key="durability_runs",
                       disabled=not may_run)
if st.button("Run the experiment", key="durability_run", type="primary", disabled=not may_run) and (
        actor is not None and actor.is_reviewer):
    bar = st.progress(0.0, text="Starting")
    mine = run_experiment(int(runs), lambda fraction, label: bar.progress(fraction, text=label))
    save_own_run(actor.name, mine)
    bar.empty()
if not may_run:
    st.caption("Only reviewers can run the experiment here (each run keeps the server busy for about ten "
               "seconds); sign in on the Reviewer console.")
if mine is None and may_run:
    st.caption("Your results show here, beside the shipped table, for you alone (about ten seconds at 10 runs "
               "per cell).")
if mine is not None:
    st.caption(f"Your last run, {measured(mine)}. Kept for you alone: the shipped table above stays as it is.")
    if shipped is not None and (differences := disagreements(shipped.cells, mine.cells)):
        st.warning("Where your run differs from the shipped table (fewer runs per cell show fewer races):")
        st.text("\n".join(differences))
    elif shipped is not None:
        st.caption("Every verdict matches the shipped table.")
    show_matrix(mine, "durability_own_matrix")

st.subheader("The code of each variant")
for tab, variant in zip(st.tabs(list(VARIANTS)), VARIANTS, strict=True):
    tab.code(variant_source(variant), language="python", wrap_lines=True)

st.subheader("What do I give up with exit?")
st.caption("A child process runs `fast_step` then `slow_step`, is killed with SIGKILL inside `slow_step`, "
           "then a fresh process reads the thread and calls `invoke(None, config)`.")
if shipped is not None:
    st.dataframe(crash_rows(shipped.crashes), hide_index=True, key="durability_crash")
    download(shipped, "Download the shipped results (JSON)", "durability-lab.json", "durability_json")
if mine is not None:
    st.caption(f"Your last run, {short_time(mine.ran_at)}:")
    st.dataframe(crash_rows(mine.crashes), hide_index=True, key="durability_own_crash")
    download(mine, "Download your run (JSON)", "durability-lab-mine.json", "durability_own_json")
