"""Normalisers for the identity fields of XML 130 records; see `linkage.normalise.record`."""
