"""MNIST Playground: train, inspect and draw against MNIST models, live in the browser.

Run with:  streamlit run app.py
"""

from ui.shell import configure_logging, run_app

configure_logging()
run_app()
