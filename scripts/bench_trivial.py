"""The baseline for the API benchmark: a no-op FastAPI endpoint, served like the real app."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.post("/noop")
def noop() -> dict[str, bool]:
    """Do nothing: what serving a request costs before any work."""
    return {"ok": True}
