"""HTTP layer: thin FastAPI routes over `mpi` services. No SQL here, no business rules."""
