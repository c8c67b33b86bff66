"""Measuring tools for MNIST Playground, kept beside the engine (`mnist_core` imports nothing
from here): `python -m bench --help` lists them.

- `tta` (`bench.time_to_accuracy`): time to a target test accuracy per architecture, and
  training throughput against two peer networks (`bench.peers`);
- `load` (`bench.load`): simulated browser sessions against one `JobManager`;
- `first-render` (`bench.first_render`): a fresh server's first page in headless Chromium
  (`bench.browser`, shared with the end-to-end tests);
- `sweep` (`bench.sweep`): test accuracy per epoch for candidate recipes.

Results, with the commands and machines that produced them: bench/RESULTS.md.
"""
