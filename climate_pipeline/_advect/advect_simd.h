/* The float32-wind kernel on vectors of PK particles: included by advect.c once per
 * instruction set (AVX2: PK = 4, AVX-512F: PK = 8) with S(x) naming its symbols and
 * SIMD_TARGET its target attribute, and picked at run time by CPU (the wheel stays portable:
 * no -march flags). NB vectors go through each RK4 stage together, so their long dependency
 * chains overlap. Positions, weights and right-hand sides are double vectors; the 16-byte
 * (u, v, w, 0) node gathers and the trilinear interpolation in float32 are per particle,
 * exactly as in run_f32_4. The floating-point operations and their order are those of
 * run_f32_4 (advect_impl.h) and of the numpy fallback, with no contraction into FMA
 * (-ffp-contract=off), so the results are bit-identical (tested against run_scalar). */
typedef double S(DV) __attribute__((vector_size(PK * sizeof(double))));
typedef long long S(LV) __attribute__((vector_size(PK * sizeof(long long))));
typedef int S(IV) __attribute__((vector_size(PK * sizeof(int))));
typedef float S(FV) __attribute__((vector_size(PK * sizeof(float))));
typedef float S(V4F) __attribute__((vector_size(4 * sizeof(float))));

SIMD_INLINE int S(any_lv)(S(LV) m)
{
    long long r = 0;
    for (int j = 0; j < PK; ++j)
        r |= m[j];
    return r != 0;
}
SIMD_INLINE S(DV) S(sel_dv)(S(LV) m, S(DV) a, S(DV) b)
{
    return (S(DV))(((S(LV))a & m) | ((S(LV))b & ~m));
}
SIMD_INLINE S(IV) S(clamp_iv)(S(IV) i, int lo, int hi)
{
    S(IV) m = i < lo;
    i = (i & ~m) | (lo & m);
    m = i > hi;
    return (i & ~m) | (hi & m);
}
SIMD_INLINE S(DV) S(cos_lat_v)(S(DV) x)
{
    const S(DV) x2 = x * x, x4 = x2 * x2, x8 = x4 * x4;
    const S(DV) p0 = 1.0 - 0.5 * x2;
    const S(DV) p1 = 1.0 / 24.0 - x2 * (1.0 / 720.0);
    const S(DV) p2 = 1.0 / 40320.0 - x2 * (1.0 / 3628800.0);
    const S(DV) p3 = 1.0 / 479001600.0 - x2 * (1.0 / 87178291200.0);
    const S(DV) p4 = 1.0 / 20922789888000.0 - x2 * (1.0 / 6402373705728000.0);
    return (p0 + x4 * p1) + x8 * ((p2 + x4 * p3) + x8 * p4);
}
SIMD_INLINE S(LV) S(sample_simd)(const Grid *g, const float *F, Py_ssize_t it, double ft, S(DV) lon,
                                 S(DV) lat, S(DV) z, S(DV) * u, S(DV) * v, S(DV) * w)
{
    const double nl = (double)g->nlon;
    S(LV) ok;
    S(IV) i0, i1;
    S(DV) x = (lon - g->lon0) * g->idlon;
    if (g->periodic) {
        S(LV) out = (x < 0.0) | (x >= nl);
        if (S(any_lv)(out))
            for (int j = 0; j < PK; ++j)
                if (out[j])
                    x[j] = x[j] - nl * floor(x[j] / nl);
        i0 = S(clamp_iv)(__builtin_convertvector(x, S(IV)), 0, (int)g->nlon - 1);
        i1 = i0 + 1;
        i1 &= ~(i1 == (int)g->nlon);
        ok = (x == x) | (x != x);
    } else {
        ok = (x >= 0.0) & (x <= (double)(g->nlon - 1));
        i0 = S(clamp_iv)(__builtin_convertvector(x, S(IV)), 0, (int)g->nlon - 2);
        i1 = i0 + 1;
    }
    const S(DV) fx = x - __builtin_convertvector(i0, S(DV));
    const S(DV) y = (lat - g->lat0) * g->idlat;
    ok &= (y >= 0.0) & (y <= (double)(g->nlat - 1));
    const S(IV) j0 = S(clamp_iv)(__builtin_convertvector(y, S(IV)), 0, (int)g->nlat - 2);
    const S(DV) fy = y - __builtin_convertvector(j0, S(DV));
    int k0[PK];
    S(DV) fz = {0};
    if (g->nz > 1) {
        const double zb = g->zlev[0], zt = g->zlev[g->nz - 1];
        ok &= (z >= zb) & (z <= zt);
        for (int j = 0; j < PK; ++j) {
            const double zj = z[j];
            if (!(zj >= zb && zj <= zt)) {
                k0[j] = 0;
                continue;
            }
            Py_ssize_t b = (Py_ssize_t)((zj - zb) * g->izbucket);
            if (b >= g->nzbucket)
                b = g->nzbucket - 1;
            Py_ssize_t lo = g->zbucket[b];
            while (lo < g->nz - 2 && g->zlev[lo + 1] <= zj)
                ++lo;
            k0[j] = (int)lo;
            fz[j] = (zj - g->zlev[lo]) * g->izlev[lo];
        }
    } else {
        for (int j = 0; j < PK; ++j)
            k0[j] = 0;
    }
    const S(FV) fxs = __builtin_convertvector(fx, S(FV)), fys = __builtin_convertvector(fy, S(FV)),
                fzs = __builtin_convertvector(fz, S(FV));
    const float fts = (float)ft;
    const Py_ssize_t sx = 4, sy = g->nlon * 4, sz = g->nlat * sy, st = g->nz * sz;
    const Py_ssize_t dk = (g->nz > 1) ? sz : 0;
    const int nt_used = (g->nt > 1) ? 2 : 1;
    S(FV) ru, rv, rw;
    for (int j = 0; j < PK; ++j) {
        S(V4F) tv[2];
        const float fxj = fxs[j], fyj = fys[j], fzj = fzs[j];
        for (int a = 0; a < nt_used; ++a) {
            const float *p00 = F + (it + a) * st + (Py_ssize_t)k0[j] * sz + (Py_ssize_t)j0[j] * sy;
            const float *p01 = p00 + sy, *p10 = p00 + dk, *p11 = p10 + sy;
            const Py_ssize_t o0 = (Py_ssize_t)i0[j] * sx, o1 = (Py_ssize_t)i1[j] * sx;
            S(V4F) a00, b00, a01, b01, a10, b10, a11, b11;
            memcpy(&a00, p00 + o0, sizeof(S(V4F)));
            memcpy(&b00, p00 + o1, sizeof(S(V4F)));
            memcpy(&a01, p01 + o0, sizeof(S(V4F)));
            memcpy(&b01, p01 + o1, sizeof(S(V4F)));
            memcpy(&a10, p10 + o0, sizeof(S(V4F)));
            memcpy(&b10, p10 + o1, sizeof(S(V4F)));
            memcpy(&a11, p11 + o0, sizeof(S(V4F)));
            memcpy(&b11, p11 + o1, sizeof(S(V4F)));
            S(V4F) c00 = a00 + fxj * (b00 - a00), c01 = a01 + fxj * (b01 - a01);
            S(V4F) c10 = a10 + fxj * (b10 - a10), c11 = a11 + fxj * (b11 - a11);
            S(V4F) d0 = c00 + fyj * (c01 - c00), d1 = c10 + fyj * (c11 - c10);
            tv[a] = d0 + fzj * (d1 - d0);
        }
        S(V4F) r = (nt_used == 2) ? tv[0] + fts * (tv[1] - tv[0]) : tv[0];
        ru[j] = r[0];
        rv[j] = r[1];
        rw[j] = r[2];
    }
    *u = __builtin_convertvector(ru, S(DV));
    *v = __builtin_convertvector(rv, S(DV));
    *w = __builtin_convertvector(rw, S(DV));
    return ok;
}
SIMD_INLINE S(LV) S(rhs_simd)(const Grid *g, const float *F, Py_ssize_t it, double ft, S(DV) px,
                              S(DV) py, S(DV) pz, S(DV) * k0, S(DV) * k1, S(DV) * k2)
{
    S(DV) u, v, w;
    const S(LV) ok = S(sample_simd)(g, F, it, ft, px, py, pz, &u, &v, &w);
    S(DV) c = S(cos_lat_v)(py * RAD);
    c = S(sel_dv)(c < COS_MIN, c - c + COS_MIN, c);
    *k0 = u * (DEG / EARTH_R) / c;
    *k1 = v * (DEG / EARTH_R);
    *k2 = w;
    return ok;
}
SIMD_TARGET static void S(run_simd_f32)(const Grid *g0, const float *F, const Job *J0)
{
    const Grid gl = *g0;
    const Job Jl = *J0;
    const Grid *const g = &gl;
    const Job *const J = &Jl;
    const double span = (double)g->nlon * g->dlon;
    const int BL = PK * NB;
    for (Py_ssize_t q0 = 0; q0 < J->n; q0 += BL) {
        const int nl = (int)((J->n - q0) < BL ? (J->n - q0) : BL);
        Py_ssize_t idx[PK * NB];
        S(DV) px[NB], py[NB], pz[NB];
        S(LV) alive[NB];
        for (int b = 0; b < NB; ++b)
            for (int j = 0; j < PK; ++j) {
                const int l = b * PK + j;
                const Py_ssize_t q = q0 + (l < nl ? l : 0);
                const Py_ssize_t i = J->order ? J->order[q] : q;
                idx[l] = i;
                px[b][j] = J->lon[i];
                py[b][j] = J->lat[i];
                pz[b][j] = J->z[i];
                alive[b][j] = (l < nl && J->alive[i] != 0) ? -1 : 0;
            }
        double t = J->t0;
        for (Py_ssize_t f = 0; f < J->nf; ++f) {
            const double tf = J->frames[f];
            const Py_ssize_t ns = J->nsteps[f];
            if (ns > 0) {
                const double h = (tf - t) / (double)ns;
                for (Py_ssize_t s = 0; s < ns; ++s) {
                    const double ts = t + (double)s * h;
                    const double th = ts + 0.5 * h, te = ts + h;
                    Py_ssize_t i1t, iht, iet;
                    double f1t, fht, fet;
                    tbracket(g, ts, &i1t, &f1t);
                    tbracket(g, th, &iht, &fht);
                    tbracket(g, te, &iet, &fet);
                    S(DV)
                    a0[NB], a1[NB], a2[NB], b0[NB], b1[NB], b2[NB], c0[NB], c1[NB], c2[NB], d0[NB],
                        d1[NB], d2[NB];
                    int any = 0;
                    for (int b = 0; b < NB; ++b) {
                        alive[b] &= S(rhs_simd)(g, F, i1t, f1t, px[b], py[b], pz[b], &a0[b], &a1[b],
                                                &a2[b]);
                        any |= S(any_lv)(alive[b]);
                    }
                    if (!any)
                        break;
                    for (int b = 0; b < NB; ++b)
                        alive[b] &= S(rhs_simd)(g, F, iht, fht, px[b] + 0.5 * h * a0[b],
                                                py[b] + 0.5 * h * a1[b], pz[b] + 0.5 * h * a2[b],
                                                &b0[b], &b1[b], &b2[b]);
                    for (int b = 0; b < NB; ++b)
                        alive[b] &= S(rhs_simd)(g, F, iht, fht, px[b] + 0.5 * h * b0[b],
                                                py[b] + 0.5 * h * b1[b], pz[b] + 0.5 * h * b2[b],
                                                &c0[b], &c1[b], &c2[b]);
                    for (int b = 0; b < NB; ++b)
                        alive[b] &=
                            S(rhs_simd)(g, F, iet, fet, px[b] + h * c0[b], py[b] + h * c1[b],
                                        pz[b] + h * c2[b], &d0[b], &d1[b], &d2[b]);
                    for (int b = 0; b < NB; ++b) {
                        S(DV) nx = px[b] + (h / 6.0) * (a0[b] + 2.0 * b0[b] + 2.0 * c0[b] + d0[b]);
                        const S(DV) ny =
                            py[b] + (h / 6.0) * (a1[b] + 2.0 * b1[b] + 2.0 * c1[b] + d1[b]);
                        const S(DV) nz =
                            pz[b] + (h / 6.0) * (a2[b] + 2.0 * b2[b] + 2.0 * c2[b] + d2[b]);
                        if (g->periodic) {
                            const S(LV) out = (nx < g->lon0) | (nx >= g->lon0 + span);
                            if (S(any_lv)(out))
                                for (int j = 0; j < PK; ++j)
                                    if (out[j])
                                        nx[j] = nx[j] - span * floor((nx[j] - g->lon0) / span);
                        }
                        px[b] = S(sel_dv)(alive[b], nx, px[b]);
                        py[b] = S(sel_dv)(alive[b], ny, py[b]);
                        pz[b] = S(sel_dv)(alive[b], nz, pz[b]);
                    }
                }
            }
            t = tf;
            Py_ssize_t ift;
            double fft;
            tbracket(g, tf, &ift, &fft);
            for (int b = 0; b < NB; ++b) {
                S(DV) u, v, w;
                alive[b] &= S(sample_simd)(g, F, ift, fft, px[b], py[b], pz[b], &u, &v, &w);
                for (int j = 0; j < PK; ++j) {
                    const int l = b * PK + j;
                    if (l >= nl)
                        continue;
                    const Py_ssize_t o = f * J->nall + idx[l];
                    J->out_lon[o] = px[b][j];
                    J->out_lat[o] = py[b][j];
                    J->out_z[o] = pz[b][j];
                    J->out_speed[o] =
                        alive[b][j] ? sqrt(u[j] * u[j] + v[j] * v[j] + w[j] * w[j]) : 0.0;
                    J->out_alive[o] = (unsigned char)(alive[b][j] != 0);
                }
            }
        }
    }
}
