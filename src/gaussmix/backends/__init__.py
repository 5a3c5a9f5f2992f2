"""Sources of row chunks for the EM loop. Each backend offers ``reduce`` and ``map``."""

from .memory import InMemoryBackend, default_n_threads

__all__ = ["InMemoryBackend", "default_n_threads"]
