"""The ``ledger`` command line: one module per command group, errors handled in one place."""
