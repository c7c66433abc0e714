"""In-memory matching index: exact-recall Hamming search (MIH), exact lookup, snapshots.

A compiled search kernel (native/hmkernel.c, via ctypes) with the pure-numpy code as fallback
and reference (kernel.py). See docs/matching.md for the design and the benchmark.
"""

from hashmatch.index.exact import ExactIndex, encode_exact
from hashmatch.index.hamming import (
    ChunkTables,
    HammingIndex,
    SearchResult,
    brute_force,
    default_chunk_count,
)
from hashmatch.index.kernel import NativeKernelUnavailable
from hashmatch.index.sharded import ShardedIndex
from hashmatch.index.snapshot import (
    DATABASES,
    FORMAT_VERSION,
    MEDIA_TYPES,
    NEGATIVE_DATABASE,
    AddIndicator,
    Change,
    Hit,
    Hits,
    RemoveIndicator,
    Snapshot,
    SnapshotCorrupt,
    TypeTable,
    encode_values,
)

__all__ = [
    "DATABASES",
    "FORMAT_VERSION",
    "MEDIA_TYPES",
    "NEGATIVE_DATABASE",
    "AddIndicator",
    "Change",
    "ChunkTables",
    "ExactIndex",
    "HammingIndex",
    "Hit",
    "Hits",
    "NativeKernelUnavailable",
    "RemoveIndicator",
    "SearchResult",
    "ShardedIndex",
    "Snapshot",
    "SnapshotCorrupt",
    "TypeTable",
    "brute_force",
    "default_chunk_count",
    "encode_exact",
    "encode_values",
]
