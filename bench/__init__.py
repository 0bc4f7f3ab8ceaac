"""Benchmark runner for tapegrad against its peers (``python -m bench``).

The workloads are those of ``shared/bench/WORKLOADS.md``.  Every framework's gradient is checked
against tapegrad's before it is timed.  This package imports nothing heavy at import time: the
cold-start children import it before they start their clock.
"""
