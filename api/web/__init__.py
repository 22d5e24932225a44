"""Server-rendered pages. The clinician page: search, a person's timeline, an encounter's details."""
