/* hmkernel: see hmkernel.h. Why each step looks the way it does: docs/matching.md. */
#include "hmkernel.h"

#include <stdlib.h>
#include <string.h>

/* How many probes, buckets or candidates ahead a software prefetch is issued. Random reads are
 * latency-bound (~14 ns each on the test VM); prefetching this far ahead keeps enough misses in
 * flight. Measured at 1M/10M PDQ (docs/matching.md, "Native kernel"). */
#ifndef HM_PREFETCH_AHEAD
#define HM_PREFETCH_AHEAD 128
#endif
/* Average rows per probed non-empty bucket above which a query is taken to be inside a cluster
 * (its candidates mostly repeat across chunks). Uniform PDQ averages 1.2 (1M) to 3.8 (10M) rows
 * per non-empty bucket; a query in a cluster of thousands, hundreds to thousands. */
#define HM_LONG_BUCKETS 16
/* Keys below this count are insertion-sorted (a radix pass costs 2^11 histogram slots). */
#define HM_SMALL_SORT 48
#define HM_RADIX_BITS 11
#define HM_RADIX_SIZE (1 << HM_RADIX_BITS)

#define HM_INLINE static inline __attribute__((always_inline))

typedef struct {
    int32_t radius;
    int64_t max_matches;
    const uint8_t *labels;
    const uint8_t *allowed;
    int64_t scan_above;
} hm_opts;
#define HM_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 1)

struct hm_ws {
    int64_t *keys;
    int64_t keys_cap;
    uint32_t *range_start;
    uint32_t *range_len;
    int64_t ranges_cap;
    uint32_t *cand;
    int64_t cand_cap;
    uint64_t *hits;
    uint64_t *sort_tmp;
    int64_t hits_cap;
    int64_t *out_rows;
    int32_t *out_dist;
    int64_t out_len;
    int64_t out_cap;
    uint64_t *seen; /* one bit per row: all zero between queries */
    int64_t seen_words;
};

int32_t hm_abi_version(void) { return HM_ABI_VERSION; }

hm_ws *hm_ws_new(void) { return (hm_ws *)calloc(1, sizeof(hm_ws)); }

void hm_ws_free(hm_ws *ws) {
    if (!ws) return;
    free(ws->keys);
    free(ws->range_start);
    free(ws->range_len);
    free(ws->cand);
    free(ws->hits);
    free(ws->sort_tmp);
    free(ws->out_rows);
    free(ws->out_dist);
    free(ws->seen);
    free(ws);
}

void hm_ws_take(const hm_ws *ws, int64_t *rows, int32_t *distances) {
    if (ws->out_len) {
        memcpy(rows, ws->out_rows, (size_t)ws->out_len * sizeof(int64_t));
        memcpy(distances, ws->out_dist, (size_t)ws->out_len * sizeof(int32_t));
    }
}

/* Grow *p (of *cap elements of `size` bytes) to hold at least `need`; 0 on success. */
static int grow(void **p, int64_t *cap, int64_t need, size_t size) {
    if (need <= *cap) return 0;
    int64_t next = *cap ? *cap : 256;
    while (next < need) next *= 2;
    void *q = realloc(*p, (size_t)next * size);
    if (!q) return -1;
    *p = q;
    *cap = next;
    return 0;
}

/* Several arrays share one capacity: grow each, then set the shared capacity. */
static int grow_many(int64_t *cap, int64_t need, int count, void **ptrs[], const size_t sizes[]) {
    if (need <= *cap) return 0;
    int64_t next = *cap ? *cap : 256;
    while (next < need) next *= 2;
    for (int i = 0; i < count; i++) {
        void *q = realloc(*ptrs[i], (size_t)next * sizes[i]);
        if (!q) return -1;
        *ptrs[i] = q;
    }
    *cap = next;
    return 0;
}

static int ensure_seen(hm_ws *ws, int64_t rows) {
    int64_t words = (rows + 63) / 64;
    if (words <= ws->seen_words) return 0;
    uint64_t *bits = (uint64_t *)calloc((size_t)words, sizeof(uint64_t));
    if (!bits) return -1;
    free(ws->seen); /* all zero: nothing to carry over */
    ws->seen = bits;
    ws->seen_words = words;
    return 0;
}

