"""API routes for bodies (filled in by the API work)."""
