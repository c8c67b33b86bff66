"""The test suite (a package, so that `tests.*` imports resolve here and never to another
distribution's top-level `tests` package, such as the one Hershey-Fonts installs)."""