static int ensure_hits(hm_ws *ws, int64_t need) {
    void **ptrs[] = {(void **)&ws->hits, (void **)&ws->sort_tmp};
    const size_t sizes[] = {sizeof(uint64_t), sizeof(uint64_t)};
    return grow_many(&ws->hits_cap, need, 2, ptrs, sizes);
}

HM_INLINE uint32_t chunk_value(const uint64_t *code, int32_t start, int32_t width) {
    int32_t word = start >> 6, shift = start & 63;
    uint64_t v = code[word] >> shift;
    if (shift + width > 64) v |= code[word + 1] << (64 - shift);
    return (uint32_t)(v & ((UINT64_C(1) << width) - 1));
}

/* A row may straddle two cache lines (numpy's large arrays start 16 bytes into a page, and a
 * snapshot buffer can start anywhere): prefetch both ends. With only the first line prefetched,
 * the load of word 2 stalled on 63% of the verify loop's samples (perf, 10M PDQ). */
HM_INLINE void prefetch_row(const uint64_t *codes, uint32_t row, int32_t words) {
    const uint64_t *code = codes + (int64_t)row * words;
    HM_PREFETCH(code);
    if (words > 1) HM_PREFETCH(code + words - 1);
}

HM_INLINE int32_t distance(const uint64_t *a, const uint64_t *b, int32_t words) {
    int32_t d = 0;
    for (int32_t w = 0; w < words; w++) d += __builtin_popcountll(a[w] ^ b[w]);
    return d;
}

static int32_t bit_length(uint64_t x) { return x ? 64 - __builtin_clzll(x) : 0; }

/* -- ordering ----------------------------------------------------------------------------- */

static void insertion_sort(uint64_t *keys, int64_t n) {
    for (int64_t i = 1; i < n; i++) {
        uint64_t k = keys[i];
        int64_t j = i - 1;
        while (j >= 0 && keys[j] > k) {
            keys[j + 1] = keys[j];
            j--;
        }
        keys[j + 1] = k;
    }
}

/* Stable LSD radix sort of keys on bits [low, high); digits on which every key agrees are
 * skipped. Keys are (distance << row_bits) | row: low = 0 orders by (distance, row); low =
 * row_bits orders by distance only and keeps the incoming order within a distance (a scan
 * already produces rows ascending). */
