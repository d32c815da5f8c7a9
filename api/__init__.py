"""The CreditAnchor HTTP API: a FastAPI app factory over the ``ledger`` library.

Public: :func:`api.app.create_app`. Routers live in :mod:`api.routers`, one per
resource; :mod:`api.errors` is the one place errors become RFC 9457 problems.
"""
