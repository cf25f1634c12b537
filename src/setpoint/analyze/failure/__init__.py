"""The failure predictor: P(a service fails within 30 minutes), learned from the store.

``series`` bins stored samples into per-minute grids, ``features`` turns windows of
them into rows, ``dataset`` labels the rows from the incidents in the store, ``model``
trains XGBoost and saves and loads it (``files`` says where), ``trees`` evaluates it
with numpy alone, ``predict`` assesses every service now, and ``watch`` runs it in the
agent: predictions on a thread, retraining in a niced subprocess (``retrain``).
"""
