/* Isosurface kernel body, instantiated once per sample type by isokernel.c:
 *
 *     #define SCALAR float
 *     #define SFX(name) name##_f32
 *     #include "kernel_impl.h"
 *
 * One pass over the volume, slab by slab (slab i: the cells between planes i and i+1; i
 * slowest, k fastest). For slab i:
 *
 *  1. classify plane i+2 into bit rows (bit k of row j set when values[i+2, j, k] >= level,
 *     VTK's test: NaN is outside), 64 samples per word; three bit planes live in a ring;
 *  2. emit one vertex per cut grid edge of plane i+1 (bit rows XOR-ed with themselves shifted
 *     along k, and with the next row along j) and between planes i and i+1 (XOR of the two
 *     planes), storing its id in an edge cache (dense int32 arrays, two planes of k- and
 *     j-edges and one slab of i-edges, written only where an edge is cut);
 *  3. for every cell of the slab whose 8 corners are not all alike (again found 64 cells at a
 *     time with bit operations), look up the case table and emit triangles whose corners are
 *     the cached edge ids.
 *
 * Each vertex is computed once (shared by all cells around its edge) and only the cells cut
 * by the surface are visited one by one.
 */

#ifndef SCALAR
#error "define SCALAR and SFX before including kernel_impl.h"
#endif

/* --- 1. classification ------------------------------------------------------------------ */

static void SFX(classify_row)(const SCALAR *s, ptrdiff_t nk, SCALAR lev, uint64_t *out,
                              ptrdiff_t W)
{
    ptrdiff_t k = 0, w = 0;
#if defined(__SSE2__) && !defined(ISO_NO_SIMD) /* -DISO_NO_SIMD: portable C only */
    if (sizeof(SCALAR) == 4) {
        const float *sf = (const float *)s;
        const __m128 L = _mm_set1_ps((float)lev);
        for (; k + 64 <= nk; k += 64, ++w) {
            uint64_t bits = 0;
            for (int q = 0; q < 4; ++q) {
                const float *p = sf + k + 16 * q;
                __m128i m0 = _mm_castps_si128(_mm_cmpge_ps(_mm_loadu_ps(p), L));
                __m128i m1 = _mm_castps_si128(_mm_cmpge_ps(_mm_loadu_ps(p + 4), L));
                __m128i m2 = _mm_castps_si128(_mm_cmpge_ps(_mm_loadu_ps(p + 8), L));
                __m128i m3 = _mm_castps_si128(_mm_cmpge_ps(_mm_loadu_ps(p + 12), L));
                __m128i b = _mm_packs_epi16(_mm_packs_epi32(m0, m1), _mm_packs_epi32(m2, m3));
                bits |= (uint64_t)(uint32_t)_mm_movemask_epi8(b) << (16 * q);
            }
            out[w] = bits;
        }
    } else {
        const double *sd = (const double *)s;
        const __m128d L = _mm_set1_pd((double)lev);
        for (; k + 64 <= nk; k += 64, ++w) {
            uint64_t bits = 0;
            for (int q = 0; q < 32; q += 2) {
                const double *p = sd + k + 2 * q;
                uint64_t m0 = (uint64_t)_mm_movemask_pd(_mm_cmpge_pd(_mm_loadu_pd(p), L));
                uint64_t m1 = (uint64_t)_mm_movemask_pd(_mm_cmpge_pd(_mm_loadu_pd(p + 2), L));
                bits |= (m0 | (m1 << 2)) << (2 * q);
            }
            out[w] = bits;
        }
    }
#endif
    for (; k + 64 <= nk; k += 64, ++w) {
        uint64_t bits = 0;
        for (int b = 0; b < 64; ++b)
            bits |= (uint64_t)(s[k + b] >= lev) << b;
        out[w] = bits;
    }
    if (k < nk) {
        uint64_t bits = 0;
        for (int b = 0; k < nk; ++k, ++b)
            bits |= (uint64_t)(s[k] >= lev) << b;
        out[w++] = bits;
    }
    for (; w < W; ++w)
        out[w] = 0;
}

/* Bit row of logical row (i, j): the physical row, plus its first sample again at k = pk
 * when the k axis is periodic (the value test is the same as the rest of the row's). */
static inline void SFX(classify)(const Ctx *c, const SCALAR *s, ptrdiff_t i, ptrdiff_t j,
                                 SCALAR lev, uint64_t *out)
{
    const SCALAR *row = s + c->oi[i] + c->oj[j];
    SFX(classify_row)(row, c->pk, lev, out, c->W);
    if (c->nk > c->pk && row[0] >= lev)
        out[c->pk >> 6] |= (uint64_t)1 << (c->pk & 63);
}

