"""Identity: who each source record belongs to — persons, links, review, steward constraints, events."""
