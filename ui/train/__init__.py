"""The Train page (`pages/train.py` composes it): pick an architecture and settings, train in
the background, watch it live; or sweep several settings at once.

- `sidebar`: the settings form in the sidebar; `form_state`: its widgets' state, the URL
  (the settings' words, ranges and query parameters are shared: `ui.train_form`)
- `estimate`: how long a run will take, in words; how long a queued job will wait
- `jobs`: the job the page shows, and the callbacks of its buttons
- `controls`: the next run's name and Start, the current run's Pause, Stop and learning
  rate, the notes on a link's settings
- `run_view`: the run's heading, progress and figures, how it ended, links to other pages
- `live_charts`: the live loss, learning-rate and accuracy charts, earlier runs overlaid
- `sweep`: the Sweep mode: settings to vary, the runs it makes, their progress
"""
