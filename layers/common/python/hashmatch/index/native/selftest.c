/* Self-test of hmkernel against a brute-force oracle, with no Python: built for each target
 * (host, and aarch64 run under qemu-aarch64) by native/Makefile `selftest`. Exits 0 when every
 * answer equals the oracle's, 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmkernel.h"

static uint64_t state = 0x9E3779B97F4A7C15u;
static uint64_t next_random(void) { /* xorshift64* */
    state ^= state >> 12;
    state ^= state << 25;
    state ^= state >> 27;
    return state * 0x2545F4914F6CDD1Du;
}

static int failures = 0;
#define CHECK(cond, ...)                  \
    do {                                  \
        if (!(cond)) {                    \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr);          \
            failures++;                   \
        }                                 \
    } while (0)

static void flip(uint64_t *code, int words, int count) {
    for (int i = 0; i < count; i++) {
        int bit = (int)(next_random() % (uint64_t)(words * 64));
        code[bit / 64] ^= 1ull << (bit % 64);
    }
}

static int distance(const uint64_t *a, const uint64_t *b, int words) {
    int d = 0;
    for (int w = 0; w < words; w++) d += __builtin_popcountll(a[w] ^ b[w]);
    return d;
}

typedef struct {
    int32_t chunk_start[64], chunk_width[64], sub_radius[64];
    int64_t table_base[65];
    int32_t *probe_chunk;
    uint32_t *probe_mask;
    int64_t nprobes, cap;
} plan_buf;

static void add_masks(plan_buf *p, int chunk, int width, int radius, uint32_t mask, int from) {
    if (p->nprobes == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->probe_chunk = realloc(p->probe_chunk, (size_t)p->cap * sizeof(int32_t));
        p->probe_mask = realloc(p->probe_mask, (size_t)p->cap * sizeof(uint32_t));
    }
    p->probe_chunk[p->nprobes] = chunk;
    p->probe_mask[p->nprobes] = mask;
    p->nprobes++;
    if (radius == 0) return;
    for (int b = from; b < width; b++) add_masks(p, chunk, width, radius - 1, mask | (1u << b), b + 1);
}

/* Chunks of near-equal width and sub-radii with sum(r_c + 1) >= radius + 1 (pigeonhole). */
static void make_plan(plan_buf *p, int bits, int chunks, int radius) {
    memset(p->sub_radius, 0xff, sizeof p->sub_radius);
    int start = 0;
    p->table_base[0] = 0;
    for (int c = 0; c < chunks; c++) {
        int width = bits / chunks + (c < bits % chunks);
        p->chunk_start[c] = start;
        p->chunk_width[c] = width;
        p->table_base[c + 1] = p->table_base[c] + (1 << width) + 1;
        start += width;
    }
    for (int k = 0; k <= radius; k++) p->sub_radius[k % chunks]++;
    p->nprobes = 0;
    for (int c = 0; c < chunks; c++)
        if (p->sub_radius[c] >= 0) add_masks(p, c, p->chunk_width[c], p->sub_radius[c], 0, 0);
}

/* One workspace for every search, as a thread uses it: state left by one query (the per-row
 * marks) must not change the next query's answer. */
static hm_ws *shared_ws;

