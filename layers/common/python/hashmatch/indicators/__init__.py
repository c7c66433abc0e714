"""Indicators: the Centre's assessed hashes, their provenance and status, and the matching side.

``model`` holds the entities, ``ports`` the store and snapshot ports, ``service`` curation,
``builder`` the single writer of index snapshots and ``matcher`` the reading side.
"""
