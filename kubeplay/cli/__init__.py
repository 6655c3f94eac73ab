"""The command line. Commands compile the methods of dataclasses through a cache on disk
(kubeplay.codecache: about a third of the CPU of `play` and `get pods`); the long-running
supervisor (`kubeplay agent`) compiles them once and does not load it."""

import sys

if sys.argv[1:2] != ["agent"]:
    from kubeplay import codecache

    codecache.install()
