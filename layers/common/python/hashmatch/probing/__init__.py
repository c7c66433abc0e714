"""Probing detection: a client's queries that look like an attempt to recover an indicator."""
