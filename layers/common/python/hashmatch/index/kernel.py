"""Which search kernel the index uses, and the ctypes binding of the compiled one.

Two kernels answer every search identically (the oracle tests run against both):

- ``native``: ``native/hmkernel.c``, built per machine into ``native/libhmkernel.<machine>.so``
  (``make native`` on the host; the Lambda layer cross-builds the aarch64 one). Loaded with
  ctypes from the standard library; ctypes releases the GIL during each call.
- ``numpy``: the pure-numpy code in ``hamming.py``: the fallback, and the reference.

Selection: the ``kernel=`` argument of ``HammingIndex``, else the ``HASHMATCH_INDEX_KERNEL``
environment variable (``auto``, ``native`` or ``numpy``), else ``auto``: native when the
library loads, numpy otherwise. Forcing ``native`` when it does not load raises
``NativeKernelUnavailable``. The choice is logged once per process and outcome.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from hashmatch.errors import InvalidInput

logger = logging.getLogger(__name__)

KERNEL_ENV = "HASHMATCH_INDEX_KERNEL"
KernelName = Literal["native", "numpy"]
KERNEL_CHOICES = ("auto", "native", "numpy")
NATIVE_DIR = Path(__file__).resolve().parent / "native"
# hmkernel.h HM_ABI_VERSION: a library built from other sources is refused.
ABI_VERSION = 1
# Results up to this many go through reusable buffers (two copies, no address lookups); larger
# ones are copied once into fresh arrays: at 72k results per query (a big cluster) the second
# copy and its page faults had cost 0.6 ms per query.
SMALL_RESULTS = 4096

_c_int32 = ctypes.c_int32
_c_int64 = ctypes.c_int64
_ptr = ctypes.c_void_p


class NativeKernelUnavailable(RuntimeError):
    """The native kernel was asked for explicitly but its library does not load here."""


class _Index(ctypes.Structure):
    _fields_ = (
        ("codes", _ptr),
        ("n", _c_int64),
        ("words", _c_int32),
        ("nchunks", _c_int32),
        ("chunk_start", _ptr),
        ("chunk_width", _ptr),
        ("table_base", _ptr),
        ("offsets", _ptr),
        ("rows", _ptr),
    )


class _Plan(ctypes.Structure):
    _fields_ = (
        ("nprobes", _c_int64),
        ("probe_chunk", _ptr),
        ("probe_mask", _ptr),
    )


def address(array: np.ndarray) -> int:
    """The data pointer of an array (about 1.6 us: look it up once per array, not per call)."""
    return int(array.__array_interface__["data"][0])


@dataclass
class NativeIndex:
    """The C view of one index; holds the arrays it points into, so they outlive it."""

    struct: _Index
    keep_alive: tuple[np.ndarray, ...]

    @property
    def address(self) -> int:
        return ctypes.addressof(self.struct)


@dataclass
class NativePlan:
    struct: _Plan
    keep_alive: tuple[np.ndarray, ...]

    @property
    def address(self) -> int:
        return ctypes.addressof(self.struct)


@dataclass(frozen=True)
class NativeAnswer:
    """Results of one hm_search call: per query a count, a truncated and a scanned flag."""

    rows: npt.NDArray[np.int64]
    distances: npt.NDArray[np.int32]
    counts: npt.NDArray[np.int64]
    truncated: npt.NDArray[np.bool_]
    scanned: npt.NDArray[np.bool_]


class _Workspace:
    """One thread's C scratch plus reusable call buffers whose addresses are looked up once
    (searches in one thread never overlap). A single query's call overhead was 38 us with
    fresh arrays per call, most of it address lookups; with these buffers it is a few us."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        self.handle = int(lib.hm_ws_new() or 0)
        if not self.handle:
            raise MemoryError("hm_ws_new")
        self.queries = np.empty(0, dtype=np.uint64)
        self.counts = np.empty(0, dtype=np.int64)
        self.flags = np.empty(0, dtype=np.uint8)
        self.rows = np.empty(0, dtype=np.int64)
        self.distances = np.empty(0, dtype=np.int32)
        self.fit_queries(256, 4)
        self.rows = np.empty(SMALL_RESULTS, dtype=np.int64)
        self.distances = np.empty(SMALL_RESULTS, dtype=np.int32)
        self.rows_at, self.distances_at = address(self.rows), address(self.distances)

    def fit_queries(self, count: int, words: int) -> None:
        if self.queries.shape[0] < count * words:
            self.queries = np.empty(max(count * words, 2 * self.queries.shape[0]), np.uint64)
            self.queries_at = address(self.queries)
        if self.counts.shape[0] < count:
            size = max(count, 2 * self.counts.shape[0])
            self.counts = np.empty(size, dtype=np.int64)
            self.flags = np.empty(2 * size, dtype=np.uint8)
            self.counts_at, self.flags_at = address(self.counts), address(self.flags)

    def __del__(self) -> None:
        if self.handle:
            self._lib.hm_ws_free(self.handle)


