"""Index snapshots: every hash type's arrays and row payload, with metadata, in one file.

File layout (format version 2), little-endian:

    8 bytes   magic b"HMSNAP\\0\\0"
    4 bytes   uint32 format version
    4 bytes   uint32 reserved (0)
    8 bytes   uint64 length of the JSON header
    JSON      metadata, an array directory {name: {dtype, shape, offset}}, the payload's length
              (``payload_bytes``) and the ``checksum``
    arrays    raw, each starting on a 64-byte boundary (offsets relative to the data start);
              the payload is everything from the data start to the end of the file

Loading is ``np.frombuffer`` over the bytes (or an mmap): no copy, no parsing of the arrays, and
the MIH chunk tables are stored too, so a snapshot is ready to answer as soon as it is read and
its checksum verified. ``Snapshot.from_ranges`` (parallel ranged reads) and
``Snapshot.from_stream`` (one sequential read) load an S3 object and hash it as it arrives.

The header's ``checksum`` is the SHA-256 of the header without it (JSON, sorted keys) followed
by the payload. Every loader verifies it before using anything the header describes: a
truncated, corrupt or unchecksummed file, or another format version (version 1 ended
at the last array), raises :class:`SnapshotCorrupt`, never a half-read index.

Rows are identified by their position in a type's payload arrays: ``ids`` (fixed-width ASCII
bytes, width ``id_width``), ``database`` and ``media_type`` (uint8 codes into the snapshot's
``databases`` and ``media_types`` lists). Callers never see rows: ``Snapshot.search`` answers
with decoded hits (indicator id, database, media type, distance).

A type with a companion (PDQ: dHash) stores three more per-row arrays: ``companion`` (the
companion's words, zero when absent), ``companion_present`` (uint8 0/1) and ``variant`` (uint8:
0 for the indicator's own hash, 1.. for its variants). An indicator with variants has one row per
hash, all with its id; a search answers each indicator once, at its best row (the agreement rule,
``Snapshot.search``). A snapshot written before these arrays existed reads as rows of variant 0
without companions.

Which types exist, their widths and kinds come from the hash-type registry
(``hashmatch.hashtypes.HASH_TYPES``); a snapshot file naming a type the registry does not know,
or knows with another width or kind, is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import mmap
import struct
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch.errors import InvalidInput
from hashmatch.hashtypes import HASH_TYPES, MAX_INDICATOR_HASHES, HashType, MatchKind
from hashmatch.index.bits import U32, U64, as_words, rowwise_distances
from hashmatch.index.exact import ExactIndex, encode_exact, sort_order
from hashmatch.index.hamming import ChunkTables, HammingIndex, SearchResult
from hashmatch.index.kernel import choose_kernel, collapse_to_huge_pages, native_kernel

MAGIC = b"HMSNAP\x00\x00"
FORMAT_VERSION = 2
ALIGN = 64
_PREAMBLE = struct.Struct("<8sIIQ")
# from_ranges: bytes per ranged read and reads in flight. Measured against a moto S3 server
# (bench/cold_start.py): see docs/matching.md, "Cold start".
RANGE_BYTES = 16 * 2**20
RANGE_WORKERS = 8

DATABASES: tuple[str, ...] = ("known", "new", "solicitation")
# Negative indicators (hashes that must never produce a match) are rows of their own pseudo
# database: searched like the others, never answered as matches (hashmatch.matching.service).
NEGATIVE_DATABASE = "negative"
SNAPSHOT_DATABASES: tuple[str, ...] = (*DATABASES, NEGATIVE_DATABASE)
MEDIA_TYPES: tuple[str, ...] = ("image", "video")
DEFAULT_ID_WIDTH = 26  # a ULID; 32 for hex ids
CHECKSUM_KEY = "checksum"


class SnapshotCorrupt(Exception):
    """The bytes are not a complete, intact snapshot this code can read (a server fault: the
    snapshot must be rebuilt, never served). ``version``: the header's snapshot version when the
    header itself was readable, else None."""

    def __init__(self, detail: str, *, version: int | None = None) -> None:
        super().__init__(detail)
        self.version = version


@dataclass(frozen=True)
class Hit:
    """One indicator within the radius of a query, decoded (at its best row).

    ``companion_distance``: set when the agreement rule admitted the match (the query and the
    row both carry the companion, and ``distance + companion_distance`` is within the
    agreement threshold). None: ``distance`` alone was within the threshold.
    """

    indicator_id: str
    database: str
    media_type: str
    distance: int
    companion_distance: int | None = None

    @property
    def score(self) -> int:
        """What ranks hits: the distance, plus the companion's when the rule applied."""
        return self.distance + (self.companion_distance or 0)


@dataclass(frozen=True)
class Hits:
    """A query's hits, nearest first; ``truncated``: more rows matched than were returned."""

    hits: list[Hit]
    truncated: bool

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def indicator_ids(self) -> list[str]:
        return [hit.indicator_id for hit in self.hits]


