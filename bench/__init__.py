"""rxbatches' benchmark suite against the official ``anthropic`` SDK (``tox -e bench``).

``python -m bench [--quick]`` runs everything and prints the table of targets; each
contender runs in its own process (:mod:`bench.child`) against one emulator started by
the runner (:mod:`bench.run`), on data from :mod:`bench.data`.
"""