/* --- 2. vertices -------------------------------------------------------------------------- */

/* Index-space gradient at sample (i, j, k): central differences, one-sided at the
 * boundary (VTK's vtkFlyingEdges3D formulas). Samples are read through the context's offset
 * tables, so a periodic axis reads its wrapped first layer at index n (see Ctx). */
static inline void SFX(gradient)(const Ctx *c, const SCALAR *s, ptrdiff_t i, ptrdiff_t j,
                                 ptrdiff_t k, float g[3])
{
    const ptrdiff_t *oi = c->oi, *oj = c->oj, *ok = c->ok;
    const ptrdiff_t ij = oi[i] + oj[j], ik = oi[i] + ok[k], jk = oj[j] + ok[k];
    const SCALAR h = (SCALAR)0.5;
    if (i > 0 && i < c->ni - 1)
        g[0] = (float)(h * (s[oi[i + 1] + jk] - s[oi[i - 1] + jk]));
    else if (i == 0)
        g[0] = (float)(s[oi[i + 1] + jk] - s[oi[i] + jk]);
    else
        g[0] = (float)(s[oi[i] + jk] - s[oi[i - 1] + jk]);
    if (j > 0 && j < c->nj - 1)
        g[1] = (float)(h * (s[oj[j + 1] + ik] - s[oj[j - 1] + ik]));
    else if (j == 0)
        g[1] = (float)(s[oj[j + 1] + ik] - s[oj[j] + ik]);
    else
        g[1] = (float)(s[oj[j] + ik] - s[oj[j - 1] + ik]);
    if (k > 0 && k < c->nk - 1)
        g[2] = (float)(h * (s[ij + ok[k + 1]] - s[ij + ok[k - 1]]));
    else if (k == 0)
        g[2] = (float)(s[ij + ok[k + 1]] - s[ij + ok[k]]);
    else
        g[2] = (float)(s[ij + ok[k]] - s[ij + ok[k - 1]]);
}

/* Vertex on the edge from sample (i, j, k) one step along `axis` (0 = i, 1 = j, 2 = k).
 * base: world position of (i, j, 0). Writes position (and normal) at slot `id`. */
static inline void SFX(emit)(Ctx *c, const SCALAR *s, ptrdiff_t i, ptrdiff_t j, ptrdiff_t k,
                             int axis, const double base[3], float *V, float *N, int32_t id)
{
    const ptrdiff_t i1 = i + (axis == 0), j1 = j + (axis == 1), k1 = k + (axis == 2);
    const double v0 = (double)s[c->oi[i] + c->oj[j] + c->ok[k]];
    const double v1 = (double)s[c->oi[i1] + c->oj[j1] + c->ok[k1]];
    const double t = (c->level - v0) / (v1 - v0);
    if (t != t)
        c->nan_found = 1;
    const double *A = c->A;
    const double kk = (double)k;
    float *x = V + 3 * (ptrdiff_t)id;
    x[0] = (float)(base[0] + A[2] * kk + A[axis] * t);
    x[1] = (float)(base[1] + A[5] * kk + A[3 + axis] * t);
    x[2] = (float)(base[2] + A[8] * kk + A[6 + axis] * t);
    if (N) {
        float g0[3], g1[3];
        SFX(gradient)(c, s, i, j, k, g0);
        SFX(gradient)(c, s, i1, j1, k1, g1);
        const float tf = (float)t;
        const float gx = g0[0] + tf * (g1[0] - g0[0]);
        const float gy = g0[1] + tf * (g1[1] - g0[1]);
        const float gz = g0[2] + tf * (g1[2] - g0[2]);
        const float *M = c->M;
        float nx = M[0] * gx + M[1] * gy + M[2] * gz;
        float ny = M[3] * gx + M[4] * gy + M[5] * gz;
        float nz = M[6] * gx + M[7] * gy + M[8] * gz;
        const float len2 = nx * nx + ny * ny + nz * nz;
        if (len2 > 0.0f) {
            const float inv = 1.0f / sqrtf(len2);
            nx *= inv;
            ny *= inv;
            nz *= inv;
        }
        float *n = N + 3 * (ptrdiff_t)id;
        n[0] = nx;
        n[1] = ny;
        n[2] = nz;
    }
}

