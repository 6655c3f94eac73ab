"""The command line. Commands compile the methods of dataclasses through a cache on disk
(kubeplay.codecache: about a third of the CPU of `play` and `get pods`); the long-running
supervisor (`kubeplay agent`) compiles them once and does not load it.

Commands also collect garbage rarely: `play` of one pod allocates about 90,000 objects,
most of which live until it exits (modules, classes, functions, plans), and with the default
thresholds the cyclic collector scanned them over and over (130 young, 12 middle and one full
collection, about 0.1 s of CPU), then once more at exit, where the interpreter's last
collections walk every object again (50-150 ms). A young generation of 100,000 objects
leaves a short command one collection or none (at 20,000 it still made four young and one
middle collection, 40-120 ms at load 10), while long-running commands such as `get -w` or
`logs -f` still collect; what is alive at exit is frozen, so that the final collections
skip it: it all goes with the process. The supervisor keeps the defaults.
"""

import sys

if sys.argv[1:2] != ["agent"]:
    import gc

    gc.set_threshold(100_000, 10, 10)  # first: the imports below allocate
    import atexit

    from kubeplay import codecache

    codecache.install()
    atexit.register(gc.freeze)  # registered last, so it runs first at exit
