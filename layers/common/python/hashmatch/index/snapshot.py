"""Index snapshots: every hash type's arrays and row payload, with metadata, in one file.

File layout (format version 1), little-endian:

    8 bytes   magic b"HMSNAP\\0\\0"
    4 bytes   uint32 format version
    4 bytes   uint32 reserved (0)
    8 bytes   uint64 length of the JSON header
    JSON      metadata and an array directory {name: {dtype, shape, offset}}
    arrays    raw, each starting on a 64-byte boundary (offsets relative to the data start)

Loading is ``np.frombuffer`` over the bytes (or an mmap): no copy, no parsing of the arrays, and
the MIH chunk tables are stored too, so a snapshot is ready to answer as soon as it is read.

The header's ``checksum`` is the SHA-256 of the header without it (JSON, sorted keys) followed by
every byte from the first array to the end of the file. ``from_bytes`` verifies it before using
anything the header describes: a truncated, corrupt or unchecksummed file raises
:class:`SnapshotCorrupt`, never a half-read index.

Rows are identified by their position in a type's payload arrays: ``ids`` (fixed-width ASCII
bytes, width ``id_width``), ``database`` and ``media_type`` (uint8 codes into the snapshot's
``databases`` and ``media_types`` lists). Callers never see rows: ``Snapshot.search`` answers
with decoded hits (indicator id, database, media type, distance).

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
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch.errors import InvalidInput
from hashmatch.hashtypes import HASH_TYPES, HashType, MatchKind
from hashmatch.index.bits import U32, U64, as_words
from hashmatch.index.exact import ExactIndex, encode_exact, sort_order
from hashmatch.index.hamming import ChunkTables, HammingIndex, SearchResult

MAGIC = b"HMSNAP\x00\x00"
FORMAT_VERSION = 1
ALIGN = 64
_PREAMBLE = struct.Struct("<8sIIQ")

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
    """One stored row within the radius of a query, decoded."""

    indicator_id: str
    database: str
    media_type: str
    distance: int


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
    """Add (or replace, if the id exists) one indicator's hash. ``value`` is the raw digest."""

    hash_type: str
    value: bytes
    id: str
    database: str
    media_type: str


@dataclass(frozen=True)
class RemoveIndicator:
    """Remove the indicator with this id (revoked, suspended or deleted), whatever its type."""

    id: str


Change = AddIndicator | RemoveIndicator


