"""One place that decides how many native threads a small fit may use.

scikit-learn's K-Means (OpenMP) and the BLAS behind pairwise distances start
one thread per core. On small inputs (the thesis table: 805 x 17) threads
cost more than they save, and on a busy machine -- more runnable threads
than cores, as when the app and a test run share a laptop -- OpenMP's
spin-waiting threads can make a 30 ms fit take seconds (measured on a
loaded two-core machine: ten K-Means restarts on 805 x 17 took 4.8 s with
two threads and 0.035 s with one; an interactive re-clustering of 20,000 x
128 took ~1.05 s with two threads and ~0.12 s with one). So inputs up to
:data:`SINGLE_THREAD_MAX_VALUES` values (20,000 x 128 is 2.56 M) run on one
thread; larger ones keep every core.

The limit is process-wide while a fit runs (threadpoolctl has no per-thread
limits); concurrent fits in one process share it.
"""

from __future__ import annotations

import contextlib

__all__ = ["SINGLE_THREAD_MAX_VALUES", "limit_threads"]

#: rows x features at or below which fits run on one native thread
SINGLE_THREAD_MAX_VALUES = 4_000_000

_controller = None


def limit_threads(n_values: int):
    """A context manager: one native thread when ``n_values`` is small, no change otherwise.

    Parameters
    ----------
    n_values : int
        Rows x features of the data about to be fitted.

    Returns
    -------
    context manager
    """
    global _controller
    if n_values > SINGLE_THREAD_MAX_VALUES:
        return contextlib.nullcontext()
    try:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            # Created after scikit-learn is imported, so its OpenMP runtime is seen.
            _controller = ThreadpoolController()
        return _controller.limit(limits=1)
    except Exception:  # threadpoolctl missing or unable to inspect: run unlimited
        return contextlib.nullcontext()
