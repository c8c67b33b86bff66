"""`python -m mnist_core ...`: see mnist_core/cli/main.py."""

import sys

from mnist_core.cli.main import main
from mnist_core.machine import fit_threads_to_cpus

fit_threads_to_cpus()  # torch sizes its pool from the host's cores, not the CPU quota
sys.exit(main())
