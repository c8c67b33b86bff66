"""`python -m mnist_core ...`: see mnist_core/cli/main.py."""

import os
import sys

from mnist_core.cli.main import main
from mnist_core.machine import fit_threads_to_cpus

fit_threads_to_cpus()  # torch sizes its pool from the host's cores, not the CPU quota
try:
    sys.exit(main())
except BrokenPipeError:
    # The reader went away (`python -m mnist_core models | head -2`): nothing is left to say.
    # stdout is pointed at /dev/null so that Python's own flush at exit does not fail too.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(1)
