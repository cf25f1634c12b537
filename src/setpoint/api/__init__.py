"""The HTTP API: a FastAPI app over the knowledge store, the live loop and its metrics."""