static inline void SFX(row_base)(const Ctx *c, ptrdiff_t i, ptrdiff_t j, double base[3])
{
    for (int r = 0; r < 3; ++r)
        base[r] = c->T[r] + c->A[3 * r] * (double)i + c->A[3 * r + 1] * (double)j;
}

/* Vertices on the k- and j-edges of plane p; ids into KE (k-edges) and JE (j-edges). */
static int SFX(plane_vertices)(Ctx *c, const SCALAR *s, ptrdiff_t p, const uint64_t *bits,
                               int32_t *KE, int32_t *JE)
{
    const ptrdiff_t nj = c->nj, nk = c->nk, nw = c->nw, W = c->W;
    for (ptrdiff_t j = 0; j < nj; ++j) {
        if (ensure_vertices(c, 2 * nk))
            return -1;
        float *V = (float *)c->V.p, *N = c->normals ? (float *)c->N.p : NULL;
        int32_t id = (int32_t)c->nv;
        double base[3];
        SFX(row_base)(c, p, j, base);
        const uint64_t *row = bits + j * W;
        int32_t *ke = KE + j * nk;
        for (ptrdiff_t w = 0; w < nw; ++w) {
            uint64_t x = (row[w] ^ ((row[w] >> 1) | (row[w + 1] << 63))) & c->cellmask[w];
            while (x) {
                const ptrdiff_t k = 64 * w + __builtin_ctzll(x);
                x &= x - 1;
                SFX(emit)(c, s, p, j, k, 2, base, V, N, id);
                ke[k] = id++;
            }
        }
        if (j + 1 < nj) {
            const uint64_t *rown = row + W;
            int32_t *je = JE + j * nk;
            for (ptrdiff_t w = 0; w < nw; ++w) {
                uint64_t x = row[w] ^ rown[w];
                while (x) {
                    const ptrdiff_t k = 64 * w + __builtin_ctzll(x);
                    x &= x - 1;
                    SFX(emit)(c, s, p, j, k, 1, base, V, N, id);
                    je[k] = id++;
                }
            }
        }
        c->nv = (size_t)id;
    }
    return 0;
}

/* Vertices on the i-edges between planes p and p+1; ids into IE. */
static int SFX(slab_vertices)(Ctx *c, const SCALAR *s, ptrdiff_t p, const uint64_t *b0,
                              const uint64_t *b1, int32_t *IE)
{
    const ptrdiff_t nj = c->nj, nk = c->nk, nw = c->nw, W = c->W;
    for (ptrdiff_t j = 0; j < nj; ++j) {
        if (ensure_vertices(c, nk))
            return -1;
        float *V = (float *)c->V.p, *N = c->normals ? (float *)c->N.p : NULL;
        int32_t id = (int32_t)c->nv;
        double base[3];
        SFX(row_base)(c, p, j, base);
        const uint64_t *r0 = b0 + j * W, *r1 = b1 + j * W;
        int32_t *ie = IE + j * nk;
        for (ptrdiff_t w = 0; w < nw; ++w) {
            uint64_t x = r0[w] ^ r1[w];
            while (x) {
                const ptrdiff_t k = 64 * w + __builtin_ctzll(x);
                x &= x - 1;
                SFX(emit)(c, s, p, j, k, 0, base, V, N, id);
                ie[k] = id++;
            }
        }
        c->nv = (size_t)id;
    }
    return 0;
}

/* --- 3. triangles ------------------------------------------------------------------------- */

