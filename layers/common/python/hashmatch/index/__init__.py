"""In-memory matching index: exact-recall Hamming search (MIH), exact lookup, snapshots.

Pure numpy. See docs/matching.md for the design and the benchmark.
"""

from hashmatch.index.exact import ExactIndex, encode_exact
from hashmatch.index.hamming import (
    ChunkTables,
    HammingIndex,
    MatchResult,
    brute_force,
    default_chunk_count,
)
from hashmatch.index.snapshot import (
    DATABASES,
    DEFAULT_SPECS,
    FORMAT_VERSION,
    MEDIA_TYPES,
    AddIndicator,
    Change,
    HashTypeSpec,
    RemoveIndicator,
    Snapshot,
    TypeTable,
    encode_values,
)

__all__ = [
    "DATABASES",
    "DEFAULT_SPECS",
    "FORMAT_VERSION",
    "MEDIA_TYPES",
    "AddIndicator",
    "Change",
    "ChunkTables",
    "ExactIndex",
    "HammingIndex",
    "HashTypeSpec",
    "MatchResult",
    "RemoveIndicator",
    "Snapshot",
    "TypeTable",
    "brute_force",
    "default_chunk_count",
    "encode_exact",
    "encode_values",
]
