"""The repositories of the knowledge store, written once against ``Database``.

Each module holds one aggregate (samples, symptoms, incidents, decisions, audit). The
SQL is portable: ``?`` placeholders, no ``rowid``, explicit ordering columns. Each
backend only lends connections, so SQLite and PostgreSQL run the same code.
"""
