"""`python -m mnist_core ...`: see mnist_core/cli/main.py."""

import sys

from mnist_core.cli.main import main

sys.exit(main())
