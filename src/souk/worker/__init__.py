"""Background work: the jobs table (``queue``), timers (``timers``) and the worker that runs both (``runner``).

``souk worker`` runs it; in embedded mode ``souk serve`` runs it inside the web process
(``Settings.worker_in_process``). See ``souk.worker.runner`` for the guarantees.
"""
