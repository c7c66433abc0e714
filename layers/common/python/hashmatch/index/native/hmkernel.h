/* hmkernel: the compiled search kernel of hashmatch.index (docs/matching.md, "Native kernel").
 *
 * Exact Hamming-radius search over fixed-width binary hashes stored as n rows of `words` uint64:
 * multi-index hashing (probe the per-chunk CSR tables, verify with XOR + popcount) and a linear
 * scan, plus the table builder and the incremental table update. Loaded from Python with ctypes
 * (hashmatch/index/kernel.py); the numpy code in hamming.py is the reference it is tested
 * against. All pointers are caller-owned except the workspace's output buffers.
 */
#ifndef HMKERNEL_H
#define HMKERNEL_H

#include <stdint.h>

/* Bumped whenever a struct or a signature below changes; kernel.py refuses any other value. */
#define HM_ABI_VERSION 1

/* One index: the hashes and the chunk tables (layout: hamming.py, ChunkTables). */
typedef struct {
    const uint64_t *codes;       /* n x words */
    int64_t n;
    int32_t words;
    int32_t nchunks;
    const int32_t *chunk_start;  /* first bit of chunk c (bit p = bit p % 64 of word p / 64) */
    const int32_t *chunk_width;  /* bits of chunk c, at most 24 */
    const int64_t *table_base;   /* index in `offsets` of chunk c's first bucket boundary */
    const uint32_t *offsets;     /* per chunk 2^width + 1 boundaries, positions in `rows` */
    const uint32_t *rows;        /* per chunk the n row numbers in bucket order */
} hm_index;

/* The probes for one radius: every (chunk, XOR mask) pair. nprobes == 0 means "always scan". */
typedef struct {
    int64_t nprobes;
    const int32_t *probe_chunk;
    const uint32_t *probe_mask;
} hm_plan;

typedef struct hm_ws hm_ws; /* per-thread scratch and output buffers */

int32_t hm_abi_version(void);
hm_ws *hm_ws_new(void);
void hm_ws_free(hm_ws *ws);

/* Search nq queries (nq x words uint64) within `radius`. Rows whose label (labels[row], when
 * labels is not NULL) has allowed[label] == 0 are skipped, before the cap. A query whose bucket
 * sizes add up to more than scan_above candidates is answered by the scan (scan_above < 0:
 * always scan). Per query: counts[q] results (the nearest max_matches allowed rows, by distance
 * then row), flags[q] = 1 when more allowed rows matched (truncated), flags[nq + q] = 1 when
 * it was answered by the scan. Returns the total result count, or -1 when memory ran out. The
 * results are copied to rows/distances when the total is at most `cap`; otherwise they stay in
 * the workspace until hm_ws_take (or the next search). */
int64_t hm_search(hm_ws *ws, const hm_index *ix, const hm_plan *plan, const uint64_t *queries,
                  int64_t nq, int32_t radius, int64_t max_matches, const uint8_t *labels,
                  const uint8_t *allowed, int64_t scan_above, int64_t *counts, uint8_t *flags,
                  int64_t *rows, int32_t *distances, int64_t cap);

/* Copy the last search's results (rows int64, distances int32) out of the workspace. */
void hm_ws_take(const hm_ws *ws, int64_t *rows, int32_t *distances);

/* Build the chunk tables of ix (codes, n, words, chunks, starts, widths, bases are read; offsets
 * and rows are written): a stable sort per chunk, so rows ascend within a bucket. Returns 0,
 * or -1 when memory ran out. */
int32_t hm_build_tables(const hm_index *ix, uint32_t *offsets, uint32_t *rows);

/* Tables of (old rows minus `removed`, renumbered densely) followed by `added` rows, from the
 * old tables without re-sorting; identical to hm_build_tables over the new rows. `removed` is
 * ascending and unique. Returns 0, or -1 when memory ran out. */
int32_t hm_update_tables(const hm_index *old, const int64_t *removed, int64_t nremoved,
                         const uint64_t *added, int64_t nadded, uint32_t *offsets,
                         uint32_t *rows);

/* out[i] = 1 when ids[i] (width bytes) equals one of the k `wanted` ids, else 0.
 * Returns 0, or -1 when memory ran out. */
int32_t hm_member_of(const uint8_t *ids, int64_t n, int32_t width, const uint8_t *wanted,
                     int64_t k, uint8_t *out);

#endif