static void sort_keys(uint64_t *keys, uint64_t *tmp, int64_t n, int32_t low, int32_t high) {
    if (n < 2) return;
    if (n < HM_SMALL_SORT) {
        /* Sorting whole keys is right for both uses: scan hits ascend by row already. */
        insertion_sort(keys, n);
        return;
    }
    static const int32_t max_digits = (64 + HM_RADIX_BITS - 1) / HM_RADIX_BITS;
    int32_t digits = (high - low + HM_RADIX_BITS - 1) / HM_RADIX_BITS;
    if (digits > max_digits) digits = max_digits;
    uint64_t *src = keys, *dst = tmp;
    for (int32_t d = 0; d < digits; d++) {
        int32_t shift = low + d * HM_RADIX_BITS;
        int64_t count[HM_RADIX_SIZE] = {0};
        for (int64_t i = 0; i < n; i++) count[(src[i] >> shift) & (HM_RADIX_SIZE - 1)]++;
        if (count[(src[0] >> shift) & (HM_RADIX_SIZE - 1)] == n) continue;
        int64_t sum = 0;
        for (int32_t b = 0; b < HM_RADIX_SIZE; b++) {
            int64_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (int64_t i = 0; i < n; i++) dst[count[(src[i] >> shift) & (HM_RADIX_SIZE - 1)]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != keys) memcpy(keys, src, (size_t)n * sizeof(uint64_t));
}

/* Keep the nearest max_matches of ws->hits[0..nh) in (distance, row) order and append them to
 * the output. `ordered_rows`: the hits already ascend by row (scan). */
static int emit(hm_ws *ws, int64_t nh, int64_t max_matches, int32_t row_bits, int ordered_rows,
                int64_t *count_out, uint8_t *truncated_out) {
    uint64_t *hits = ws->hits;
    int64_t keep = nh;
    if (nh > max_matches) {
        /* Only the hits up to the distance at which max_matches is reached need sorting. */
        int64_t per_distance[257] = {0};
        for (int64_t i = 0; i < nh; i++) per_distance[hits[i] >> row_bits]++;
        int64_t cum = 0;
        int32_t cut = 0;
        for (; cut < 257; cut++) {
            cum += per_distance[cut];
            if (cum >= max_matches) break;
        }
        uint64_t limit = ((uint64_t)(cut + 1)) << row_bits;
        int64_t j = 0;
        for (int64_t i = 0; i < nh; i++)
            if (hits[i] < limit) hits[j++] = hits[i];
        keep = j;
    }
    sort_keys(hits, ws->sort_tmp, keep, ordered_rows ? row_bits : 0, row_bits + 9);
    int64_t out = keep < max_matches ? keep : max_matches;
    void **ptrs[] = {(void **)&ws->out_rows, (void **)&ws->out_dist};
    const size_t sizes[] = {sizeof(int64_t), sizeof(int32_t)};
    if (grow_many(&ws->out_cap, ws->out_len + out, 2, ptrs, sizes)) return -1;
    uint64_t row_mask = (UINT64_C(1) << row_bits) - 1;
    int64_t *rows = ws->out_rows + ws->out_len;
    int32_t *dist = ws->out_dist + ws->out_len;
    for (int64_t i = 0; i < out; i++) {
        rows[i] = (int64_t)(hits[i] & row_mask);
        dist[i] = (int32_t)(hits[i] >> row_bits);
    }
    ws->out_len += out;
    *count_out = out;
    *truncated_out = nh > max_matches;
    return 0;
}

/* -- search ------------------------------------------------------------------------------- */

/* Rows scanned between capacity checks: the inner loop then has no branch on the data. */
#define HM_SCAN_BLOCK 4096

/* Every allowed row within the radius, by a linear scan (rows ascending). Each row's key is
 * written and the count advanced by 0 or 1: no branch to mispredict. In a big cluster ~7% of
 * rows match, at random, and the branching loop took 2.4 ms per 1M rows instead of 1.7. */
HM_INLINE int64_t scan_one(hm_ws *ws, const hm_index *ix, const uint64_t *q, const hm_opts *o,
                           int32_t words, int32_t row_bits) {
    const uint64_t *code = ix->codes;
    const int32_t radius = o->radius;
    int64_t nh = 0;
    for (int64_t start = 0; start < ix->n; start += HM_SCAN_BLOCK) {
        int64_t end = start + HM_SCAN_BLOCK < ix->n ? start + HM_SCAN_BLOCK : ix->n;
        if (ensure_hits(ws, nh + HM_SCAN_BLOCK)) return -1;
        uint64_t *hits = ws->hits;
        if (o->labels) {
            for (int64_t i = start; i < end; i++, code += words) {
                int32_t d = distance(code, q, words);
                hits[nh] = ((uint64_t)d << row_bits) | (uint64_t)i;
                nh += (d <= radius) & (o->allowed[o->labels[i]] != 0);
            }
        } else {
            for (int64_t i = start; i < end; i++, code += words) {
                int32_t d = distance(code, q, words);
                hits[nh] = ((uint64_t)d << row_bits) | (uint64_t)i;
                nh += d <= radius;
            }
        }
    }
    return nh;
}

/* A bucket's rows, both ends (a short bucket can straddle two lines; longer ones stream). */
HM_INLINE void prefetch_range(const uint32_t *rows, const hm_ws *ws, int64_t r) {
    const uint32_t *first = rows + ws->range_start[r];
    HM_PREFETCH(first);
    HM_PREFETCH(first + ws->range_len[r] - 1);
}

/* Verify the k gathered candidates (ws->cand): one random read of the hash per distinct one.
 * A bit per row marks the rows this query has verified, so a row reached through several
 * chunks is fetched and compared once (in a cluster of near-duplicates most candidates are the
 * same rows found through each of the m chunks); mih_one clears the marks. Checking instead
 * whether an earlier chunk reaches the row (no memory, up to m - 1 chunk comparisons per hit)
 * was slower on clustered data. */
HM_INLINE int64_t verify(hm_ws *ws, const hm_index *ix, const uint64_t *q, const hm_opts *o,
                         int64_t k, int32_t words, int32_t row_bits, const int dup_likely) {
    const uint64_t *codes = ix->codes;
    const uint32_t *cand = ws->cand;
    const int32_t radius = o->radius;
    uint64_t *hits = ws->hits, *seen = ws->seen;
    int64_t nh = 0;
    for (int64_t j = 0; j < k && j < HM_PREFETCH_AHEAD; j++) prefetch_row(codes, cand[j], words);
    for (int64_t j = 0; j < k; j++) {
        if (j + HM_PREFETCH_AHEAD < k) {
            uint32_t ahead = cand[j + HM_PREFETCH_AHEAD];
            if (!dup_likely) {
                HM_PREFETCH(seen + (ahead >> 6));
                prefetch_row(codes, ahead, words);
            } else if (!(seen[ahead >> 6] & (UINT64_C(1) << (ahead & 63)))) {
                prefetch_row(codes, ahead, words);
            }
        }
        uint32_t row = cand[j];
        uint64_t bit = UINT64_C(1) << (row & 63);
        if (seen[row >> 6] & bit) continue;
        seen[row >> 6] |= bit;
        int32_t d = distance(codes + (int64_t)row * words, q, words);
        if (d > radius) continue;
        if (o->labels && !o->allowed[o->labels[row]]) continue;
        hits[nh++] = ((uint64_t)d << row_bits) | row;
    }
    return nh;
}

/* Multi-index hashing for one query. Returns the hit count, -1 when out of memory, or -2 when
 * the candidates exceed o->scan_above (the caller scans instead). */
HM_INLINE int64_t mih_one(hm_ws *ws, const hm_index *ix, const hm_plan *plan, const uint64_t *q,
                          const hm_opts *o, int32_t words, int32_t row_bits) {
    const int64_t probes = plan->nprobes;
    const int32_t m = ix->nchunks;
    uint32_t qc[256];
    for (int32_t c = 0; c < m; c++) qc[c] = chunk_value(q, ix->chunk_start[c], ix->chunk_width[c]);
    if (grow((void **)&ws->keys, &ws->keys_cap, probes, sizeof(int64_t))) return -1;
    {
        void **ptrs[] = {(void **)&ws->range_start, (void **)&ws->range_len};
        const size_t sizes[] = {sizeof(uint32_t), sizeof(uint32_t)};
        if (grow_many(&ws->ranges_cap, probes, 2, ptrs, sizes)) return -1;
    }
    int64_t *keys = ws->keys;
    for (int64_t p = 0; p < probes; p++) {
        int32_t c = plan->probe_chunk[p];
        keys[p] = ix->table_base[c] + (int64_t)(qc[c] ^ plan->probe_mask[p]);
    }
    /* 1. Bucket boundaries: one random read per probe, prefetched ahead. */
    const uint32_t *offsets = ix->offsets;
    for (int64_t p = 0; p < probes && p < HM_PREFETCH_AHEAD; p++) HM_PREFETCH(offsets + keys[p]);
    int64_t nranges = 0, total = 0;
    for (int64_t p = 0; p < probes; p++) {
        if (p + HM_PREFETCH_AHEAD < probes) HM_PREFETCH(offsets + keys[p + HM_PREFETCH_AHEAD]);
        uint32_t s = offsets[keys[p]], e = offsets[keys[p] + 1];
        if (e > s) {
            ws->range_start[nranges] = s;
            ws->range_len[nranges] = e - s;
            nranges++;
            total += e - s;
        }
    }
    if (o->scan_above >= 0 && total > o->scan_above) return -2;
    /* 2. Candidate rows: one random read per non-empty bucket. */
    if (grow((void **)&ws->cand, &ws->cand_cap, total, sizeof(uint32_t))) return -1;
    if (ensure_hits(ws, total)) return -1;
    const uint32_t *rows = ix->rows;
    uint32_t *cand = ws->cand;
    int64_t k = 0;
    for (int64_t r = 0; r < nranges && r < HM_PREFETCH_AHEAD; r++) prefetch_range(rows, ws, r);
    for (int64_t r = 0; r < nranges; r++) {
        if (r + HM_PREFETCH_AHEAD < nranges) prefetch_range(rows, ws, r + HM_PREFETCH_AHEAD);
        const uint32_t *src = rows + ws->range_start[r];
        uint32_t len = ws->range_len[r];
        for (uint32_t i = 0; i < len; i++) cand[k++] = src[i];
    }
    /* 3. Verify (see verify()). */
    if (ensure_seen(ws, ix->n)) return -1;
    /* Prefetching ahead: when buckets are short (uniform data) nearly every candidate is new,
     * so its mark and its hash are both prefetched; reading the mark there instead, a plain
     * load into a bitmap larger than L2 (1.25 MB at 10M), stalled the loop (10M batch q/s
     * 5,151 -> 7,339). When buckets are long (a cluster), most candidates were seen through an
     * earlier chunk: the mark is tested before prefetching the hash (clustered 1M: 6-16%
     * faster than prefetching every hash). Two copies of the loop, one per case. */
    int64_t nh = k > HM_LONG_BUCKETS * nranges
                     ? verify(ws, ix, q, o, k, words, row_bits, 1)
                     : verify(ws, ix, q, o, k, words, row_bits, 0);
    uint32_t *seen_cand = ws->cand;
    uint64_t *seen = ws->seen;
    /* Clear the marks: bit by bit, or the whole bitmap when that touches fewer bytes. */
    if (k > (ix->n + 63) / 64) {
        memset(seen, 0, (size_t)((ix->n + 63) / 64) * sizeof(uint64_t));
    } else {
        for (int64_t j = 0; j < k; j++) seen[seen_cand[j] >> 6] &= ~(UINT64_C(1) << (seen_cand[j] & 63));
    }
    return nh;
}

HM_INLINE int64_t search_words(hm_ws *ws, const hm_index *ix, const hm_plan *plan,
                               const uint64_t *queries, int64_t nq, const hm_opts *o,
                               int64_t *counts, uint8_t *truncated, uint8_t *scanned,
                               int32_t words) {
    int32_t row_bits = bit_length((uint64_t)(ix->n > 1 ? ix->n - 1 : 1));
    ws->out_len = 0;
    for (int64_t q = 0; q < nq; q++) {
        const uint64_t *query = queries + q * words;
        int64_t nh = -2;
        if (plan->nprobes > 0 && o->scan_above >= 0 && ix->n > 0)
            nh = mih_one(ws, ix, plan, query, o, words, row_bits);
        if (nh == -1) return -1;
        scanned[q] = nh == -2;
        if (nh == -2) nh = scan_one(ws, ix, query, o, words, row_bits);
        if (nh < 0) return -1;
        if (emit(ws, nh, o->max_matches, row_bits, scanned[q], counts + q, truncated + q)) return -1;
    }
    return ws->out_len;
}

int64_t hm_search(hm_ws *ws, const hm_index *ix, const hm_plan *plan, const uint64_t *queries,
                  int64_t nq, int32_t radius, int64_t max_matches, const uint8_t *labels,
                  const uint8_t *allowed, int64_t scan_above, int64_t *counts, uint8_t *flags,
                  int64_t *rows, int32_t *distances, int64_t cap) {
    const hm_opts o = {radius, max_matches, labels, allowed, scan_above};
    uint8_t *truncated = flags, *scanned = flags + nq;
    int64_t total;
    /* The common widths get their own copies with the word loop unrolled. */
    switch (ix->words) {
        case 4: total = search_words(ws, ix, plan, queries, nq, &o, counts, truncated, scanned, 4); break;
        case 1: total = search_words(ws, ix, plan, queries, nq, &o, counts, truncated, scanned, 1); break;
        default:
            total = search_words(ws, ix, plan, queries, nq, &o, counts, truncated, scanned, ix->words);
    }
    if (total >= 0 && total <= cap) hm_ws_take(ws, rows, distances);
    return total;
}

/* -- building and updating the tables ------------------------------------------------------ */

/* A stable sort of rows by chunk value in cache-sized steps (a plain counting sort writes each
 * row to a random place in a 40 MB segment at 10M rows: 3.8 s for 12 chunks; this: see
 * docs/matching.md). First every chunk's values are computed in one pass over the hashes, into
 * the rows table itself (segment c holds chunk c's values). Then per chunk: rows are scattered
 * by the high half of their value into 2^hi runs (2^hi write streams fit in L2), and each run
 * (n / 2^hi rows: ~40 KB at 10M) is counting-sorted by the low half straight into its place,
 * which also yields the run's bucket boundaries in order. Both steps keep row order within a
 * value, so the sort is stable. Returns 0, or -1 when memory ran out. */
int32_t hm_build_tables(const hm_index *ix, uint32_t *offsets, uint32_t *rows) {
    const int64_t n = ix->n;
    const int32_t words = ix->words, m = ix->nchunks;
    const uint64_t *code = ix->codes;
    for (int64_t i = 0; i < n; i++, code += words)
        for (int32_t c = 0; c < m; c++)
            rows[(int64_t)c * n + i] = chunk_value(code, ix->chunk_start[c], ix->chunk_width[c]);
    uint64_t *runs = (uint64_t *)malloc((size_t)(n ? n : 1) * sizeof(uint64_t));
    int64_t *count = (int64_t *)malloc((((size_t)1 << 13) + 2) * sizeof(int64_t)); /* 2 x (2^12 + 1) */
    if (!runs || !count) {
        free(runs);
        free(count);
        return -1;
    }
    for (int32_t c = 0; c < m; c++) {
        const int32_t width = ix->chunk_width[c], lo = width / 2, hi = width - lo;
        const int64_t high_buckets = INT64_C(1) << hi, low_buckets = INT64_C(1) << lo;
        uint32_t *segment = rows + (int64_t)c * n;
        uint32_t *off = offsets + ix->table_base[c];
        const uint32_t base = (uint32_t)((int64_t)c * n);
        /* 1. Scatter (value, row) by the high part of the value. */
        memset(count, 0, (size_t)(high_buckets + 1) * sizeof(int64_t));
        for (int64_t i = 0; i < n; i++) count[(segment[i] >> lo) + 1]++;
        for (int64_t b = 1; b <= high_buckets; b++) count[b] += count[b - 1];
        for (int64_t i = 0; i < n; i++) {
            uint32_t v = segment[i];
            runs[count[v >> lo]++] = ((uint64_t)v << 32) | (uint64_t)i;
        }
        /* 2. Each run in order: counting sort by the low part, writing rows and boundaries. */
        int64_t run_start = 0;
        for (int64_t b = 0; b < high_buckets; b++) {
            const int64_t run_end = count[b];
            int64_t *low = count + high_buckets + 1; /* scratch after the high counts */
            memset(low, 0, (size_t)(low_buckets + 1) * sizeof(int64_t));
            for (int64_t j = run_start; j < run_end; j++) low[((runs[j] >> 32) & (uint64_t)(low_buckets - 1)) + 1]++;
            for (int64_t l = 1; l <= low_buckets; l++) low[l] += low[l - 1];
            for (int64_t l = 0; l < low_buckets; l++) off[(b << lo) + l] = base + (uint32_t)(run_start + low[l]);
            for (int64_t j = run_start; j < run_end; j++) {
                uint64_t key = runs[j];
                segment[run_start + low[(key >> 32) & (uint64_t)(low_buckets - 1)]++] = (uint32_t)key;
            }
            run_start = run_end;
        }
        off[(int64_t)1 << width] = base + (uint32_t)n;
    }
    free(runs);
    free(count);
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int32_t hm_update_tables(const hm_index *old, const int64_t *removed, int64_t nremoved,
                         const uint64_t *added, int64_t nadded, uint32_t *offsets,
                         uint32_t *rows) {
    const int64_t n = old->n, kept = n - nremoved, new_n = kept + nadded;
    const int32_t words = old->words;
    /* Renumbering through a per-64-row table: removed-before count and removed-bit mask. It is
     * n / 64 * 12 bytes (1.9 MB at 10M rows), so it stays in cache while each chunk's rows are
     * mapped; a full n-entry renumbering array (40 MB) would miss on every row. */
    const int64_t blocks = (n + 63) / 64;
    uint64_t *mask = (uint64_t *)calloc((size_t)(blocks ? blocks : 1), sizeof(uint64_t));
    uint32_t *before = (uint32_t *)malloc((size_t)(blocks ? blocks : 1) * sizeof(uint32_t));
    uint64_t *removed_values = (uint64_t *)malloc((size_t)(nremoved ? nremoved : 1) * sizeof(uint64_t));
    uint64_t *added_values = (uint64_t *)malloc((size_t)(nadded ? nadded : 1) * sizeof(uint64_t));
    if (!mask || !before || !removed_values || !added_values) {
        free(mask);
        free(before);
        free(removed_values);
        free(added_values);
        return -1;
    }
    for (int64_t j = 0; j < nremoved; j++) mask[removed[j] >> 6] |= UINT64_C(1) << (removed[j] & 63);
    uint32_t running = 0;
    for (int64_t b = 0; b < blocks; b++) {
        before[b] = running;
        running += (uint32_t)__builtin_popcountll(mask[b]);
    }
    for (int32_t c = 0; c < old->nchunks; c++) {
        const int32_t start = old->chunk_start[c], width = old->chunk_width[c];
        const int64_t buckets = INT64_C(1) << width;
        const uint32_t *old_off = old->offsets + old->table_base[c];
        const uint32_t *old_rows = old->rows + (int64_t)c * n;
        uint32_t *off = offsets + old->table_base[c];
        uint32_t *out = rows + (int64_t)c * new_n;
        const int64_t old_base = (int64_t)c * n, new_base = (int64_t)c * new_n;
        for (int64_t j = 0; j < nremoved; j++)
            removed_values[j] = chunk_value(old->codes + removed[j] * words, start, width);
        for (int64_t j = 0; j < nadded; j++)
            added_values[j] = ((uint64_t)chunk_value(added + j * words, start, width) << 32) | (uint64_t)j;
        qsort(removed_values, (size_t)nremoved, sizeof(uint64_t), cmp_u64);
        qsort(added_values, (size_t)nadded, sizeof(uint64_t), cmp_u64);
        /* New boundary of bucket v: old one, minus removed rows below v, plus added rows below v. */
        int64_t ir = 0, ia = 0;
        for (int64_t v = 0; v <= buckets; v++) {
            while (ir < nremoved && (int64_t)removed_values[ir] < v) ir++;
            while (ia < nadded && (int64_t)(added_values[ia] >> 32) < v) ia++;
            off[v] = (uint32_t)(new_base + ((int64_t)old_off[v] - old_base) - ir + ia);
        }
        /* Survivors keep their order (renumbered), each added row goes at its bucket's end. */
        int64_t pos = 0, w = 0;
        for (int64_t a = 0; a <= nadded; a++) {
            int64_t end = a < nadded ? (int64_t)old_off[(added_values[a] >> 32) + 1] - old_base : n;
            for (; pos < end; pos++) {
                uint32_t r = old_rows[pos];
                uint64_t bits = mask[r >> 6];
                uint32_t bit = r & 63;
                if ((bits >> bit) & 1) continue;
                out[w++] = r - before[r >> 6] - (uint32_t)__builtin_popcountll(bits & ((UINT64_C(1) << bit) - 1));
            }
            if (a < nadded) out[w++] = (uint32_t)(kept + (int64_t)(added_values[a] & 0xFFFFFFFFu));
        }
    }
    free(mask);
    free(before);
    free(removed_values);
    free(added_values);
    return 0;
}

/* -- ids ---------------------------------------------------------------------------------- */

/* Ids are hashed 8 bytes at a time (multiply-xorshift mixing); byte-at-a-time FNV-1a took
 * 1.2-1.4 s for 10M 26-byte ids under load, a multiply chain of 26 steps per id. */
static uint64_t hash_bytes(const uint8_t *p, int32_t width) {
    uint64_t h = UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)width;
    int32_t i = 0;
    for (; i + 8 <= width; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * UINT64_C(0xBF58476D1CE4E5B9);
        h ^= h >> 31;
    }
    uint64_t tail = 0;
    memcpy(&tail, p + i, (size_t)(width - i));
    h = (h ^ tail) * UINT64_C(0x94D049BB133111EB);
    return h ^ (h >> 29);
}

int32_t hm_member_of(const uint8_t *ids, int64_t n, int32_t width, const uint8_t *wanted,
                     int64_t k, uint8_t *out) {
    /* Open addressing at load <= 1/2: an absent id (almost every row) probes ~1.5 slots. */
    int64_t size = 2;
    while (size < 2 * k) size *= 2;
    int64_t *slots = (int64_t *)malloc((size_t)size * sizeof(int64_t));
    if (!slots) return -1;
    for (int64_t s = 0; s < size; s++) slots[s] = -1;
    for (int64_t j = 0; j < k; j++) {
        int64_t s = (int64_t)(hash_bytes(wanted + j * width, width) & (uint64_t)(size - 1));
        while (slots[s] >= 0) s = (s + 1) & (size - 1);
        slots[s] = j;
    }
    for (int64_t i = 0; i < n; i++) {
        const uint8_t *id = ids + i * width;
        int64_t s = (int64_t)(hash_bytes(id, width) & (uint64_t)(size - 1));
        uint8_t found = 0;
        while (slots[s] >= 0) {
            if (memcmp(wanted + slots[s] * width, id, (size_t)width) == 0) {
                found = 1;
                break;
            }
            s = (s + 1) & (size - 1);
        }
        out[i] = found;
    }
    free(slots);
    return 0;
}
