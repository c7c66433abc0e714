"""`hashmatch hash`: JSON lines per file, per-file errors, exit status."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from hashmatch_client.cli import hash_command
from hashmatch_client.cli.main import command_entry_points
from tests.unit.test_imaging import encode, photo_like, png_header_only


def run_hash(argv: list[str]) -> tuple[int, list[dict[str, object]]]:
    parser = argparse.ArgumentParser(prog="hashmatch")
    hash_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["hash", *argv])
    out = io.StringIO()
    status = hash_command.run(args, out=out)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.fixture
def good_folder(tmp_path: Path) -> Path:
    (tmp_path / "nested").mkdir()
    (tmp_path / "a.png").write_bytes(encode(photo_like(seed=1), "PNG"))
    (tmp_path / "nested" / "b.JPG").write_bytes(encode(photo_like(seed=2), "JPEG"))
    (tmp_path / "notes.txt").write_text("not an image, and not picked up from a folder")
    return tmp_path


def test_command_is_registered_in_main() -> None:
    assert "hashmatch_client.cli.hash_command" in {entry.value for entry in command_entry_points()}


def test_folder_is_walked_recursively_for_images_only(good_folder: Path) -> None:
    status, records = run_hash([str(good_folder)])

    assert status == 0
    assert [Path(str(r["path"])).name for r in records] == ["a.png", "b.JPG"]
    first = records[0]
    assert set(first) == {
        "path",
        "pdq",
        "phash",
        "dhash",
        "md5",
        "sha1",
        "sha256",
        "pdq_quality",
        "width",
        "height",
    }
    assert (first["width"], first["height"], first["pdq_quality"]) == (320, 240, 100)


def test_bad_files_get_their_own_error_and_the_rest_is_hashed(good_folder: Path) -> None:
    # Given a folder with two good images and every kind of bad file
    jpeg = encode(photo_like(seed=3), "JPEG")
    bad = {
        "empty.jpg": b"",
        "truncated.jpg": jpeg[: len(jpeg) // 2],
        "text.jpg": b"just some text\n",
        "bomb.png": png_header_only(50_000, 50_000),
        "huge.png": encode(Image.new("1", (10_000, 10_000), 1), "PNG"),
    }
    for name, data in bad.items():
        (good_folder / name).write_bytes(data)

    # When
    status, records = run_hash([str(good_folder)])

    # Then every file has one line, the bad ones an error each, and the exit status says so
    by_name = {Path(str(r["path"])).name: r for r in records}
    assert status == 1
    assert set(by_name) == {"a.png", "b.JPG", *bad}
    assert "pdq" in by_name["a.png"]
    assert "pdq" in by_name["b.JPG"]
    assert by_name["empty.jpg"]["error"] == "empty file (0 bytes)"
    assert "truncated" in str(by_name["truncated.jpg"]["error"])
    assert "not a supported image" in str(by_name["text.jpg"]["error"])
    assert "decompression bomb" in str(by_name["bomb.png"]["error"])
    assert "100,000,000 pixels, over the limit" in str(by_name["huge.png"]["error"])
    for name in bad:
        assert set(by_name[name]) == {"path", "error"}


def test_explicit_file_of_any_name_is_hashed(tmp_path: Path) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(encode(photo_like(), "PNG"))

    status, records = run_hash([str(path), "--types", "pdq"])

    assert status == 0
    assert records[0]["path"] == str(path)
    assert len(str(records[0]["pdq"])) == 64


def test_missing_path_is_an_error_line(tmp_path: Path) -> None:
    status, records = run_hash([str(tmp_path / "nope.jpg")])
    assert status == 1
    assert "No such file" in str(records[0]["error"])


def test_types_choose_the_hashes(good_folder: Path) -> None:
    _, records = run_hash([str(good_folder / "a.png"), "--types", "md5,PDQ"])
    assert set(records[0]) == {"path", "md5", "pdq", "pdq_quality", "width", "height"}


def test_unknown_type_is_a_usage_error(good_folder: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        run_hash([str(good_folder), "--types", "pdq,ahash"])
    assert caught.value.code == 2


def test_dihedral_adds_eight_pdq_hashes(good_folder: Path) -> None:
    _, records = run_hash([str(good_folder / "a.png"), "--types", "pdq", "--dihedral"])
    dihedral = records[0]["pdq_dihedral"]
    assert isinstance(dihedral, list)
    assert len(dihedral) == 8
    assert dihedral[0] == records[0]["pdq"]


def test_reference_resize_changes_pdq_of_large_images_only(tmp_path: Path) -> None:
    # Given a large and a small image
    (tmp_path / "large.png").write_bytes(encode(photo_like(1200, 900), "PNG"))
    (tmp_path / "small.png").write_bytes(encode(photo_like(300, 200), "PNG"))

    # When hashed with and without the reference tool's pre-step
    _, plain = run_hash([str(tmp_path), "--types", "pdq"])
    _, resized = run_hash([str(tmp_path), "--types", "pdq", "--reference-resize"])

    # Then only the large image's hash can change, and its reported size does not
    assert plain[1]["pdq"] == resized[1]["pdq"]
    assert (resized[0]["width"], resized[0]["height"]) == (1200, 900)


def test_limits_can_be_set(good_folder: Path) -> None:
    status, records = run_hash([str(good_folder / "a.png"), "--max-pixels", "1000"])
    assert status == 1
    assert "over the limit of 1,000 pixels" in str(records[0]["error"])
    _, records = run_hash([str(good_folder / "a.png"), "--max-bytes", "10"])
    assert "over the limit of 10 bytes" in str(records[0]["error"])


def test_defaults_match_the_library() -> None:
    from hashmatch_client.imaging import DEFAULT_MAX_IMAGE_BYTES, DEFAULT_MAX_PIXELS

    parser = argparse.ArgumentParser()
    hash_command.register(parser.add_subparsers())
    args = parser.parse_args(["hash", "x"])
    assert (args.max_pixels, args.max_bytes) == (DEFAULT_MAX_PIXELS, DEFAULT_MAX_IMAGE_BYTES)


def test_no_progress_bar_when_stderr_is_not_a_terminal(
    good_folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_hash([str(good_folder)])
    assert capsys.readouterr().err == ""


def test_rotations_and_trim_borders_add_alternates_to_the_record(tmp_path: Path) -> None:
    # Given a padded photo
    padded = Image.new("RGB", (400, 300), (0, 0, 0))
    padded.paste(photo_like(320, 240, seed=4), (40, 30))
    (tmp_path / "padded.png").write_bytes(encode(padded, "PNG"))

    # When hashed with both options
    status, (line,) = run_hash(
        [str(tmp_path / "padded.png"), "--types", "pdq,phash", "--rotations", "--trim-borders"]
    )

    # Then PDQ has 7 rotations and a trimmed hash, pHash its trimmed hash
    assert status == 0
    alternates = line["alternates"]
    assert isinstance(alternates, dict)
    assert len(alternates["pdq"]) == 8
    assert len(alternates["phash"]) == 1
