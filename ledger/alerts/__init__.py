"""Risk warning for co-lending banks: events derived at ingest, payloads, the risk plan."""
