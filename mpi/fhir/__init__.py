"""FHIR R4 mapping of the longitudinal record: identifier systems, Patient, ``$everything`` resources,
Bundles, OperationOutcome, the CapabilityStatement, and the searches FHIR needs on top of ``mpi.records``.

Resources are built and validated with ``fhir.resources`` (its ``R4B`` package: the R4-compatible models;
the package's default is R5). No HTTP here: ``api/routes/fhir.py`` serves these. Never logs a value.
"""
