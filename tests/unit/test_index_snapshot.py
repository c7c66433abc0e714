"""Snapshots: round trip through bytes and files, metadata, and incremental apply().

Every test runs with both search kernels (selected through HASHMATCH_INDEX_KERNEL).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from hashmatch.errors import InvalidInput
from hashmatch.index import (
    AddIndicator,
    RemoveIndicator,
    Snapshot,
    TypeTable,
    brute_force,
    encode_values,
)
from hashmatch.index.kernel import KERNEL_ENV
from hashmatch.index.snapshot import _PREAMBLE, DEFAULT_SPECS, MAGIC
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
            np.testing.assert_array_equal(a.rows, b.rows)
            np.testing.assert_array_equal(a.distances, b.distances)
            assert left.ids_of(hash_type, a.rows) == right.ids_of(hash_type, b.rows)


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
    with pytest.raises(InvalidInput):
        Snapshot.from_bytes(blob)


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
    assert updated.ids_of("pdq", result.rows) == ["NEW1"]
    assert len(snapshot.search("pdq", [near(fresh, 10, rng)], PDQ_RADIUS)[0]) == 0
    assert (updated.version, updated.watermark) == (2, "w2")


def test_apply_removes_by_id_whatever_the_type() -> None:
    # Given a snapshot with indicators of three types
    rng = np.random.default_rng(6)
    snapshot = make_snapshot(rng)
    target = snapshot.tables["pdq"].codes[7].tobytes()
    target_id = snapshot.ids_of("pdq", np.array([7]))[0]
    md5 = hashlib.md5(b"5", usedforsecurity=False).digest()
    # When one PDQ and one md5 indicator are removed by id
    updated = snapshot.apply(
        [RemoveIndicator(target_id), RemoveIndicator(f"M{5:025d}")],
        version=2,
        watermark="w2",
        created_at="t2",
    )
    # Then neither matches any more and the counts drop by one each
    assert target_id not in updated.ids_of("pdq", updated.search("pdq", [target], 0)[0].rows)
    assert len(updated.search("md5", [md5])[0]) == 0
    assert updated.counts()["pdq"] == {"known": 1500, "new": 1499}
    assert updated.counts()["md5"] == {"known": 299}


def test_apply_result_equals_the_oracle_over_the_remaining_rows() -> None:
    # Given a snapshot, 100 removals and 100 additions (some near existing rows)
    rng = np.random.default_rng(7)
    snapshot = make_snapshot(rng)
    table = snapshot.tables["pdq"]
    removed = [RemoveIndicator(i) for i in snapshot.ids_of("pdq", np.arange(0, 1000, 10))]
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
        np.testing.assert_array_equal(result.rows, brute_force(new_table.codes, words, 31)[0])
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
    assert added_then.ids_of("pdq", added_then.search("pdq", [value], 0)[0].rows) == ["X1"]


def test_re_adding_an_id_replaces_its_row() -> None:
    rng = np.random.default_rng(9)
    snapshot = make_snapshot(rng, count=100)
    old_value = snapshot.tables["pdq"].codes[0].tobytes()
    old_id = snapshot.ids_of("pdq", np.array([0]))[0]
    new_value = pdq_values(rng, 1)[0]
    updated = snapshot.apply(
        [AddIndicator("pdq", new_value, old_id, "known", "image")],
        version=2,
        watermark="w",
        created_at="t",
    )
    assert len(updated.search("pdq", [old_value], 0)[0]) == 0
    assert updated.ids_of("pdq", updated.search("pdq", [new_value], 0)[0].rows) == [old_id]
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
    with pytest.raises(InvalidInput, match=r"format version 1.*reads version 2"):
        Snapshot.from_bytes(version_1_file())


def test_a_corrupt_payload_fails_its_checksum() -> None:
    # Given a snapshot file with one payload byte flipped
    blob = bytearray(make_snapshot(np.random.default_rng(15), count=100).to_bytes())
    blob[-100] ^= 1
    # When loaded, Then the checksum catches it (and can be skipped on request)
    with pytest.raises(InvalidInput, match="checksum"):
        Snapshot.from_bytes(bytes(blob))
    Snapshot.from_bytes(bytes(blob), verify=False)


def test_a_truncated_file_is_refused() -> None:
    blob = make_snapshot(np.random.default_rng(16), count=100).to_bytes()
    with pytest.raises(InvalidInput, match="truncated"):
        Snapshot.from_bytes(blob[:-64])


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
    with pytest.raises(InvalidInput, match="checksum"):
        Snapshot.from_ranges(lambda o, n: bytes(blob[o : o + n]), len(blob), range_bytes=4_096)


def test_search_within_databases_skips_other_rows_before_the_cap() -> None:
    # Given PDQ rows alternating between the known and new databases, queried at their own hash
    rng = np.random.default_rng(19)
    snapshot = make_snapshot(rng)
    table = snapshot.tables["pdq"]
    queries = [table.codes[i].tobytes() for i in range(10)]
    # When only "new" may be seen
    results = snapshot.search("pdq", queries, PDQ_RADIUS, databases={"new"})
    # Then every match is a "new" row, and the answer equals the oracle over "new" rows
    new_code = snapshot.databases.index("new")
    for query, result in zip(queries, results, strict=True):
        words = np.frombuffer(query, dtype=np.uint64)
        rows, _ = brute_force(
            table.codes, words, PDQ_RADIUS, labels=table.database, allowed=1 << new_code
        )
        np.testing.assert_array_equal(result.rows, rows)
        assert set(table.database[result.rows].tolist()) <= {new_code}


def test_the_database_scope_applies_before_max_matches() -> None:
    # Given 5 copies of one hash in "known", then 2 copies in "new"
    value = bytes(range(32))
    records = [AddIndicator("pdq", value, f"K{i}", "known", "image") for i in range(5)]
    records += [AddIndicator("pdq", value, f"N{i}", "new", "image") for i in range(2)]
    snapshot = Snapshot.build(records, version=1, watermark="w", created_at="t")
    # When a client who may only see "new" asks for at most 2 matches
    (result,) = snapshot.search("pdq", [value], 0, max_matches=2, databases=["new"])
    # Then it gets both "new" rows, not truncated (the "known" rows do not take up the cap)
    assert sorted(snapshot.ids_of("pdq", result.rows)) == ["N0", "N1"]
    assert not result.truncated


def test_exact_types_are_scoped_to_databases_too() -> None:
    digest = hashlib.md5(b"x", usedforsecurity=False).digest()
    records = [
        AddIndicator("md5", digest, "A", "known", "image"),
        AddIndicator("md5", digest, "B", "solicitation", "image"),
    ]
    snapshot = Snapshot.build(records, version=1, watermark="w", created_at="t")
    (result,) = snapshot.search("md5", [digest], databases={"solicitation"})
    assert snapshot.ids_of("md5", result.rows) == ["B"]


@pytest.mark.parametrize("databases", [{"nope"}, "known"])
def test_unknown_databases_are_rejected(databases: object) -> None:
    snapshot = make_snapshot(np.random.default_rng(20), count=10)
    with pytest.raises(InvalidInput):
        snapshot.search("pdq", [bytes(32)], 31, databases=databases)  # type: ignore[arg-type]


def test_removing_an_id_removes_every_row_it_has() -> None:
    # Given a table where one indicator id owns three rows (augmented indicators)
    rng = np.random.default_rng(21)
    spec = DEFAULT_SPECS["pdq"]
    values = pdq_values(rng, 6)
    ids = np.array([b"X", b"A", b"X", b"B", b"X", b"C"], dtype="S26")
    zeros = np.zeros(6, dtype=np.uint8)
    table = TypeTable.build(spec, encode_values(spec, values), ids, zeros, zeros.copy())
    snapshot = Snapshot(1, "w", "t", {"pdq": table})
    # When that id is removed
    updated = snapshot.apply([RemoveIndicator("X")], version=2, watermark="w", created_at="t")
    # Then all three of its rows are gone and the others remain
    assert updated.ids_of("pdq", np.arange(updated.tables["pdq"].size)) == ["A", "B", "C"]
    for value in (values[0], values[2], values[4]):
        assert len(updated.search("pdq", [value], 0)[0]) == 0


def test_applied_tables_equal_a_fresh_build() -> None:
    # Given a snapshot, some removals and additions
    rng = np.random.default_rng(22)
    snapshot = make_snapshot(rng)
    removed = [RemoveIndicator(i) for i in snapshot.ids_of("pdq", np.arange(0, 3_000, 13))]
    added = [
        AddIndicator("pdq", v, f"A{i}", "new", "image") for i, v in enumerate(pdq_values(rng, 50))
    ]
    updated = snapshot.apply([*removed, *added], version=2, watermark="w", created_at="t")
    # When the same rows are indexed from scratch
    table = updated.tables["pdq"]
    fresh = TypeTable.build(table.spec, table.codes, table.ids, table.database, table.media_type)
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
    with pytest.raises(InvalidInput, match="ended"):
        Snapshot.from_stream(lambda n: next(pieces), len(blob))


def test_a_stream_of_an_old_format_file_is_refused() -> None:
    blob = version_1_file()
    with pytest.raises(InvalidInput, match="version 1"):
        Snapshot.from_stream(lambda n: blob, len(blob))
