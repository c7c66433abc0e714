"""Snapshots: round trip through bytes and files, metadata, and incremental apply().

Every test runs with both search kernels (selected through HASHMATCH_INDEX_KERNEL).
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from hashmatch.errors import InvalidInput
from hashmatch.hashtypes import HASH_TYPES
from hashmatch.index import (
    AddIndicator,
    RemoveIndicator,
    Snapshot,
    SnapshotCorrupt,
    TypeTable,
    brute_force,
    encode_values,
)
from hashmatch.index.kernel import KERNEL_ENV
from hashmatch.index.snapshot import _PREAMBLE, MAGIC
from tests.unit.test_index_hamming import KERNELS

PDQ_RADIUS = 31


@pytest.fixture(autouse=True, params=KERNELS)
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KERNEL_ENV, request.param)
    return str(request.param)


def pdq_values(rng: np.random.Generator, count: int) -> list[bytes]:
    return [bytes(v) for v in rng.integers(0, 256, size=(count, 32), dtype=np.uint8)]


def near(value: bytes, flips: int, rng: np.random.Generator) -> bytes:
    bits = np.unpackbits(np.frombuffer(value, dtype=np.uint8))
    bits[rng.choice(256, size=flips, replace=False)] ^= 1
    return np.packbits(bits).tobytes()


def row_id(snapshot: Snapshot, hash_type: str, row: int) -> str:
    """The indicator id stored at a row (index internals: only index tests read rows)."""
    return bytes(snapshot.tables[hash_type].ids[row]).decode("ascii")


def make_snapshot(rng: np.random.Generator, count: int = 3_000) -> Snapshot:
    records = [
        AddIndicator("pdq", v, f"P{i:025d}", ("known", "new")[i % 2], "image")
        for i, v in enumerate(pdq_values(rng, count))
    ]
    records += [
        AddIndicator("phash", bytes(v), f"H{i:025d}", "solicitation", "video")
        for i, v in enumerate(rng.integers(0, 256, size=(500, 8), dtype=np.uint8))
    ]
    records += [
        AddIndicator(
            "md5",
            hashlib.md5(str(i).encode(), usedforsecurity=False).digest(),
            f"M{i:025d}",
            "known",
            "image",
        )
        for i in range(300)
    ]
    return Snapshot.build(records, version=1, watermark="2026-01-01T00:00:00Z#1", created_at="t1")


def same_answers(left: Snapshot, right: Snapshot, rng: np.random.Generator) -> None:
    for hash_type, radius in (("pdq", PDQ_RADIUS), ("phash", 10), ("md5", 0)):
        stored = left.tables[hash_type]
        picks = rng.choice(stored.size, size=20)
        raw = stored.codes[picks]
        if hash_type == "md5":
            queries = [hashlib.md5(str(i).encode(), usedforsecurity=False).digest() for i in picks]
        else:
            queries = [bytes(row.tobytes()) for row in raw]
        for a, b in zip(
            left.search(hash_type, queries, radius),
            right.search(hash_type, queries, radius),
            strict=True,
        ):
            assert a == b


def test_round_trip_through_bytes_answers_identically() -> None:
    # Given a snapshot with PDQ, pHash and md5 rows
    rng = np.random.default_rng(1)
    snapshot = make_snapshot(rng)
    # When serialised and loaded back
    loaded = Snapshot.from_bytes(snapshot.to_bytes())
    # Then queries get identical rows, distances and ids
    same_answers(snapshot, loaded, rng)


def test_round_trip_keeps_metadata_and_counts() -> None:
    snapshot = make_snapshot(np.random.default_rng(2))
    loaded = Snapshot.from_bytes(snapshot.to_bytes())
    assert (loaded.version, loaded.watermark, loaded.created_at) == (1, snapshot.watermark, "t1")
    assert loaded.counts() == {
        "md5": {"known": 300},
        "pdq": {"known": 1500, "new": 1500},
        "phash": {"solicitation": 500},
    }


def test_loading_from_a_file_memory_maps_it(tmp_path: Path) -> None:
    # Given a snapshot saved to a file
    rng = np.random.default_rng(3)
    snapshot = make_snapshot(rng)
    path = tmp_path / "snapshot.bin"
    snapshot.save(path)
    # When loaded, Then it answers like the original
    same_answers(snapshot, Snapshot.load(path), rng)


def test_loaded_arrays_are_views_not_copies() -> None:
    snapshot = make_snapshot(np.random.default_rng(4))
    loaded = Snapshot.from_bytes(snapshot.to_bytes())
    assert not loaded.tables["pdq"].codes.flags.owndata


@pytest.mark.parametrize(
    "blob",
    [b"", b"NOTASNAP" + bytes(32), b"HMSNAP\x00\x00" + (99).to_bytes(4, "little") + bytes(12)],
)
def test_garbage_or_unknown_format_is_rejected(blob: bytes) -> None:
    with pytest.raises(SnapshotCorrupt):
        Snapshot.from_bytes(blob)


def header_of(blob: bytes) -> tuple[dict, int]:
    """The JSON header of a snapshot file and the offset where it ends."""
    (length,) = struct.unpack_from("<Q", blob, 16)
    return json.loads(blob[24 : 24 + length]), 24 + length


def test_a_flipped_bit_anywhere_in_the_arrays_is_refused_naming_its_version() -> None:
    # Given an intact snapshot's bytes
    blob = bytearray(make_snapshot(np.random.default_rng(11)).to_bytes())
    _, header_end = header_of(bytes(blob))

    # When one bit of the array region flips (a row's hash: the index would answer wrongly)
    blob[header_end + (len(blob) - header_end) // 2] ^= 0x10

    # Then loading refuses it, and the error still says which version it was
    with pytest.raises(SnapshotCorrupt, match="checksum") as refused:
        Snapshot.from_bytes(bytes(blob))
    assert refused.value.version == 1


def test_a_truncated_snapshot_is_refused() -> None:
    blob = make_snapshot(np.random.default_rng(12)).to_bytes()

    with pytest.raises(SnapshotCorrupt):
        Snapshot.from_bytes(blob[: len(blob) - 64])


def test_an_edited_header_is_refused_even_when_it_still_parses() -> None:
    # Given a snapshot whose header claims another version (valid JSON, same length)
    blob = make_snapshot(np.random.default_rng(13)).to_bytes()
    edited = blob.replace(b'"snapshot_version": 1', b'"snapshot_version": 7', 1)
    assert edited != blob

    with pytest.raises(SnapshotCorrupt, match="checksum"):
        Snapshot.from_bytes(edited)


def test_a_snapshot_without_a_checksum_is_refused() -> None:
    # Given a file as written before snapshots carried a checksum
    blob = make_snapshot(np.random.default_rng(14)).to_bytes()
    header, header_end = header_of(blob)
    del header["checksum"]
    text = json.dumps(header, sort_keys=True).encode().ljust(header_end - 24)
    old_style = blob[:16] + struct.pack("<Q", header_end - 24) + text + blob[header_end:]

    with pytest.raises(SnapshotCorrupt, match="no checksum"):
        Snapshot.from_bytes(old_style)


def test_apply_adds_rows_that_then_match() -> None:
    # Given a snapshot and a new PDQ indicator near an unseen hash
    rng = np.random.default_rng(5)
    snapshot = make_snapshot(rng)
    fresh = pdq_values(rng, 1)[0]
    # When the addition is applied
    updated = snapshot.apply(
        [AddIndicator("pdq", fresh, "NEW1", "new", "image")],
        version=2,
        watermark="w2",
        created_at="t2",
    )
    # Then a query 10 bits away finds it, and the old snapshot does not
    (result,) = updated.search("pdq", [near(fresh, 10, rng)], PDQ_RADIUS)
    assert result.indicator_ids == ["NEW1"]
    assert len(snapshot.search("pdq", [near(fresh, 10, rng)], PDQ_RADIUS)[0]) == 0
    assert (updated.version, updated.watermark) == (2, "w2")


def test_apply_removes_by_id_whatever_the_type() -> None:
    # Given a snapshot with indicators of three types
    rng = np.random.default_rng(6)
    snapshot = make_snapshot(rng)
    target = snapshot.tables["pdq"].codes[7].tobytes()
    target_id = row_id(snapshot, "pdq", 7)
    md5 = hashlib.md5(b"5", usedforsecurity=False).digest()
    # When one PDQ and one md5 indicator are removed by id
    updated = snapshot.apply(
        [RemoveIndicator(target_id), RemoveIndicator(f"M{5:025d}")],
        version=2,
        watermark="w2",
        created_at="t2",
    )
    # Then neither matches any more and the counts drop by one each
    assert target_id not in updated.search("pdq", [target], 0)[0].indicator_ids
    assert len(updated.search("md5", [md5])[0]) == 0
    assert updated.counts()["pdq"] == {"known": 1500, "new": 1499}
    assert updated.counts()["md5"] == {"known": 299}


def test_apply_result_equals_the_oracle_over_the_remaining_rows() -> None:
    # Given a snapshot, 100 removals and 100 additions (some near existing rows)
    rng = np.random.default_rng(7)
    snapshot = make_snapshot(rng)
    table = snapshot.tables["pdq"]
    removed = [RemoveIndicator(row_id(snapshot, "pdq", row)) for row in range(0, 1000, 10)]
    added = [
        AddIndicator("pdq", near(table.codes[i].tobytes(), i % 40, rng), f"A{i}", "new", "image")
        for i in range(100)
    ]
    updated = snapshot.apply([*removed, *added], version=2, watermark="w2", created_at="t2")
    # When searching around existing rows
    queries = [near(table.codes[i].tobytes(), 5, rng) for i in range(0, 100, 7)]
    results = updated.search("pdq", queries, PDQ_RADIUS)
    # Then the answer equals brute force over the updated rows
    new_table = updated.tables["pdq"]
    for query, result in zip(queries, results, strict=True):
        words = np.frombuffer(query, dtype=np.uint64)
        rows, distances = brute_force(new_table.codes, words, 31)
        assert result.indicator_ids == [row_id(updated, "pdq", row) for row in rows.tolist()]
        assert [hit.distance for hit in result.hits] == distances.tolist()
    assert new_table.size == table.size - 100 + 100


def test_last_change_for_an_id_wins() -> None:
    rng = np.random.default_rng(8)
    snapshot = make_snapshot(rng, count=100)
    value = pdq_values(rng, 1)[0]
    add = AddIndicator("pdq", value, "X1", "known", "image")
    removed_then = snapshot.apply(
        [add, RemoveIndicator("X1")], version=2, watermark="w", created_at="t"
    )
    added_then = snapshot.apply(
        [RemoveIndicator("X1"), add], version=2, watermark="w", created_at="t"
    )
    assert len(removed_then.search("pdq", [value], 0)[0]) == 0
    assert added_then.search("pdq", [value], 0)[0].indicator_ids == ["X1"]


def test_re_adding_an_id_replaces_its_row() -> None:
    rng = np.random.default_rng(9)
    snapshot = make_snapshot(rng, count=100)
    old_value = snapshot.tables["pdq"].codes[0].tobytes()
    old_id = row_id(snapshot, "pdq", 0)
    new_value = pdq_values(rng, 1)[0]
    updated = snapshot.apply(
        [AddIndicator("pdq", new_value, old_id, "known", "image")],
        version=2,
        watermark="w",
        created_at="t",
    )
    assert len(updated.search("pdq", [old_value], 0)[0]) == 0
    assert updated.search("pdq", [new_value], 0)[0].indicator_ids == [old_id]
    assert updated.tables["pdq"].size == 100


def test_untouched_types_share_their_arrays() -> None:
    rng = np.random.default_rng(10)
    snapshot = make_snapshot(rng, count=100)
    updated = snapshot.apply(
        [AddIndicator("pdq", pdq_values(rng, 1)[0], "Z", "new", "image")],
        version=2,
        watermark="w",
        created_at="t",
    )
    assert updated.tables["phash"] is snapshot.tables["phash"]


@pytest.mark.parametrize(
    "change",
    [
        AddIndicator("pdq", bytes(31), "A", "known", "image"),
        AddIndicator("nope", bytes(32), "A", "known", "image"),
        AddIndicator("pdq", bytes(32), "A", "unknown-db", "image"),
        AddIndicator("pdq", bytes(32), "A", "known", "audio"),
        AddIndicator("pdq", bytes(32), "X" * 27, "known", "image"),
        RemoveIndicator(""),
    ],
)
def test_bad_changes_are_rejected(change: AddIndicator | RemoveIndicator) -> None:
    snapshot = make_snapshot(np.random.default_rng(11), count=10)
    with pytest.raises(InvalidInput):
        snapshot.apply([change], version=2, watermark="w", created_at="t")


def test_version_must_increase() -> None:
    snapshot = make_snapshot(np.random.default_rng(12), count=10)
    with pytest.raises(InvalidInput):
        snapshot.apply([], version=1, watermark="w", created_at="t")


def test_bad_radius_through_the_snapshot_is_rejected() -> None:
    snapshot = make_snapshot(np.random.default_rng(13), count=10)
    with pytest.raises(InvalidInput):
        snapshot.search("phash", [bytes(8)], 65)


def test_the_kernel_in_use_is_the_one_selected(kernel: str) -> None:
    snapshot = make_snapshot(np.random.default_rng(14), count=50)
    loaded = Snapshot.from_bytes(snapshot.to_bytes())
    for table in (snapshot.tables["pdq"], loaded.tables["pdq"]):
        assert table.index.kernel == kernel  # type: ignore[union-attr]


def version_1_file() -> bytes:
    """A file as format version 1 wrote it: the same preamble, no checksum in the header."""
    header = json.dumps({"snapshot_version": 1, "types": {}, "arrays": {}}).encode()
    return _PREAMBLE.pack(MAGIC, 1, 0, len(header)) + header


def test_an_old_format_file_is_refused_with_a_clear_error() -> None:
    with pytest.raises(SnapshotCorrupt, match=r"format version 1.*reads version 2"):
        Snapshot.from_bytes(version_1_file())


@pytest.mark.parametrize("range_bytes", [4_096, 100_000, 10**9])
def test_ranged_reads_load_the_same_snapshot(range_bytes: int) -> None:
    # Given a snapshot read through a ranged reader (as from S3), in ranges of several sizes
    rng = np.random.default_rng(17)
    snapshot = make_snapshot(rng)
    blob = snapshot.to_bytes()
    reads: list[tuple[int, int]] = []

    def read(offset: int, length: int) -> bytes:
        reads.append((offset, length))
        return blob[offset : offset + length]

    # When loaded, Then it answers like the original, having read every byte once
    loaded = Snapshot.from_ranges(read, len(blob), range_bytes=range_bytes, workers=3)
    same_answers(snapshot, loaded, rng)
    assert sum(length for _, length in reads) == len(blob)


def test_ranged_reads_verify_the_checksum() -> None:
    blob = bytearray(make_snapshot(np.random.default_rng(18), count=100).to_bytes())
    blob[-100] ^= 1
    with pytest.raises(SnapshotCorrupt, match="checksum"):
        Snapshot.from_ranges(lambda o, n: bytes(blob[o : o + n]), len(blob), range_bytes=4_096)


def test_exact_types_are_scoped_to_databases_too() -> None:
    digest = hashlib.md5(b"x", usedforsecurity=False).digest()
    records = [
        AddIndicator("md5", digest, "A", "known", "image"),
        AddIndicator("md5", digest, "B", "solicitation", "image"),
    ]
    snapshot = Snapshot.build(records, version=1, watermark="w", created_at="t")
    (result,) = snapshot.search("md5", [digest], databases={"solicitation"})
    assert result.indicator_ids == ["B"]


def test_removing_an_id_removes_every_row_it_has() -> None:
    # Given a table where one indicator id owns three rows (augmented indicators)
    rng = np.random.default_rng(21)
    pdq = HASH_TYPES["pdq"]
    values = pdq_values(rng, 6)
    ids = np.array([b"X", b"A", b"X", b"B", b"X", b"C"], dtype="S26")
    zeros = np.zeros(6, dtype=np.uint8)
    table = TypeTable.build(pdq, encode_values(pdq, values), ids, zeros, zeros.copy())
    snapshot = Snapshot(1, "w", "t", {"pdq": table})
    # When that id is removed
    updated = snapshot.apply([RemoveIndicator("X")], version=2, watermark="w", created_at="t")
    # Then all three of its rows are gone and the others remain
    assert [row_id(updated, "pdq", row) for row in range(updated.tables["pdq"].size)] == [
        "A",
        "B",
        "C",
    ]
    for value in (values[0], values[2], values[4]):
        assert len(updated.search("pdq", [value], 0)[0]) == 0


def test_applied_tables_equal_a_fresh_build() -> None:
    # Given a snapshot, some removals and additions
    rng = np.random.default_rng(22)
    snapshot = make_snapshot(rng)
    removed = [RemoveIndicator(row_id(snapshot, "pdq", row)) for row in range(0, 3_000, 13)]
    added = [
        AddIndicator("pdq", v, f"A{i}", "new", "image") for i, v in enumerate(pdq_values(rng, 50))
    ]
    updated = snapshot.apply([*removed, *added], version=2, watermark="w", created_at="t")
    # When the same rows are indexed from scratch
    table = updated.tables["pdq"]
    fresh = TypeTable.build(
        table.hash_type, table.codes, table.ids, table.database, table.media_type
    )
    # Then the patched chunk tables are identical
    patched_index, fresh_index = table.index, fresh.index
    np.testing.assert_array_equal(patched_index.tables.rows, fresh_index.tables.rows)  # type: ignore[union-attr]
    np.testing.assert_array_equal(patched_index.tables.offsets, fresh_index.tables.offsets)  # type: ignore[union-attr]


@pytest.mark.parametrize("chunk_bytes", [1_000, 10**9])
def test_a_stream_loads_the_same_snapshot(chunk_bytes: int) -> None:
    # Given a snapshot read as a stream (an S3 GET body) that returns short pieces
    rng = np.random.default_rng(23)
    snapshot = make_snapshot(rng)
    blob = snapshot.to_bytes()
    position = 0

    def read(wanted: int) -> bytes:
        nonlocal position
        piece = blob[position : position + min(wanted, 777)]
        position += len(piece)
        return piece

    # When loaded, Then it answers like the original
    loaded = Snapshot.from_stream(read, len(blob), chunk_bytes=chunk_bytes)
    same_answers(snapshot, loaded, rng)


def test_a_stream_that_ends_early_is_refused() -> None:
    blob = make_snapshot(np.random.default_rng(24), count=100).to_bytes()
    pieces = iter([blob[: len(blob) // 2], b""])
    with pytest.raises(SnapshotCorrupt, match="ended"):
        Snapshot.from_stream(lambda n: next(pieces), len(blob))


def test_a_stream_of_an_old_format_file_is_refused() -> None:
    blob = version_1_file()
    with pytest.raises(SnapshotCorrupt, match="version 1"):
        Snapshot.from_stream(lambda n: blob, len(blob))


def test_a_database_this_snapshot_does_not_hold_scopes_to_nothing() -> None:
    snapshot = make_snapshot(np.random.default_rng(20), count=10)
    value = snapshot.tables["pdq"].codes[0].tobytes()
    assert len(snapshot.search("pdq", [value], 31)[0]) == 1
    assert len(snapshot.search("pdq", [value], 31, databases={"nope"})[0]) == 0
    with pytest.raises(InvalidInput):
        snapshot.search("pdq", [value], 31, databases="known")


# -- scope before the cap (issue 11, item 10) ------------------------------------------------


def crowded_snapshot(rng: np.random.Generator) -> tuple[Snapshot, bytes]:
    """A query with 100 out-of-scope ("new") rows at distance 1 and one "known" at 10."""
    query = pdq_values(rng, 1)[0]
    records = [
        AddIndicator("pdq", near(query, 1, rng), f"N{i:025d}", "new", "image") for i in range(100)
    ]
    records.append(AddIndicator("pdq", near(query, 10, rng), "K" + "0" * 25, "known", "image"))
    records += [
        AddIndicator("pdq", value, f"R{i:025d}", "known", "image")
        for i, value in enumerate(pdq_values(rng, 500))
    ]
    snapshot = Snapshot.build(records, version=1, watermark="w", created_at="t")
    return snapshot, query


def test_out_of_scope_rows_do_not_take_the_places_under_the_cap():
    snapshot, query = crowded_snapshot(np.random.default_rng(11))

    (hits,) = snapshot.search("pdq", [query], PDQ_RADIUS, max_matches=100, databases={"known"})

    assert [(hit.indicator_id, hit.distance) for hit in hits.hits] == [("K" + "0" * 25, 10)]
    assert hits.truncated is False


def test_truncated_counts_only_rows_in_scope():
    snapshot, query = crowded_snapshot(np.random.default_rng(12))

    (scoped,) = snapshot.search("pdq", [query], PDQ_RADIUS, max_matches=50, databases={"new"})
    (everything,) = snapshot.search("pdq", [query], PDQ_RADIUS, max_matches=101)

    assert (len(scoped), scoped.truncated) == (50, True)
    assert {hit.database for hit in scoped.hits} == {"new"}
    assert (len(everything), everything.truncated) == (101, False)


@pytest.mark.parametrize("seed", range(5))
def test_a_scoped_search_answers_as_brute_force_over_the_rows_in_scope(seed):
    rng = np.random.default_rng(seed)
    base = pdq_values(rng, 40)
    records = [
        AddIndicator(
            "pdq",
            near(base[i % 40], int(rng.integers(0, 40)), rng),
            f"P{i:025d}",
            ("known", "new", "solicitation")[int(rng.integers(0, 3))],
            "image",
        )
        for i in range(2_000)
    ]
    snapshot = Snapshot.build(records, version=1, watermark="w", created_at="t")
    table = snapshot.tables["pdq"]
    scope = {"known", "solicitation"}
    cap = 5

    for query in base[:10]:
        (hits,) = snapshot.search("pdq", [query], PDQ_RADIUS, max_matches=cap, databases=scope)
        rows, _ = brute_force(table.codes, np.frombuffer(query, dtype=np.uint64), PDQ_RADIUS)
        expected = [
            row_id(snapshot, "pdq", int(row))
            for row in rows
            if snapshot.databases[table.database[row]] in scope
        ]
        assert hits.indicator_ids == expected[:cap]
        assert hits.truncated == (len(expected) > cap)
