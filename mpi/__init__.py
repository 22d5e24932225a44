"""The hub's system of record: XML 130 ingest, storage, identity, records and audit.

`mpi` is the only writer of the store. It depends on `linkage` (the matching engine) and never on `api`.
"""
