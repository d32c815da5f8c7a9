"""The store's Alembic revisions (``env.py``, ``versions/``), run by :mod:`ledger.store.schema`."""
