"""Load test of the engine: `python -m bench load`.

Simulates N browser sessions (default 20) for a bounded time against one `JobManager` and one
`ModelStore`, the way the Streamlit app shares them between every visitor of one server
process, and prints:

- jobs submitted and how they ended (finished, stopped, reaped after their lease, failed...);
- errors: any exception in a visitor (the first few with their traceback), consistency
  violations (a step count that went backwards, a done job that came back to life, more jobs
  running than `max_running`, a watched job reaped as abandoned...) and failed jobs;
- prediction latency p50/p95 (preprocess + predict of a drawn digit), separately for calls
  made while at least one job was training and while none was;
- memory: resident set size (VmRSS) sampled every second from /proc/self/status. The start
  figure is taken warm (after one short job per architecture, so it holds what any first run
  allocates once for good) with nothing running; the end figure at the deadline, when a job
  may be mid-training; the settled figure after the jobs under way then are stopped. The
  growth is settled minus start: what ten minutes of visitors left behind. Also the peak
  (VmHWM), the slope over the second half of the run (MB/min; growth that keeps going shows
  up there) and the RSS after a final gc.collect() and malloc_trim(0).

Targets on the 2-core CPU host (PASS/MISS printed; the exit status is 0 either way): zero
errors, prediction p95 under 50 ms while one job trains, memory growth under 200 MB over a
10-minute run.

Each visitor loops until the deadline with random think times (0.2-2 s). On each turn it
renews the lease of its jobs that are not done (as the app's sidebar and Train page do), reads
their snapshots (checking them against what it saw before), then does one of: submit a
"quick look" job (random architecture, 1000 images, 1-3 epochs) when it has none under way,
predict a drawn digit (a real MNIST test digit enlarged onto a 280x280 RGBA canvas; with a
pretrained model, or with `model_copy` of its own running job), stop its job, download a done
job's model from memory, or abandon the session (stop heartbeating and come back as a new
session, as when a browser tab is closed; the manager must reap those jobs after `lease_s`).

Torch threads: the manager limits each job thread to its share of the cores. Predictions run
in the visitors' threads, which (like Streamlit's script threads) start with torch's default:
the count most recently set by any thread. `--predict-threads N` pins them to N instead.

Modules: `cli` (the options), `run` (set-up, the visitors' threads, the settled end),
`visitor` (one simulated session), `checks` (consistency checks of what a visitor sees),
`ledger` (what everyone records), `sampler` (memory and scheduler every second), `report`
(the figures and the targets), `tables` (the report as text), `options` (`LoadOptions`).
"""