@dataclass
class TypeTable:
    """One hash type: its index plus the row payload (ids, database and media type codes)."""

    hash_type: HashType
    index: HammingIndex | ExactIndex
    ids: npt.NDArray[np.bytes_]
    database: npt.NDArray[np.uint8]
    media_type: npt.NDArray[np.uint8]

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])

    @property
    def codes(self) -> U64:
        return self.index.codes

    @property
    def nbytes(self) -> int:
        return int(
            self.index.nbytes + self.ids.nbytes + self.database.nbytes + self.media_type.nbytes
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
        index = HammingIndex(codes, hash_type.bits, chunks=chunks)
        return cls(hash_type, index, ids, database, media_type)

    @classmethod
    def empty(cls, hash_type: HashType, id_width: int) -> TypeTable:
        return cls.build(
            hash_type,
            np.empty((0, -(-hash_type.bits // 64)), np.uint64),
            np.empty(0, f"S{id_width}"),
            np.empty(0, np.uint8),
            np.empty(0, np.uint8),
        )

    def holds_only(self, databases: Sequence[int]) -> bool:
        """Whether every row is in one of ``databases`` (codes): then scoping changes nothing."""
        present = np.flatnonzero(np.bincount(self.database, minlength=1))
        return bool(np.isin(present, databases).all())

    def in_scope(
        self, result: SearchResult, databases: Sequence[int], max_matches: int
    ) -> SearchResult:
        """The rows of ``result`` in ``databases``, nearest first, capped at ``max_matches``."""
        keep = np.isin(self.database[result.rows], databases)
        rows, distances = result.rows[keep], result.distances[keep]
        return SearchResult(
            rows[:max_matches], distances[:max_matches], bool(rows.shape[0] > max_matches)
        )

    def search_rows(
        self, queries: U64, radius: int | Sequence[int], *, max_matches: int = 1000
    ) -> list[SearchResult]:
        """Queries as encoded words (``encode_values``); radius ignored for exact types."""
        if isinstance(self.index, ExactIndex):
            return self.index.lookup(queries)
        return self.index.search_batch(queries, radius, max_matches=max_matches)


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
    ) -> Snapshot:
        """Build from scratch (full rebuild). Later records with the same id replace earlier."""
        empty = cls(version, watermark, created_at, {}, id_width=id_width)
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

    def _fold_type(
        self, name: str, dropped_ids: npt.NDArray[np.bytes_], adds: list[AddIndicator]
    ) -> TypeTable:
        hash_type = HASH_TYPES[name] if name not in self.tables else self.tables[name].hash_type
        old = self.tables.get(name)
        words = -(-hash_type.bits // 64)
        width = f"S{self.id_width}"
        added_codes = (
            encode_values(hash_type, [a.value for a in adds])
            if adds
            else np.empty((0, words), np.uint64)
        )
        added_ids = np.array([a.id for a in adds], dtype=width)
        added_db = np.array([self.databases.index(a.database) for a in adds], np.uint8)
        added_media = np.array([self.media_types.index(a.media_type) for a in adds], np.uint8)
        if old is None:
            return TypeTable.build(hash_type, added_codes, added_ids, added_db, added_media)
        keep = (
            ~_member_of(old.ids, dropped_ids) if dropped_ids.size else np.ones(old.size, dtype=bool)
        )
        if keep.all() and not adds:
            return old  # nothing changed: share the arrays
        ids = np.concatenate([old.ids[keep], added_ids])
        database = np.concatenate([old.database[keep], added_db])
        media = np.concatenate([old.media_type[keep], added_media])
        if isinstance(old.index, HammingIndex):
            # Patch the sorted chunk tables instead of rebuilding them (no re-sort).
            return TypeTable(hash_type, old.index.updated(keep, added_codes), ids, database, media)
        codes = np.concatenate([old.codes[keep], added_codes])
        return TypeTable.build(hash_type, codes, ids, database, media)

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
    ) -> list[Hits]:
        """Every stored row within ``radius`` of each raw digest of one type, decoded.

        ``radius`` is one value or one per query (ignored by exact types). ``databases`` (None:
        all) is the caller's scope, applied inside the search: the nearest ``max_matches`` rows
        *in scope* are returned, and ``truncated`` says more rows in scope matched. Rows out of
        scope neither take a place under the cap nor count towards ``truncated``. An absent
        type matches nothing.
        """
        table = self.tables.get(hash_type)
        if table is None:
            table = TypeTable.empty(HASH_TYPES.lookup(hash_type), self.id_width)
        encoded = encode_values(table.hash_type, values)
        wanted = (
            None
            if databases is None
            else sorted({self.databases.index(db) for db in databases if db in self.databases})
        )
        if wanted is None or table.holds_only(wanted):
            results = table.search_rows(encoded, radius, max_matches=max_matches)
        else:
            # Uncapped, then scoped, then capped: the index's own cap would otherwise spend
            # places on rows the caller may not see (and the search costs the same either way:
            # the cap only trims the sorted answer).
            everything = table.search_rows(encoded, radius, max_matches=max(table.size, 1))
            results = [table.in_scope(result, wanted, max_matches) for result in everything]
        return [self._decoded(table, result) for result in results]

    def _decoded(self, table: TypeTable, result: SearchResult) -> Hits:
        hits: list[Hit] = []
        if len(result):
            ids = table.ids[result.rows]
            codes = table.database[result.rows].tolist()
            media = table.media_type[result.rows].tolist()
            for raw_id, db, medium, distance in zip(
                ids.tolist(), codes, media, result.distances.tolist(), strict=True
            ):
                hits.append(
                    Hit(
                        indicator_id=raw_id.decode("ascii"),
                        database=self.databases[db],
                        media_type=self.media_types[medium],
                        distance=int(distance),
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
        return arrays

    def to_bytes(self) -> bytes:
        """Serialise to the single-file format described in the module docstring."""
        return b"".join(self._parts())

    def _parts(self) -> list[bytes | memoryview]:
        """The file as a list of buffers, so writing it copies each array once at most."""
        arrays = self._arrays()
        directory: dict[str, dict[str, Any]] = {}
        offset = 0
        for name, array in arrays.items():
            directory[name] = {
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "offset": offset,
            }
            offset = _aligned(offset + array.nbytes)
        header = dict(self.metadata(), arrays=directory)
        data_parts: list[bytes | memoryview] = []
        written = 0
        for name, array in arrays.items():
            data_parts.append(bytes(directory[name]["offset"] - written))
            data = np.ascontiguousarray(array)
            data_parts.append(data.reshape(-1).view(np.uint8).data)
            written = directory[name]["offset"] + data.nbytes
        checksum = _checksum(_header_text(header), data_parts)
        header_bytes = _header_text({**header, CHECKSUM_KEY: checksum})
        preamble = _PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, len(header_bytes))
        head = preamble + header_bytes
        return [head, bytes(_aligned(len(head)) - len(head)), *data_parts]

    @classmethod
    def from_bytes(cls, buffer: bytes | bytearray | memoryview | mmap.mmap) -> Snapshot:
        """Load without copying the arrays (they are read-only views of ``buffer``).

        Raises SnapshotCorrupt unless the bytes are a whole snapshot whose checksum matches.
        """
        header, data_start = _verified_header(buffer)
        try:
            return cls._from_verified(buffer, header, data_start)
        except (KeyError, TypeError, ValueError) as error:  # checksummed, yet not readable
            raise SnapshotCorrupt(
                f"the snapshot's layout cannot be read: {type(error).__name__}",
                version=header.get("snapshot_version"),
            ) from error

    @classmethod
    def _from_verified(
        cls,
        buffer: bytes | bytearray | memoryview | mmap.mmap,
        header: dict[str, Any],
        data_start: int,
    ) -> Snapshot:

        def array(name: str) -> np.ndarray:
            entry = header["arrays"][name]
            dtype = np.dtype(entry["dtype"])
            count = int(np.prod(entry["shape"])) if entry["shape"] else 1
            flat = np.frombuffer(
                buffer, dtype=dtype, count=count, offset=data_start + entry["offset"]
            )
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
                index = HammingIndex(codes, hash_type.bits, tables=chunk_tables)
            else:
                index = ExactIndex(codes, hash_type.bits)
            tables[name] = TypeTable(
                hash_type,
                index,
                array(f"{name}/ids"),
                array(f"{name}/database"),
                array(f"{name}/media_type"),
            )
        return cls(
            int(header["snapshot_version"]),
            header["watermark"],
            header["created_at"],
            tables,
            id_width=int(header["id_width"]),
            databases=tuple(header["databases"]),
            media_types=tuple(header["media_types"]),
        )

    def save(self, path: Path) -> None:
        with path.open("wb") as handle:
            for part in self._parts():
                handle.write(part)

    @classmethod
    def load(cls, path: Path) -> Snapshot:
        """Memory-map a snapshot file: pages are read on first touch."""
        with path.open("rb") as handle:
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return cls.from_bytes(mapped)


def _header_text(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True).encode()


def _checksum(header_text: bytes, data: Iterable[bytes | memoryview]) -> str:
    digest = hashlib.sha256(header_text)
    for part in data:
        digest.update(part)
    return digest.hexdigest()


def _verified_header(
    buffer: bytes | bytearray | memoryview | mmap.mmap,
) -> tuple[dict[str, Any], int]:
    """The header and where the arrays start, once the checksum over both has matched."""
    if len(buffer) < _PREAMBLE.size:
        raise SnapshotCorrupt("not a hashmatch snapshot: too short")
    magic, fmt, _, header_len = _PREAMBLE.unpack_from(buffer, 0)
    if magic != MAGIC:
        raise SnapshotCorrupt("not a hashmatch snapshot: bad magic")
    if fmt != FORMAT_VERSION:
        raise SnapshotCorrupt(f"unsupported snapshot format version {fmt}")
    data_start = _aligned(_PREAMBLE.size + header_len)
    if len(buffer) < _PREAMBLE.size + header_len:
        raise SnapshotCorrupt("the snapshot is truncated inside its header")
    try:
        header = json.loads(bytes(buffer[_PREAMBLE.size : _PREAMBLE.size + header_len]))
    except (UnicodeDecodeError, ValueError) as error:
        raise SnapshotCorrupt("the snapshot's header is not JSON") from error
    if not isinstance(header, dict):
        raise SnapshotCorrupt("the snapshot's header is not a JSON object")
    version = header.get("snapshot_version")
    version = version if isinstance(version, int) else None
    expected = header.pop(CHECKSUM_KEY, None)
    if not isinstance(expected, str):
        raise SnapshotCorrupt("the snapshot carries no checksum", version=version)
    data = memoryview(buffer)[data_start:] if len(buffer) > data_start else b""
    if _checksum(_header_text(header), [data]) != expected:
        raise SnapshotCorrupt(
            "the snapshot's checksum does not match: it is truncated or corrupt", version=version
        )
    return header, data_start


def _member_of(
    ids: npt.NDArray[np.bytes_], wanted: npt.NDArray[np.bytes_]
) -> npt.NDArray[np.bool_]:
    """``np.isin`` for fixed-width ids: a set lookup beats sorting a million byte strings."""
    wanted_set = set(wanted.tolist())
    return np.fromiter((i in wanted_set for i in ids.tolist()), dtype=bool, count=ids.shape[0])


def _aligned(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


def _u32(array: np.ndarray) -> U32:
    return array.astype(np.uint32, copy=False)