@dataclass(frozen=True)
class AddIndicator:
    """Add (or replace, if the id exists) one indicator's hashes. ``value`` is the raw digest;
    ``companion`` the same image's companion digest (types with a companion only);
    ``variants`` more (digest, companion digest) pairs of the same image, one row each."""

    hash_type: str
    value: bytes
    id: str
    database: str
    media_type: str
    companion: bytes | None = None
    variants: tuple[tuple[bytes, bytes], ...] = ()

    def rows(self) -> list[tuple[bytes, bytes | None]]:
        return [(self.value, self.companion), *self.variants]


@dataclass(frozen=True)
class RemoveIndicator:
    """Remove the indicator with this id (revoked, suspended or deleted), whatever its type."""

    id: str


Change = AddIndicator | RemoveIndicator


@dataclass
class RowExtras:
    """Per-row companion words, their presence, and the variant number (0: the indicator's own
    hash), for a type with a companion."""

    companion: U64
    companion_present: npt.NDArray[np.uint8]
    variant: npt.NDArray[np.uint8]

    @property
    def nbytes(self) -> int:
        return int(self.companion.nbytes + self.companion_present.nbytes + self.variant.nbytes)

    @classmethod
    def plain(cls, hash_type: HashType, rows: int) -> RowExtras | None:
        """Rows without companions, each an indicator's own hash (None: no companion type)."""
        companion = HASH_TYPES.companion_of(hash_type)
        if companion is None:
            return None
        return cls(
            np.zeros((rows, -(-companion.bits // 64)), np.uint64),
            np.zeros(rows, np.uint8),
            np.zeros(rows, np.uint8),
        )

    def kept(self, keep: npt.NDArray[np.bool_], added: RowExtras) -> RowExtras:
        return RowExtras(
            np.concatenate([self.companion[keep], added.companion]),
            np.concatenate([self.companion_present[keep], added.companion_present]),
            np.concatenate([self.variant[keep], added.variant]),
        )


@dataclass
class TypeTable:
    """One hash type: its index plus the row payload (ids, database and media type codes)."""

    hash_type: HashType
    index: HammingIndex | ExactIndex
    ids: npt.NDArray[np.bytes_]
    database: npt.NDArray[np.uint8]
    media_type: npt.NDArray[np.uint8]
    # Types with a companion only (None otherwise): see the module docstring.
    rows_extra: RowExtras | None = None

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    @property
    def codes(self) -> U64:
        return self.index.codes

    @property
    def nbytes(self) -> int:
        extra = self.rows_extra.nbytes if self.rows_extra is not None else 0
        return int(
            self.index.nbytes
            + self.ids.nbytes
            + self.database.nbytes
            + self.media_type.nbytes
            + extra
        )

    @classmethod
    def build(
        cls,
        hash_type: HashType,
        codes: U64,
        ids: npt.NDArray[np.bytes_],
        database: npt.NDArray[np.uint8],
        media_type: npt.NDArray[np.uint8],
        *,
        chunks: int | None = None,
        rows_extra: RowExtras | None = None,
        kernel: str | None = None,
    ) -> TypeTable:
        """Build the index for ``codes`` (native words: see ``encode_values``)."""
        if hash_type.kind is MatchKind.EXACT:
            order = sort_order(codes)
            return cls(
                hash_type,
                ExactIndex(np.ascontiguousarray(codes[order]), hash_type.bits),
                ids[order],
                database[order],
                media_type[order],
            )
        index = HammingIndex(codes, hash_type.bits, chunks=chunks, kernel=kernel)
        return cls(
            hash_type,
            index,
            ids,
            database,
            media_type,
            rows_extra if rows_extra is not None else RowExtras.plain(hash_type, ids.shape[0]),
        )

    @classmethod
    def empty(cls, hash_type: HashType, id_width: int, *, kernel: str | None = None) -> TypeTable:
        return cls.build(
            hash_type,
            np.empty((0, -(-hash_type.bits // 64)), np.uint64),
            np.empty(0, f"S{id_width}"),
            np.empty(0, np.uint8),
            np.empty(0, np.uint8),
            kernel=kernel,
        )

    def agreed(
        self,
        result: SearchResult,
        *,
        companion: U64 | None,
        threshold: int,
        agreement: int | None,
        databases: Sequence[int] | None,
        max_matches: int,
    ) -> tuple[SearchResult, npt.NDArray[np.int32] | None]:
        """The rows of an uncapped ``result`` that match, one per indicator (its best), in
        scope, best first, capped; and their companion distances (None: no rule applied).

        A query with its companion (``companion``, ``agreement`` set) matches a row with a
        companion when distance + companion distance <= ``agreement`` (the agreement rule), and
        an indicator's own hash (variant 0) also when distance <= ``threshold``: so it finds
        everything a query without its companion finds, and more. A query without its
        companion matches the indicators' own hashes only, within ``threshold``: old clients
        see exactly what they saw before variants existed. The companion distance is returned
        for the rows the rule admitted (-1: admitted by ``threshold`` alone).
        """
        extra = self.rows_extra
        assert extra is not None
        rows, distances = result.rows, result.distances
        if databases is not None:
            keep = np.isin(self.database[rows], databases)
            rows, distances = rows[keep], distances[keep]
        own = extra.variant[rows] == 0
        companion_distances: npt.NDArray[np.int32] | None = None
        if companion is None or agreement is None:
            keep = own & (distances <= threshold)
            rows, distances = rows[keep], distances[keep]
            scores = distances
        else:
            present = extra.companion_present[rows].astype(bool)
            others = rowwise_distances(
                extra.companion[rows],
                np.broadcast_to(companion, (rows.shape[0], companion.shape[0])),
            ).astype(np.int32)
            joint = present & (distances + others <= agreement)
            alone = own & (distances <= threshold)
            keep = joint | alone
            rows, distances = rows[keep], distances[keep]
            companion_distances = np.where(joint[keep], others[keep], -1).astype(np.int32)
            scores = distances + np.maximum(companion_distances, 0)
        # Best row per indicator: sort by (score, distance, id), keep each id's first.
        ids = self.ids[rows]
        order = np.lexsort((ids, distances, scores))
        rows, distances, ids = rows[order], distances[order], ids[order]
        _, first = np.unique(ids, return_index=True)
        first.sort()
        truncated = bool(first.shape[0] > max_matches)
        first = first[:max_matches]
        companion_out = None if companion_distances is None else companion_distances[order][first]
        return SearchResult(rows[first], distances[first], truncated), companion_out

    def search_rows(
        self,
        queries: U64,
        radius: int | Sequence[int],
        *,
        max_matches: int = 1000,
        allowed_databases: int | None = None,
    ) -> list[SearchResult]:
        """Queries as encoded words (``encode_values``); radius ignored for exact types.

        ``allowed_databases``: a bit mask over database codes; rows of other databases are
        skipped inside the search, before ``max_matches`` (so the cap and ``truncated`` count
        only rows in scope).
        """
        labels = None if allowed_databases is None else self.database
        if isinstance(self.index, ExactIndex):
            return self.index.lookup(queries, labels=labels, allowed=allowed_databases)
        return self.index.search_batch(
            queries, radius, max_matches=max_matches, labels=labels, allowed=allowed_databases
        )


def encode_values(hash_type: HashType, values: Sequence[bytes] | npt.NDArray[np.uint8]) -> U64:
    """Raw digests of one type -> the word array its index stores and is queried with."""
    if hash_type.kind is MatchKind.EXACT:
        return encode_exact(values, hash_type.bits)
    if isinstance(values, np.ndarray):
        return as_words(values, hash_type.bits)
    return as_words(list(values), hash_type.bits)


@dataclass
class Snapshot:
    """A complete, immutable-by-convention index of every hash type, with its metadata."""

    version: int
    watermark: str
    created_at: str
    tables: dict[str, TypeTable]
    id_width: int = DEFAULT_ID_WIDTH
    databases: tuple[str, ...] = SNAPSHOT_DATABASES
    media_types: tuple[str, ...] = MEDIA_TYPES
    # The search kernel of the indexes this snapshot builds (None: hashmatch.index.kernel).
    kernel: str | None = None

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        records: Iterable[AddIndicator],
        *,
        version: int,
        watermark: str,
        created_at: str,
        id_width: int = DEFAULT_ID_WIDTH,
        kernel: str | None = None,
    ) -> Snapshot:
        """Build from scratch (full rebuild). Later records with the same id replace earlier."""
        empty = cls(version, watermark, created_at, {}, id_width=id_width, kernel=kernel)
        return empty.apply(records, version=version, watermark=watermark, created_at=created_at)

    def apply(
        self, changes: Iterable[Change], *, version: int, watermark: str, created_at: str
    ) -> Snapshot:
        """Fold changes into a new snapshot; untouched types share this snapshot's arrays.

        The last change for an id wins. Types with any removed or replaced row are rebuilt from
        this snapshot's in-memory arrays (no re-read of the table).
        """
        if version <= self.version and self.tables:
            raise InvalidInput(f"snapshot version must increase (have {self.version})")
        missing = tuple(db for db in SNAPSHOT_DATABASES if db not in self.databases)
        if missing:  # an older snapshot: new codes are appended, the old ones keep their meaning
            wider = dataclasses.replace(self, databases=(*self.databases, *missing))
            return wider.apply(changes, version=version, watermark=watermark, created_at=created_at)
        adds: dict[str, AddIndicator] = {}
        dropped: set[str] = set()
        for change in changes:
            self._check_change(change)
            dropped.add(change.id)
            if isinstance(change, AddIndicator):
                adds[change.id] = change
            else:
                adds.pop(change.id, None)
        dropped_ids = np.array(sorted(dropped), dtype=f"S{self.id_width}")
        adds_by_type: dict[str, list[AddIndicator]] = {}
        for add in adds.values():
            adds_by_type.setdefault(add.hash_type, []).append(add)
        tables: dict[str, TypeTable] = {}
        for name in sorted(set(self.tables) | set(adds_by_type)):
            tables[name] = self._fold_type(name, dropped_ids, adds_by_type.get(name, []))
        tables = {name: table for name, table in tables.items() if table.size}
        return Snapshot(
            version,
            watermark,
            created_at,
            tables,
            id_width=self.id_width,
            databases=self.databases,
            media_types=self.media_types,
            kernel=self.kernel,
        )

    def _check_change(self, change: Change) -> None:
        if not change.id.isascii() or not 0 < len(change.id) <= self.id_width:
            raise InvalidInput(f"indicator id must be 1..{self.id_width} ASCII characters")
        if isinstance(change, RemoveIndicator):
            return
        hash_type = HASH_TYPES.get(change.hash_type)
        if hash_type is None:
            raise InvalidInput(f"unknown hash type {change.hash_type!r}")
        if len(change.value) != hash_type.byte_length:
            raise InvalidInput(f"a {hash_type.name} value must be {hash_type.byte_length} bytes")
        if change.database not in self.databases:
            raise InvalidInput(f"unknown database {change.database!r}")
        if change.media_type not in self.media_types:
            raise InvalidInput(f"unknown media type {change.media_type!r}")
        companion = HASH_TYPES.companion_of(hash_type)
        if companion is None and (change.companion is not None or change.variants):
            raise InvalidInput(f"a {hash_type.name} indicator has no companion and no variants")
        if change.variants and change.companion is None:
            raise InvalidInput("an indicator with variants needs its own companion")
        if len(change.rows()) > MAX_INDICATOR_HASHES:
            raise InvalidInput(f"an indicator holds at most {MAX_INDICATOR_HASHES} hashes")
        for value, companion_value in change.rows():
            if len(value) != hash_type.byte_length:
                raise InvalidInput(
                    f"a {hash_type.name} value must be {hash_type.byte_length} bytes"
                )
            if (
                companion is not None
                and companion_value is not None
                and (len(companion_value) != companion.byte_length)
            ):
                raise InvalidInput(
                    f"a {companion.name} companion must be {companion.byte_length} bytes"
                )

    def _fold_type(
        self, name: str, dropped_ids: npt.NDArray[np.bytes_], adds: list[AddIndicator]
    ) -> TypeTable:
        hash_type = HASH_TYPES[name] if name not in self.tables else self.tables[name].hash_type
        old = self.tables.get(name)
        words = -(-hash_type.bits // 64)
        width = f"S{self.id_width}"
        rows = [
            (add, number, value, companion)
            for add in adds
            for number, (value, companion) in enumerate(add.rows())
        ]
        added_codes = (
            encode_values(hash_type, [value for _, _, value, _ in rows])
            if rows
            else np.empty((0, words), np.uint64)
        )
        added_ids = np.array([add.id for add, _, _, _ in rows], dtype=width)
        added_db = np.array([self.databases.index(add.database) for add, *_ in rows], np.uint8)
        added_media = np.array(
            [self.media_types.index(add.media_type) for add, *_ in rows], np.uint8
        )
        added_extra = _row_extras(hash_type, rows)
        if old is None:
            return TypeTable.build(
                hash_type,
                added_codes,
                added_ids,
                added_db,
                added_media,
                rows_extra=added_extra,
                kernel=self.kernel,
            )
        native = choose_kernel(self.kernel) == "native"
        keep = (
            ~_member_of(old.ids, dropped_ids, native=native)
            if dropped_ids.size
            else np.ones(old.size, dtype=bool)
        )
        if keep.all() and not adds:
            return old  # nothing changed: share the arrays
        ids = np.concatenate([old.ids[keep], added_ids])
        database = np.concatenate([old.database[keep], added_db])
        media = np.concatenate([old.media_type[keep], added_media])
        extra = (
            old.rows_extra.kept(keep, added_extra)
            if old.rows_extra is not None and added_extra is not None
            else None
        )
        if isinstance(old.index, HammingIndex):
            # Patch the sorted chunk tables instead of rebuilding them (no re-sort).
            return TypeTable(
                hash_type, old.index.updated(keep, added_codes), ids, database, media, extra
            )
        codes = np.concatenate([old.codes[keep], added_codes])
        return TypeTable.build(
            hash_type, codes, ids, database, media, rows_extra=extra, kernel=self.kernel
        )

    # -- reading -------------------------------------------------------------------------------

    def counts(self) -> dict[str, dict[str, int]]:
        """Rows per hash type and database."""
        return {
            name: {
                db: int(n)
                for db, n in zip(
                    self.databases,
                    np.bincount(table.database, minlength=len(self.databases)),
                    strict=True,
                )
                if n
            }
            for name, table in sorted(self.tables.items())
        }

    def search(
        self,
        hash_type: str,
        values: Sequence[bytes] | npt.NDArray[np.uint8],
        radius: int | Sequence[int] = 0,
        *,
        max_matches: int = 1000,
        databases: Collection[str] | None = None,
        companions: Sequence[bytes | None] | None = None,
        agreement: int | None = None,
    ) -> list[Hits]:
        """Every stored indicator within ``radius`` of each raw digest of one type, decoded.

        ``radius`` is one value or one per query (ignored by exact types). ``databases`` (None:
        all) is the caller's scope, applied inside the search: the nearest ``max_matches`` rows
        *in scope* are returned, and ``truncated`` says more rows in scope matched. Rows out of
        scope neither take a place under the cap nor count towards ``truncated``. An absent
        type matches nothing.

        For a type with a companion, ``companions`` (one per query, None for a query without
        one) and ``agreement`` (the agreement threshold) apply the agreement rule
        (:meth:`TypeTable.agreed`); each indicator is answered once, at its best row, whatever
        number of its variants matched.
        """
        table = self.tables.get(hash_type)
        if table is None:
            table = TypeTable.empty(HASH_TYPES.lookup(hash_type), self.id_width, kernel=self.kernel)
        encoded = encode_values(table.hash_type, values)
        allowed = None if databases is None else self._database_mask(databases)
        if table.rows_extra is not None:
            return self._search_with_rule(
                table, encoded, radius, allowed, max_matches, companions, agreement
            )
        results = table.search_rows(
            encoded, radius, max_matches=max_matches, allowed_databases=allowed
        )
        return [self._decoded(table, result) for result in results]

    def _search_with_rule(
        self,
        table: TypeTable,
        encoded: U64,
        radius: int | Sequence[int],
        allowed: int | None,
        max_matches: int,
        companions: Sequence[bytes | None] | None,
        agreement: int | None,
    ) -> list[Hits]:
        count = encoded.shape[0]
        thresholds = [radius] * count if isinstance(radius, int) else list(radius)
        given = list(companions) if companions is not None else [None] * count
        if len(thresholds) != count or len(given) != count:
            raise InvalidInput("one radius and one companion (or None) per query")
        companion_type = HASH_TYPES.companion_of(table.hash_type)
        assert companion_type is not None
        encoded_companions = [
            None if value is None else as_words([value], companion_type.bits)[0] for value in given
        ]
        # The index is searched at the rule's bound on this type's distance alone.
        radii = [
            max(threshold, agreement)
            if agreement is not None and companion is not None
            else threshold
            for threshold, companion in zip(thresholds, encoded_companions, strict=True)
        ]
        # The cap counts indicators, which only the rule's reduction knows: the index returns up
        # to 16 rows (an indicator's hashes) per indicator wanted, and says when it held back
        # more (then the answer is truncated too).
        everything = table.search_rows(
            encoded,
            radii,
            max_matches=max(1, max_matches * MAX_INDICATOR_HASHES),
            allowed_databases=allowed,
        )
        answers: list[Hits] = []
        for result, threshold, companion in zip(
            everything, thresholds, encoded_companions, strict=True
        ):
            matched, companion_distances = table.agreed(
                result,
                companion=companion,
                threshold=threshold,
                agreement=agreement,
                databases=None,
                max_matches=max_matches,
            )
            if result.truncated and not matched.truncated:
                matched = SearchResult(matched.rows, matched.distances, True)
            answers.append(self._decoded(table, matched, companion_distances))
        return answers

    def _database_mask(self, databases: Collection[str]) -> int:
        """Bit k set: database code k is in scope (names this snapshot does not hold: none)."""
        if isinstance(databases, str):
            raise InvalidInput("databases must be a collection of database names")
        mask = 0
        for name in databases:
            if name in self.databases:
                mask |= 1 << self.databases.index(name)
        return mask

    def _decoded(
        self,
        table: TypeTable,
        result: SearchResult,
        companion_distances: npt.NDArray[np.int32] | None = None,
    ) -> Hits:
        hits: list[Hit] = []
        if len(result):
            ids = table.ids[result.rows]
            codes = table.database[result.rows].tolist()
            media = table.media_type[result.rows].tolist()
            others = (
                companion_distances.tolist()
                if companion_distances is not None
                else [-1] * len(result)
            )
            for raw_id, db, medium, distance, other in zip(
                ids.tolist(), codes, media, result.distances.tolist(), others, strict=True
            ):
                hits.append(
                    Hit(
                        indicator_id=raw_id.decode("ascii"),
                        database=self.databases[db],
                        media_type=self.media_types[medium],
                        distance=int(distance),
                        companion_distance=None if other < 0 else int(other),
                    )
                )
        return Hits(hits, result.truncated)

    # -- serialisation -------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return {
            "snapshot_version": self.version,
            "watermark": self.watermark,
            "created_at": self.created_at,
            "id_width": self.id_width,
            "databases": list(self.databases),
            "media_types": list(self.media_types),
            "counts": self.counts(),
            "types": {
                name: {
                    "bits": t.hash_type.bits,
                    "kind": t.hash_type.kind.value,
                    "rows": t.size,
                    **(
                        {"chunk_widths": list(t.index.widths)}
                        if isinstance(t.index, HammingIndex)
                        else {}
                    ),
                    **({"companion": t.hash_type.companion} if t.rows_extra is not None else {}),
                }
                for name, t in sorted(self.tables.items())
            },
        }

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        for name, t in sorted(self.tables.items()):
            arrays[f"{name}/codes"] = t.codes
            arrays[f"{name}/ids"] = t.ids
            arrays[f"{name}/database"] = t.database
            arrays[f"{name}/media_type"] = t.media_type
            if isinstance(t.index, HammingIndex):
                arrays[f"{name}/chunk_offsets"] = t.index.tables.offsets
                arrays[f"{name}/chunk_rows"] = t.index.tables.rows
            if t.rows_extra is not None:
                arrays[f"{name}/companion"] = t.rows_extra.companion
                arrays[f"{name}/companion_present"] = t.rows_extra.companion_present
                arrays[f"{name}/variant"] = t.rows_extra.variant
        return arrays

    def to_bytes(self) -> bytes:
        """Serialise to the single-file format described in the module docstring."""
        return b"".join(self._parts())

    def _parts(self) -> list[bytes | memoryview]:
        """The file as a list of buffers, so writing it copies each array once at most."""
        arrays = self._arrays()
        directory: dict[str, dict[str, Any]] = {}
        payload: list[bytes | memoryview] = []
        offset = 0
        for name, array in arrays.items():
            directory[name] = {
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "offset": offset,
            }
            data = np.ascontiguousarray(array).reshape(-1).view(np.uint8).data
            end = _aligned(offset + array.nbytes)
            payload.extend([data, bytes(end - offset - array.nbytes)])
            offset = end
        header = dict(self.metadata(), arrays=directory, payload_bytes=offset)
        checksum = hashlib.sha256(_header_text(header))
        for part in payload:
            checksum.update(part)
        header_bytes = _header_text({**header, CHECKSUM_KEY: checksum.hexdigest()})
        preamble = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, len(header_bytes))
        head = preamble + header_bytes
        return [head, bytes(_aligned(len(head)) - len(head)), *payload]

    @classmethod
    def from_bytes(
        cls,
        buffer: bytes | bytearray | memoryview | mmap.mmap,
        *,
        kernel: str | None = None,
        huge_pages: bool = True,
    ) -> Snapshot:
        """Load without copying the arrays (they are read-only views of ``buffer``).

        Raises SnapshotCorrupt unless the bytes are a whole snapshot whose checksum matches.
        ``huge_pages``: collapse an in-memory buffer's pages into transparent huge pages
        (``collapse_to_huge_pages``: 2x faster searches at 10M for ~1 s CPU at load;
        ``from_stream``/``from_ranges`` allocate huge pages from the start).
        """
        incoming = _Incoming.over(buffer)
        if huge_pages and not isinstance(buffer, mmap.mmap):
            collapse_to_huge_pages(buffer)
        return incoming.snapshot(kernel)

    @classmethod
    def from_ranges(
        cls,
        read: Callable[[int, int], bytes],
        size: int,
        *,
        range_bytes: int = RANGE_BYTES,
        workers: int = RANGE_WORKERS,
        kernel: str | None = None,
    ) -> Snapshot:
        """Load a snapshot of ``size`` bytes through ``read(offset, length)`` (S3 ranged GETs),
        ``workers`` ranges at a time, hashing each range once the ranges before it are in.

        A short read raises SnapshotCorrupt; ``read``'s own errors propagate.
        """
        incoming = _Incoming(size)

        def fetch(start: int) -> int:
            length = min(range_bytes, size - start)
            data = read(start, length)
            if len(data) != length:
                raise SnapshotCorrupt(f"short read at {start}: {len(data)} of {length} bytes")
            incoming.view[start : start + length] = data
            return start + length

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for end in pool.map(fetch, range(0, size, range_bytes)):  # in order of offset
                incoming.arrived(end)
        return incoming.snapshot(kernel)

    @classmethod
    def from_stream(
        cls,
        read: Callable[[int], bytes],
        size: int,
        *,
        chunk_bytes: int = RANGE_BYTES,
        kernel: str | None = None,
    ) -> Snapshot:
        """Load a snapshot of ``size`` bytes from a stream (``read(n)``: an S3 GET body),
        hashing each piece as it arrives. A stream that ends early raises SnapshotCorrupt."""
        incoming = _Incoming(size)
        end = 0
        while end < size:
            data = read(min(chunk_bytes, size - end))
            if not data:
                raise SnapshotCorrupt(f"the snapshot ended at {end} of {size} bytes")
            incoming.view[end : end + len(data)] = data
            end += len(data)
            incoming.arrived(end)
        return incoming.snapshot(kernel)

    @classmethod
    def _from_verified(
        cls,
        buffer: bytes | bytearray | memoryview | mmap.mmap,
        header: dict[str, Any],
        data_start: int,
        kernel: str | None,
    ) -> Snapshot:
        def array(name: str) -> np.ndarray:
            entry = header["arrays"][name]
            dtype = np.dtype(entry["dtype"])
            count = int(np.prod(entry["shape"])) if entry["shape"] else 1
            flat = np.frombuffer(
                buffer, dtype=dtype, count=count, offset=data_start + entry["offset"]
            )
            flat.setflags(write=False)  # a snapshot is immutable, even over a bytearray
            return flat.reshape(entry["shape"])

        tables: dict[str, TypeTable] = {}
        for name, info in header["types"].items():
            hash_type = HASH_TYPES.get(name)
            if hash_type is None or (int(info["bits"]), info["kind"]) != (
                hash_type.bits,
                hash_type.kind.value,
            ):
                raise SnapshotCorrupt(
                    f"the snapshot's hash type {name!r} ({info['bits']} bits, {info['kind']}) is "
                    "not one this code knows: rebuild the index",
                    version=header.get("snapshot_version"),
                )
            codes = array(f"{name}/codes")
            index: HammingIndex | ExactIndex
            if hash_type.kind is MatchKind.HAMMING:
                chunk_tables = ChunkTables(
                    widths=tuple(info["chunk_widths"]),
                    offsets=_u32(array(f"{name}/chunk_offsets")),
                    rows=_u32(array(f"{name}/chunk_rows")),
                )
                index = HammingIndex(codes, hash_type.bits, tables=chunk_tables, kernel=kernel)
            else:
                index = ExactIndex(codes, hash_type.bits)
            ids = array(f"{name}/ids")
            extra = (
                RowExtras(
                    array(f"{name}/companion"),
                    array(f"{name}/companion_present"),
                    array(f"{name}/variant"),
                )
                if f"{name}/variant" in header["arrays"]
                else RowExtras.plain(hash_type, ids.shape[0])
            )
            tables[name] = TypeTable(
                hash_type,
                index,
                ids,
                array(f"{name}/database"),
                array(f"{name}/media_type"),
                extra,
            )
        return cls(
            int(header["snapshot_version"]),
            header["watermark"],
            header["created_at"],
            tables,
            id_width=int(header["id_width"]),
            databases=tuple(header["databases"]),
            media_types=tuple(header["media_types"]),
            kernel=kernel,
        )

    def save(self, path: Path) -> None:
        with path.open("wb") as handle:
            for part in self._parts():
                handle.write(part)

    @classmethod
    def load(cls, path: Path, *, kernel: str | None = None) -> Snapshot:
        """Memory-map a snapshot file (verifying the checksum reads every page once)."""
        with path.open("rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return cls.from_bytes(mapped, kernel=kernel)


class _Incoming:
    """A snapshot arriving front to back: its buffer, its header once complete, and the running
    SHA-256 (header, then payload), so verifying costs little more than hashing the last piece.
    """

    def __init__(self, size: int) -> None:
        # A numpy buffer, not a bytearray: numpy asks for transparent huge pages on large
        # arrays before they are touched (and does not zero them first). The index's random
        # reads then miss the TLB far less: 10M PDQ batch q/s 13-20% higher with the hashes on
        # huge pages, in this Firecracker VM (THP "madvise", as Lambda's may be).
        self._init(np.empty(size, dtype=np.uint8), size)

    def _init(
        self, buffer: bytes | bytearray | memoryview | mmap.mmap | np.ndarray, size: int
    ) -> None:
        self.size = size
        self.buffer = buffer
        self.view: memoryview = (
            buffer.data if isinstance(buffer, np.ndarray) else memoryview(buffer)
        )
        self.header: dict[str, Any] | None = None
        self.expected = ""
        self.data_start = self.hashed = 0
        self.checksum = hashlib.sha256()

    @classmethod
    def over(cls, buffer: bytes | bytearray | memoryview | mmap.mmap) -> _Incoming:
        """A snapshot already wholly in memory (hashed in place, not copied)."""
        incoming = cls.__new__(cls)
        incoming._init(buffer, len(buffer))
        incoming.arrived(incoming.size)
        return incoming

    def arrived(self, end: int) -> None:
        """Bytes [0, end) are in."""
        if self.header is None:
            if end < _PREAMBLE.size and end < self.size:
                return
            header_len = _header_length(self.view[:end])
            if end < _PREAMBLE.size + header_len and end < self.size:
                return
            self.header, self.expected, self.data_start = _read_header(self.view[:end])
            self.checksum.update(_header_text(self.header))
            self.hashed = self.data_start
        if end > self.hashed:
            self.checksum.update(self.view[self.hashed : end])
            self.hashed = end

    def snapshot(self, kernel: str | None) -> Snapshot:
        if self.header is None:
            _read_header(self.view)  # raises the reason
        header = self.header
        assert header is not None
        version = _version_of(header)
        try:
            expected_size = self.data_start + int(header["payload_bytes"])
        except (KeyError, TypeError, ValueError) as error:
            raise SnapshotCorrupt(
                "the snapshot's header has no payload size", version=version
            ) from error
        if expected_size != self.size:
            raise SnapshotCorrupt(
                f"the snapshot is {self.size} bytes, its header says {expected_size}: "
                "it is truncated or corrupt (checksum not checked)",
                version=version,
            )
        if self.checksum.hexdigest() != self.expected:
            raise SnapshotCorrupt(
                "the snapshot's checksum does not match: it is truncated or corrupt",
                version=version,
            )
        try:
            return Snapshot._from_verified(self.view, header, self.data_start, kernel)
        except (KeyError, TypeError, ValueError) as error:  # checksummed, yet not readable
            raise SnapshotCorrupt(
                f"the snapshot's layout cannot be read: {type(error).__name__}", version=version
            ) from error


def _header_text(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True).encode()


def _header_length(buffer: bytes | bytearray | memoryview | mmap.mmap) -> int:
    if len(buffer) < _PREAMBLE.size:
        raise SnapshotCorrupt("not a hashmatch snapshot: too short")
    magic, fmt, _, header_len = _PREAMBLE.unpack_from(buffer, 0)
    if magic != MAGIC:
        raise SnapshotCorrupt("not a hashmatch snapshot: bad magic")
    if fmt != FORMAT_VERSION:
        raise SnapshotCorrupt(
            f"unsupported snapshot format version {fmt}: this code reads version "
            f"{FORMAT_VERSION} only; rebuild the snapshot"
        )
    return int(header_len)


def _read_header(
    buffer: bytes | bytearray | memoryview | mmap.mmap,
) -> tuple[dict[str, Any], str, int]:
    """The header (without its checksum), the checksum it carries, and where the payload starts.

    Refuses other files and formats, and a header without a checksum.
    """
    header_len = _header_length(buffer)
    if len(buffer) < _PREAMBLE.size + header_len:
        raise SnapshotCorrupt("the snapshot is truncated inside its header")
    try:
        header = json.loads(bytes(buffer[_PREAMBLE.size : _PREAMBLE.size + header_len]))
    except (UnicodeDecodeError, ValueError) as error:
        raise SnapshotCorrupt("the snapshot's header is not JSON") from error
    if not isinstance(header, dict):
        raise SnapshotCorrupt("the snapshot's header is not a JSON object")
    expected = header.pop(CHECKSUM_KEY, None)
    if not isinstance(expected, str):
        raise SnapshotCorrupt("the snapshot carries no checksum", version=_version_of(header))
    return header, expected, _aligned(_PREAMBLE.size + header_len)


def _version_of(header: dict[str, Any]) -> int | None:
    version = header.get("snapshot_version")
    return version if isinstance(version, int) else None


def _row_extras(
    hash_type: HashType, rows: Sequence[tuple[AddIndicator, int, bytes, bytes | None]]
) -> RowExtras | None:
    companion = HASH_TYPES.companion_of(hash_type)
    if companion is None:
        return None
    words = -(-companion.bits // 64)
    values = [value for *_, value in rows]
    present = np.array([value is not None for value in values], np.uint8)
    codes = (
        as_words([value or bytes(companion.byte_length) for value in values], companion.bits)
        if rows
        else np.empty((0, words), np.uint64)
    )
    variant = np.array([number for _, number, _, _ in rows], np.uint8)
    return RowExtras(codes, present, variant)


def _member_of(
    ids: npt.NDArray[np.bytes_], wanted: npt.NDArray[np.bytes_], *, native: bool
) -> npt.NDArray[np.bool_]:
    """``np.isin`` for fixed-width ids (every row holding a wanted id, however many there are).

    Native: a hash set in C (10M ids: docs/matching.md, apply). numpy: a Python set lookup, which
    beats sorting a million byte strings.
    """
    kernel = native_kernel() if native else None
    if kernel is not None and ids.dtype == wanted.dtype:
        return kernel.member_of(ids, wanted)
    wanted_set = set(wanted.tolist())
    return np.fromiter((i in wanted_set for i in ids.tolist()), dtype=bool, count=ids.shape[0])


def _aligned(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


def _u32(array: np.ndarray) -> U32:
    return array.astype(np.uint32, copy=False)
