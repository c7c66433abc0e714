"""Choosing the search kernel: native when its library loads, numpy otherwise, or as forced."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from hashmatch.errors import InvalidInput
from hashmatch.index import HammingIndex
from hashmatch.index import kernel as kernel_module
from hashmatch.index.kernel import (
    KERNEL_ENV,
    NativeKernelUnavailable,
    choose_kernel,
    collapse_to_huge_pages,
    library_path,
)
from tests.unit.test_index_hamming import KERNELS

CODES = np.arange(400, dtype=np.uint64).reshape(100, 4)


@pytest.fixture
def no_native_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a machine where the library was never built."""
    monkeypatch.setattr(kernel_module, "_load_native", lambda: (None, "libhmkernel not found"))


@pytest.fixture(autouse=True)
def default_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KERNEL_ENV, raising=False)
    kernel_module._log_choice.cache_clear()


@pytest.mark.parametrize("kernel", KERNELS)
def test_the_environment_variable_selects_the_kernel(
    kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KERNEL_ENV, kernel)
    assert HammingIndex(CODES, 256).kernel == kernel


@pytest.mark.parametrize("kernel", KERNELS)
def test_the_constructor_argument_wins_over_the_environment(
    kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KERNEL_ENV, "numpy" if kernel == "native" else "native")
    assert HammingIndex(CODES, 256, kernel=kernel).kernel == kernel


@pytest.mark.usefixtures("no_native_library")
def test_auto_falls_back_to_numpy_when_the_library_is_missing() -> None:
    assert HammingIndex(CODES, 256).kernel == "numpy"
    assert HammingIndex(CODES, 256, kernel="auto").kernel == "numpy"


@pytest.mark.usefixtures("no_native_library")
def test_forcing_native_without_the_library_is_an_error() -> None:
    with pytest.raises(NativeKernelUnavailable, match="not found"):
        HammingIndex(CODES, 256, kernel="native")


def test_an_unknown_kernel_name_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidInput):
        choose_kernel("fortran")
    monkeypatch.setenv(KERNEL_ENV, "gpu")
    with pytest.raises(InvalidInput):
        choose_kernel()


@pytest.mark.usefixtures("no_native_library")
def test_the_choice_and_its_reason_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="hashmatch.index.kernel"):
        HammingIndex(CODES, 256)
    assert "search kernel: numpy" in caplog.text
    assert "libhmkernel not found" in caplog.text


def test_the_library_is_named_after_the_machine() -> None:
    assert library_path("aarch64").name == "libhmkernel.aarch64.so"
    assert library_path("aarch64").parent.name == "native"


def test_collapsing_to_huge_pages_keeps_the_bytes() -> None:
    # Given a buffer of several 2 MB pages (or one too small to have a whole one)
    big = bytes(range(256)) * (5 * 2**20 // 256)
    small = b"x" * 1000
    # When its pages are collapsed (where the kernel allows it), Then its contents are unchanged
    collapse_to_huge_pages(big)
    assert big == bytes(range(256)) * (5 * 2**20 // 256)
    assert not collapse_to_huge_pages(small)