class NativeKernel:
    """ctypes binding of hmkernel (see native/hmkernel.h for each function's contract)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        lib = ctypes.CDLL(str(path))
        lib.hm_abi_version.restype = _c_int32
        version = lib.hm_abi_version()
        if version != ABI_VERSION:
            raise OSError(f"{path.name} has ABI {version}, this code needs {ABI_VERSION}")
        lib.hm_ws_new.restype = _ptr
        lib.hm_ws_new.argtypes = ()
        lib.hm_ws_free.restype = None
        lib.hm_ws_free.argtypes = (_ptr,)
        lib.hm_ws_take.restype = None
        lib.hm_ws_take.argtypes = (_ptr, _ptr, _ptr)
        lib.hm_search.restype = _c_int64
        lib.hm_search.argtypes = (
            *(_ptr, _ptr, _ptr, _ptr, _c_int64),  # workspace, index, plan, queries, count
            *(_c_int32, _c_int64, _ptr, _ptr, _c_int64),  # radius, cap, labels, allowed, scan
            *(_ptr, _ptr, _ptr, _ptr, _c_int64),  # counts, flags, rows, distances, capacity
        )
        lib.hm_build_tables.restype = _c_int32
        lib.hm_build_tables.argtypes = (_ptr, _ptr, _ptr)
        lib.hm_update_tables.restype = _c_int32
        lib.hm_update_tables.argtypes = (_ptr, _ptr, _c_int64, _ptr, _c_int64, _ptr, _ptr)
        lib.hm_member_of.restype = _c_int32
        lib.hm_member_of.argtypes = (_ptr, _c_int64, _c_int32, _ptr, _c_int64, _ptr)
        self._lib = lib
        self._local = threading.local()

    def _workspace(self) -> _Workspace:
        ws: _Workspace | None = getattr(self._local, "ws", None)
        if ws is None:
            ws = self._local.ws = _Workspace(self._lib)
        return ws

    # -- structs -------------------------------------------------------------------------------

    @staticmethod
    def index(
        codes: npt.NDArray[np.uint64],
        starts: npt.NDArray[np.int32],
        widths: npt.NDArray[np.int32],
        bases: npt.NDArray[np.int64],
        offsets: npt.NDArray[np.uint32] | None,
        rows: npt.NDArray[np.uint32] | None,
    ) -> NativeIndex:
        arrays = [_c_array(a) for a in (codes, starts, widths, bases)]
        tables = [_c_array(a) for a in (offsets, rows) if a is not None]
        struct = _Index(
            address(arrays[0]),
            codes.shape[0],
            codes.shape[1],
            widths.shape[0],
            address(arrays[1]),
            address(arrays[2]),
            address(arrays[3]),
            address(tables[0]) if tables else None,
            address(tables[1]) if tables else None,
        )
        return NativeIndex(struct, (*arrays, *tables))

    @staticmethod
    def plan(probe_chunk: npt.NDArray[np.int32], probe_mask: npt.NDArray[np.uint32]) -> NativePlan:
        arrays = tuple(_c_array(a) for a in (probe_chunk, probe_mask))
        struct = _Plan(probe_chunk.shape[0], *(address(a) for a in arrays))
        return NativePlan(struct, arrays)

    # -- calls ---------------------------------------------------------------------------------

    def search(
        self,
        index: NativeIndex,
        plan: NativePlan,
        queries: npt.NDArray[np.uint64],
        radius: int,
        max_matches: int,
        labels_at: int | None,
        allowed_at: int | None,
        scan_above: int,
    ) -> NativeAnswer:
        """hm_search; ``labels_at``/``allowed_at`` are addresses (see ``address``) or None."""
        ws = self._workspace()
        count, words = queries.shape
        ws.fit_queries(count, words)
        ws.queries[: count * words] = queries.reshape(-1)
        total = self._lib.hm_search(
            ws.handle,
            index.address,
            plan.address,
            ws.queries_at,
            count,
            radius,
            max_matches,
            labels_at,
            allowed_at,
            scan_above,
            ws.counts_at,
            ws.flags_at,
            ws.rows_at,
            ws.distances_at,
            ws.rows.shape[0],
        )
        if total < 0:
            raise MemoryError("hm_search")
        if total <= SMALL_RESULTS:  # already copied into the reusable buffers
            rows, distances = ws.rows[:total].copy(), ws.distances[:total].copy()
        else:  # copied once, straight into the arrays handed out
            rows = np.empty(total, dtype=np.int64)
            distances = np.empty(total, dtype=np.int32)
            self._lib.hm_ws_take(ws.handle, address(rows), address(distances))
        flags = ws.flags[: 2 * count].view(np.bool_)
        return NativeAnswer(
            rows, distances, ws.counts[:count].copy(), flags[:count].copy(), flags[count:].copy()
        )

    def search_one(
        self,
        index: NativeIndex,
        plan: NativePlan,
        query: npt.NDArray[np.uint64],
        radius: int,
        max_matches: int,
        labels_at: int | None,
        allowed_at: int | None,
        scan_above: int,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], bool]:
        """``search`` for one query (words,): fewer array operations (measured: 10.3 us of
        Python per call through ``search``, docs/matching.md)."""
        ws = self._workspace()
        ws.queries[: query.shape[0]] = query
        total = self._lib.hm_search(
            ws.handle,
            index.address,
            plan.address,
            ws.queries_at,
            1,
            radius,
            max_matches,
            labels_at,
            allowed_at,
            scan_above,
            ws.counts_at,
            ws.flags_at,
            ws.rows_at,
            ws.distances_at,
            SMALL_RESULTS,
        )
        if total < 0:
            raise MemoryError("hm_search")
        if total <= SMALL_RESULTS:
            return ws.rows[:total].copy(), ws.distances[:total].copy(), bool(ws.flags[0])
        rows = np.empty(total, dtype=np.int64)
        distances = np.empty(total, dtype=np.int32)
        self._lib.hm_ws_take(ws.handle, address(rows), address(distances))
        return rows, distances, bool(ws.flags[0])

    def build_tables(
        self, index: NativeIndex, offsets_size: int
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
        struct = index.struct
        offsets = np.empty(offsets_size, dtype=np.uint32)
        rows = np.empty(struct.n * struct.nchunks, dtype=np.uint32)
        if self._lib.hm_build_tables(ctypes.byref(struct), address(offsets), address(rows)):
            raise MemoryError("hm_build_tables")
        return offsets, rows

    def update_tables(
        self,
        index: NativeIndex,
        offsets_size: int,
        removed: npt.NDArray[np.int64],
        added: npt.NDArray[np.uint64],
    ) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint32]]:
        struct = index.struct
        removed = _c_array(removed.astype(np.int64, copy=False))
        added = _c_array(added)
        size = struct.n - removed.shape[0] + added.shape[0]
        offsets = np.empty(offsets_size, dtype=np.uint32)
        rows = np.empty(size * struct.nchunks, dtype=np.uint32)
        status = self._lib.hm_update_tables(
            ctypes.byref(struct),
            address(removed),
            removed.shape[0],
            address(added),
            added.shape[0],
            address(offsets),
            address(rows),
        )
        if status:
            raise MemoryError("hm_update_tables")
        return offsets, rows

    def member_of(
        self, ids: npt.NDArray[np.bytes_], wanted: npt.NDArray[np.bytes_]
    ) -> npt.NDArray[np.bool_]:
        """``ids[i] in wanted`` for fixed-width byte ids of the same width."""
        if ids.dtype != wanted.dtype:
            raise InvalidInput("ids and wanted ids must have the same width")
        ids = _c_array(ids)
        wanted = _c_array(wanted)
        out = np.empty(ids.shape[0], dtype=np.uint8)
        status = self._lib.hm_member_of(
            address(ids),
            ids.shape[0],
            ids.dtype.itemsize,
            address(wanted),
            wanted.shape[0],
            address(out),
        )
        if status:
            raise MemoryError("hm_member_of")
        return out.view(np.bool_)


def _c_array(array: np.ndarray) -> np.ndarray:
    """C-contiguous and aligned (C reads whole words): a copy only when the input is neither."""
    return np.require(array, requirements=("C", "A"))


# Linux madvise(2) advice: collapse the range's pages into transparent huge pages now (6.1+).
MADV_COLLAPSE = 25
HUGE_PAGE = 2 * 2**20


@cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        libc.madvise.restype = ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def collapse_to_huge_pages(buffer: bytes | bytearray | memoryview) -> bool:
    """Ask Linux to back ``buffer``'s whole 2 MB pages with transparent huge pages, in place.

    The index reads its arrays at random, and with 4 KB pages nearly every read misses the
    TLB: measured at 10M PDQ, a snapshot loaded from a ``bytes`` object answered 3,975 q/s
    (batch), the same snapshot in a huge-page buffer 9,112 q/s, and after this call 7,900 q/s
    (collapsing 1.2 GB took 1.05 s CPU, no extra memory). Returns False where the kernel
    (< 6.1), the platform or the memory (a file mapping) does not allow it; nothing changes then.
    """
    libc = _libc()
    view = memoryview(buffer)
    if libc is None or view.nbytes < HUGE_PAGE or platform.system() != "Linux":
        return False
    start = address(np.frombuffer(view, dtype=np.uint8))
    first = -(-start // HUGE_PAGE) * HUGE_PAGE
    last = (start + view.nbytes) // HUGE_PAGE * HUGE_PAGE
    return last > first and libc.madvise(first, last - first, MADV_COLLAPSE) == 0


def library_path(machine: str | None = None) -> Path:
    return NATIVE_DIR / f"libhmkernel.{machine or platform.machine()}.so"


@cache
def _load_native() -> tuple[NativeKernel | None, str]:
    """The native kernel and where it came from, or None and why it did not load."""
    path = library_path()
    if not path.is_file():
        return None, f"{path} not found (build it with `make native`)"
    try:
        return NativeKernel(path), str(path)
    except OSError as error:
        return None, f"{path} did not load: {error}"


def native_kernel() -> NativeKernel | None:
    """The loaded native kernel, or None when its library is absent or does not load."""
    return _load_native()[0]


def native_unavailable_reason() -> str | None:
    kernel, where = _load_native()
    return None if kernel else where


@cache
def _log_choice(chosen: KernelName, requested: str, detail: str) -> None:
    logger.info("hashmatch.index search kernel: %s (requested %s; %s)", chosen, requested, detail)


def choose_kernel(requested: str | None = None) -> KernelName:
    """Resolve ``requested`` (or $HASHMATCH_INDEX_KERNEL, or ``auto``) to a usable kernel."""
    choice = requested or os.environ.get(KERNEL_ENV) or "auto"
    if choice not in KERNEL_CHOICES:
        raise InvalidInput(f"kernel must be one of {', '.join(KERNEL_CHOICES)}, got {choice!r}")
    if choice == "numpy":
        _log_choice("numpy", choice, "forced")
        return "numpy"
    kernel, where = _load_native()
    if kernel is None:
        if choice == "native":
            raise NativeKernelUnavailable(where)
        _log_choice("numpy", choice, where)
        return "numpy"
    _log_choice("native", choice, where)
    return "native"