static int cmp_pair(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    if (x[1] != y[1]) return (x[1] > y[1]) - (x[1] < y[1]);
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Compare one search against the oracle: allowed rows within radius, (distance, row) order. */
static void check_search(const char *what, const hm_index *ix, const plan_buf *pb, const uint64_t *q,
                         int radius, int64_t max_matches, const uint8_t *labels, const uint8_t *allowed,
                         int64_t scan_above) {
    hm_plan plan = {pb->nprobes, pb->probe_chunk, pb->probe_mask};
    hm_ws *ws = shared_ws;
    int64_t count;
    uint8_t flags[2];
    int64_t total = hm_search(ws, ix, &plan, q, 1, radius, max_matches, labels, allowed, scan_above,
                              &count, flags, NULL, NULL, 0);
    uint8_t truncated = flags[0];
    int64_t *rows = malloc((size_t)(total + 1) * sizeof(int64_t));
    int32_t *dist = malloc((size_t)(total + 1) * sizeof(int32_t));
    hm_ws_take(ws, rows, dist);
    int64_t *truth = malloc((size_t)(ix->n + 1) * 2 * sizeof(int64_t));
    int64_t nt = 0;
    for (int64_t i = 0; i < ix->n; i++) {
        int d = distance(ix->codes + i * ix->words, q, ix->words);
        if (d <= radius && (!labels || allowed[labels[i]])) {
            truth[2 * nt] = i;
            truth[2 * nt + 1] = d;
            nt++;
        }
    }
    qsort(truth, (size_t)nt, 2 * sizeof(int64_t), cmp_pair);
    int64_t expect = nt < max_matches ? nt : max_matches;
    CHECK(total == expect && count == expect, "%s: %lld results, oracle %lld", what, (long long)total,
          (long long)expect);
    CHECK(truncated == (nt > max_matches), "%s: truncated flag %d, oracle %lld rows", what, truncated,
          (long long)nt);
    for (int64_t i = 0; i < expect && i < total; i++)
        CHECK(rows[i] == truth[2 * i] && dist[i] == truth[2 * i + 1], "%s: result %lld is (%lld, %d), oracle (%lld, %lld)",
              what, (long long)i, (long long)rows[i], dist[i], (long long)truth[2 * i], (long long)truth[2 * i + 1]);
    free(truth);
    free(rows);
    free(dist);
}

static hm_index make_index(const uint64_t *codes, int64_t n, int words, plan_buf *pb, int chunks,
                           uint32_t **offsets, uint32_t **rows) {
    hm_index ix = {codes, n, words, chunks, pb->chunk_start, pb->chunk_width, pb->table_base, NULL, NULL};
    *offsets = malloc((size_t)pb->table_base[chunks] * sizeof(uint32_t));
    *rows = malloc((size_t)(n * chunks + 1) * sizeof(uint32_t));
    hm_build_tables(&ix, *offsets, *rows);
    ix.offsets = *offsets;
    ix.rows = *rows;
    return ix;
}

static void run_width(int bits, int chunks, int radius, int64_t n) {
    const int words = bits / 64;
    uint64_t *codes = malloc((size_t)n * words * sizeof(uint64_t));
    uint8_t *labels = malloc((size_t)n);
    for (int64_t i = 0; i < n * words; i++) codes[i] = next_random();
    /* A fifth of the rows are near-duplicates of four centres (clusters), at most 2*radius away. */
    for (int64_t i = 0; i < n / 5; i++) {
        int64_t row = (int64_t)(next_random() % (uint64_t)n);
        memcpy(codes + row * words, codes + (i % 4) * words, (size_t)words * sizeof(uint64_t));
        flip(codes + row * words, words, (int)(next_random() % (uint64_t)(radius + 3)));
    }
    for (int64_t i = 0; i < n; i++) labels[i] = (uint8_t)(next_random() % 3);
    uint8_t allowed[256] = {0};
    allowed[0] = allowed[2] = 1;
    plan_buf pb = {0};
    make_plan(&pb, bits, chunks, radius);
    uint32_t *offsets, *rows;
    hm_index ix = make_index(codes, n, words, &pb, chunks, &offsets, &rows);
    char what[128];
    for (int t = 0; t < 40; t++) {
        uint64_t q[4];
        if (t % 2) {
            memcpy(q, codes + (int64_t)(next_random() % (uint64_t)n) * words, (size_t)words * sizeof(uint64_t));
            flip(q, words, (int)(next_random() % (uint64_t)(radius + 1)));
        } else {
            for (int w = 0; w < words; w++) q[w] = next_random();
        }
        snprintf(what, sizeof what, "%d-bit query %d, MIH", bits, t);
        check_search(what, &ix, &pb, q, radius, 1000000000, NULL, NULL, n);
        snprintf(what, sizeof what, "%d-bit query %d, scan", bits, t);
        check_search(what, &ix, &pb, q, radius, 1000000000, NULL, NULL, -1);
        snprintf(what, sizeof what, "%d-bit query %d, labels", bits, t);
        check_search(what, &ix, &pb, q, radius, 1000000000, labels, allowed, n);
        snprintf(what, sizeof what, "%d-bit query %d, capped", bits, t);
        check_search(what, &ix, &pb, q, radius, 3, labels, allowed, n);
        snprintf(what, sizeof what, "%d-bit query %d, capped scan", bits, t);
        check_search(what, &ix, &pb, q, radius, 3, labels, allowed, -1);
        snprintf(what, sizeof what, "%d-bit query %d, MIH again after the filtered ones", bits, t);
        check_search(what, &ix, &pb, q, radius, 1000000000, NULL, NULL, n);
    }
    /* Drop every 7th row, add 50 rows: the patched tables equal a fresh build. */
    int64_t nremoved = 0, *removed = malloc((size_t)n * sizeof(int64_t));
    for (int64_t i = 0; i < n; i += 7) removed[nremoved++] = i;
    int64_t nadded = 50, new_n = n - nremoved + nadded;
    uint64_t *added = malloc((size_t)nadded * words * sizeof(uint64_t));
    for (int64_t i = 0; i < nadded * words; i++) added[i] = next_random();
    memcpy(added, codes + 3 * words, (size_t)words * sizeof(uint64_t)); /* a duplicate bucket */
    uint64_t *new_codes = malloc((size_t)new_n * words * sizeof(uint64_t));
    int64_t w = 0;
    for (int64_t i = 0; i < n; i++)
        if (i % 7) memcpy(new_codes + (w++) * words, codes + i * words, (size_t)words * sizeof(uint64_t));
    memcpy(new_codes + w * words, added, (size_t)nadded * words * sizeof(uint64_t));
    uint32_t *patched_offsets = malloc((size_t)pb.table_base[chunks] * sizeof(uint32_t));
    uint32_t *patched_rows = malloc((size_t)new_n * chunks * sizeof(uint32_t));
    CHECK(hm_update_tables(&ix, removed, nremoved, added, nadded, patched_offsets, patched_rows) == 0, "update failed");
    uint32_t *fresh_offsets, *fresh_rows;
    make_index(new_codes, new_n, words, &pb, chunks, &fresh_offsets, &fresh_rows);
    CHECK(memcmp(patched_offsets, fresh_offsets, (size_t)pb.table_base[chunks] * sizeof(uint32_t)) == 0,
          "%d-bit: patched offsets differ from a fresh build", bits);
    CHECK(memcmp(patched_rows, fresh_rows, (size_t)new_n * chunks * sizeof(uint32_t)) == 0,
          "%d-bit: patched rows differ from a fresh build", bits);
    free(codes), free(labels), free(offsets), free(rows), free(removed), free(added), free(new_codes);
    free(patched_offsets), free(patched_rows), free(fresh_offsets), free(fresh_rows);
    free(pb.probe_chunk), free(pb.probe_mask);
}

static void run_member_of(void) {
    const int width = 26;
    const int64_t n = 5000, k = 40;
    uint8_t *ids = calloc((size_t)n, width), *wanted = calloc((size_t)k, width), *out = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) snprintf((char *)ids + i * width, width, "ind_%lld", (long long)(i % 4000));
    for (int64_t j = 0; j < k; j++) snprintf((char *)wanted + j * width, width, "ind_%lld", (long long)(j * 97));
    hm_member_of(ids, n, width, wanted, k, out);
    for (int64_t i = 0; i < n; i++) {
        int64_t id = i % 4000;
        int expect = id % 97 == 0 && id / 97 < k;
        CHECK(out[i] == expect, "member_of: row %lld says %d", (long long)i, out[i]);
    }
    free(ids), free(wanted), free(out);
}

int main(void) {
    shared_ws = hm_ws_new();
    if (hm_abi_version() != HM_ABI_VERSION) {
        fprintf(stderr, "ABI mismatch\n");
        return 1;
    }
    run_width(256, 13, 31, 20000); /* 20/19-bit chunks, some straddling words */
    run_width(64, 3, 8, 20000);
    run_width(128, 8, 12, 3000); /* 16-bit chunks, a generic width */
    run_member_of();
    hm_ws_free(shared_ws);
    if (failures) {
        fprintf(stderr, "hmkernel selftest: %d failures\n", failures);
        return 1;
    }
    printf("hmkernel selftest: ok (PDQ, 64-bit and 128-bit hashes; MIH, scan, labels, caps, update, ids)\n");
    return 0;
}