static int SFX(slab_triangles)(Ctx *c, const uint64_t *b0, const uint64_t *b1,
                               const int32_t *KE0, const int32_t *KE1, const int32_t *JE0,
                               const int32_t *JE1, const int32_t *IE)
{
    const ptrdiff_t nj = c->nj, nk = c->nk, nw = c->nw, W = c->W;
    const unsigned char (*tris)[15] = c->tris;
    for (ptrdiff_t j = 0; j + 1 < nj; ++j) {
        if (ensure_faces(c, 5 * (nk - 1)))
            return -1;
        int32_t *f = (int32_t *)c->F.p + 3 * c->nf;
        int32_t *const f_start = f;
        const int32_t *E[12];
        E[0] = KE0 + j * nk;
        E[1] = E[0] + nk;
        E[2] = KE1 + j * nk;
        E[3] = E[2] + nk;
        E[4] = JE0 + j * nk;
        E[5] = E[4] + 1;
        E[6] = JE1 + j * nk;
        E[7] = E[6] + 1;
        E[8] = IE + j * nk;
        E[9] = E[8] + 1;
        E[10] = E[8] + nk;
        E[11] = E[10] + 1;
        const uint64_t *p0 = b0 + j * W, *p1 = p0 + W, *p2 = b1 + j * W, *p3 = p2 + W;
        for (ptrdiff_t w = 0; w < nw; ++w) {
            const uint64_t a0 = p0[w], a1 = p1[w], a2 = p2[w], a3 = p3[w];
            /* bit k of cN: corner at k+1 */
            const uint64_t c0 = (a0 >> 1) | (p0[w + 1] << 63);
            const uint64_t c1 = (a1 >> 1) | (p1[w + 1] << 63);
            const uint64_t c2 = (a2 >> 1) | (p2[w + 1] << 63);
            const uint64_t c3 = (a3 >> 1) | (p3[w + 1] << 63);
            const uint64_t any = a0 | a1 | a2 | a3 | c0 | c1 | c2 | c3;
            const uint64_t all = a0 & a1 & a2 & a3 & c0 & c1 & c2 & c3;
            uint64_t m = any & ~all & c->cellmask[w];
            while (m) {
                const int b = __builtin_ctzll(m);
                m &= m - 1;
                const unsigned cs = (unsigned)(((a0 >> b) & 1) | (((c0 >> b) & 1) << 1) |
                                               (((a1 >> b) & 1) << 2) | (((c1 >> b) & 1) << 3) |
                                               (((a2 >> b) & 1) << 4) | (((c2 >> b) & 1) << 5) |
                                               (((a3 >> b) & 1) << 6) | (((c3 >> b) & 1) << 7));
                const ptrdiff_t k = 64 * w + b;
                const unsigned char *t = tris[cs];
                const int n = 3 * ISO_NTRI[cs];
                for (int q = 0; q < n; ++q)
                    f[q] = E[t[q]][k];
                f += n;
            }
        }
        c->nf += (size_t)(f - f_start) / 3;
    }
    return 0;
}

/* --- driver ------------------------------------------------------------------------------- */

static int SFX(run)(Ctx *c, const SCALAR *s, SCALAR lev)
{
    const ptrdiff_t ni = c->ni, nj = c->nj, nk = c->nk, W = c->W;
    const size_t plane = (size_t)(nj * nk);
    int rc = -1;
    uint64_t *B = (uint64_t *)calloc((size_t)(3 * nj * W), sizeof(uint64_t));
    int32_t *ids = (int32_t *)malloc(5 * plane * sizeof(int32_t));
    if (!B || !ids) {
        c->err = ERR_NOMEM;
        goto done;
    }
    int32_t *KE[2] = {ids, ids + plane}, *JE[2] = {ids + 2 * plane, ids + 3 * plane};
    int32_t *IE = ids + 4 * plane;
    /* bit planes in a ring of three: plane p in P[p % 3]. Classifying one plane ahead of the
     * vertex pass streams the samples into cache in order, so the gradients' reads of the
     * next plane hit cache instead of memory. */
    uint64_t *P[3] = {B, B + nj * W, B + 2 * nj * W};

    for (ptrdiff_t p = 0; p < 2; ++p)
        for (ptrdiff_t j = 0; j < nj; ++j)
            SFX(classify)(c, s, p, j, lev, P[p] + j * W);
    if (SFX(plane_vertices)(c, s, 0, P[0], KE[0], JE[0]))
        goto done;
    for (ptrdiff_t i = 0; i + 1 < ni; ++i) {
        const int cur = (int)(i & 1), nxt = cur ^ 1;
        uint64_t *b0 = P[i % 3], *b1 = P[(i + 1) % 3];
        if (i + 2 < ni) {
            uint64_t *b2 = P[(i + 2) % 3];
            for (ptrdiff_t j = 0; j < nj; ++j)
                SFX(classify)(c, s, i + 2, j, lev, b2 + j * W);
        }
        if (SFX(plane_vertices)(c, s, i + 1, b1, KE[nxt], JE[nxt]))
            goto done;
        if (SFX(slab_vertices)(c, s, i, b0, b1, IE))
            goto done;
        if (SFX(slab_triangles)(c, b0, b1, KE[cur], KE[nxt], JE[cur], JE[nxt], IE))
            goto done;
    }
    rc = 0;
done:
    free(B);
    free(ids);
    return rc;
}

#undef SCALAR
#undef SFX
