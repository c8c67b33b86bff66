"""The Compare page (`pages/compare.py` composes it): every model in one table, the chosen
runs' curves overlaid, a sweep on parallel coordinates, a run's settings back on Train.

- `runs`: one `Run` per stored model (cached), its best epoch, outcome and settings in words,
  the Train link's query parameters and the history download (plain data, tested)
- `table`: the table's rows, only the settings that differ; the CSV; a selection kept on the
  same runs (plain data, tested)
- `curves`: a run's curves against the chosen x axis (plain data, tested)
- `sweeps`: the sweeps among the runs, their swept settings and best run (plain data, tested)
- `charts`: the Plotly figures of curves and sweeps
- `sections`: drawing the table, the curves, the sweeps and the selected run's actions
"""
