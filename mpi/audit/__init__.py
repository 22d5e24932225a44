"""Audit of every read of patient data: who, from which facility, when, which person and records, why."""
