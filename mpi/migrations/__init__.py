"""Alembic migrations of the store (run through :mod:`mpi.store.migrate`)."""
