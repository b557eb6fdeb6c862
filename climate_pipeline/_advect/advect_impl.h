/* Kernel body, included by advect.c once per variant: FT is the wind field's float type, NC the
 * number of interleaved components per node (4 = u, v, w, 0 as one vector), SFX the suffix. */

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define SFX2 CAT(SFX, CAT(_, NC))

/* Winds at (t, lon, lat, z): 1 = inside the domain (wind in w3), 0 = outside. The order of the
 * floating-point operations matches the numpy fallback (climate_pipeline/particles.py). */
ADV_INLINE int CAT(sample, SFX2)(const Grid *g, const FT *F, Py_ssize_t it, double ft,
                                 double lon, double lat, double z, double *w3)
{
    /* longitude */
    double x = (lon - g->lon0) * g->idlon;
    Py_ssize_t i0, i1;
    if (g->periodic) {
        const double nl = (double)g->nlon;
        if (x < 0.0 || x >= nl)
            x = x - nl * floor(x / nl);
        i0 = (Py_ssize_t)x;
        if (i0 >= g->nlon)
            i0 = g->nlon - 1;
        if (i0 < 0)
            i0 = 0;
        i1 = (i0 + 1 == g->nlon) ? 0 : i0 + 1;
    } else {
        if (!(x >= 0.0 && x <= (double)(g->nlon - 1)))
            return 0;
        i0 = (Py_ssize_t)x;
        if (i0 > g->nlon - 2)
            i0 = g->nlon - 2;
        i1 = i0 + 1;
    }
    double fx = x - (double)i0;
    /* latitude */
    double y = (lat - g->lat0) * g->idlat;
    if (!(y >= 0.0 && y <= (double)(g->nlat - 1)))
        return 0;
    Py_ssize_t j0 = (Py_ssize_t)y;
    if (j0 > g->nlat - 2)
        j0 = g->nlat - 2;
    double fy = y - (double)j0;
    /* vertical */
    Py_ssize_t k0 = 0, k1 = 0;
    double fz = 0.0;
    if (g->nz > 1) {
        if (!(z >= g->zlev[0] && z <= g->zlev[g->nz - 1]))
            return 0;
        /* bucket table: the level at or below each bucket start, then walk up */
        Py_ssize_t b = (Py_ssize_t)((z - g->zlev[0]) * g->izbucket);
        if (b >= g->nzbucket)
            b = g->nzbucket - 1;
        Py_ssize_t lo = g->zbucket[b];
        while (lo < g->nz - 2 && g->zlev[lo + 1] <= z)
            ++lo;
        k0 = lo;
        k1 = lo + 1;
        fz = (z - g->zlev[lo]) * g->izlev[lo];
    }
    const Py_ssize_t nc = NC;
    const Py_ssize_t sx = nc, sy = g->nlon * nc, sz = g->nlat * sy, st = g->nz * sz;
    const Py_ssize_t nt_used = (g->nt > 1) ? 2 : 1;
#if NC == 4 && defined(__GNUC__)
    /* (u, v, w, 0) per node in one 16-byte vector: interpolated in the field's precision */
    typedef FT V4 __attribute__((vector_size(4 * sizeof(FT))));
    const FT fxs = (FT)fx, fys = (FT)fy, fzs = (FT)fz, fts = (FT)ft;
    V4 tv[2];
    for (Py_ssize_t a = 0; a < nt_used; ++a) {
        const FT *base = F + (it + a) * st;
        const FT *p00 = base + k0 * sz + j0 * sy, *p01 = p00 + sy;
        const FT *p10 = base + k1 * sz + j0 * sy, *p11 = p10 + sy;
        V4 a00, b00, a01, b01, a10, b10, a11, b11;
        memcpy(&a00, p00 + i0 * sx, sizeof(V4));
        memcpy(&b00, p00 + i1 * sx, sizeof(V4));
        memcpy(&a01, p01 + i0 * sx, sizeof(V4));
        memcpy(&b01, p01 + i1 * sx, sizeof(V4));
        memcpy(&a10, p10 + i0 * sx, sizeof(V4));
        memcpy(&b10, p10 + i1 * sx, sizeof(V4));
        memcpy(&a11, p11 + i0 * sx, sizeof(V4));
        memcpy(&b11, p11 + i1 * sx, sizeof(V4));
        V4 c00 = a00 + fxs * (b00 - a00), c01 = a01 + fxs * (b01 - a01);
        V4 c10 = a10 + fxs * (b10 - a10), c11 = a11 + fxs * (b11 - a11);
        V4 d0 = c00 + fys * (c01 - c00), d1 = c10 + fys * (c11 - c10);
        tv[a] = d0 + fzs * (d1 - d0);
    }
    V4 r = (nt_used == 2) ? tv[0] + fts * (tv[1] - tv[0]) : tv[0];
    w3[0] = (double)r[0];
    w3[1] = (double)r[1];
    w3[2] = (double)r[2];
#else
#if NC == 4
#define ACC FT /* the padded layout interpolates in the field's precision */
#else
#define ACC double
#endif
    const ACC fxa = (ACC)fx, fya = (ACC)fy, fza = (ACC)fz, fta = (ACC)ft;
    ACC tv[2][4];
    for (Py_ssize_t a = 0; a < nt_used; ++a) {
        const FT *base = F + (it + a) * st;
        const FT *p00 = base + k0 * sz + j0 * sy, *p01 = p00 + sy;
        const FT *p10 = base + k1 * sz + j0 * sy, *p11 = p10 + sy;
        for (Py_ssize_t c = 0; c < nc; ++c) {
            ACC a00 = (ACC)p00[i0 * sx + c], b00 = (ACC)p00[i1 * sx + c];
            ACC a01 = (ACC)p01[i0 * sx + c], b01 = (ACC)p01[i1 * sx + c];
            ACC a10 = (ACC)p10[i0 * sx + c], b10 = (ACC)p10[i1 * sx + c];
            ACC a11 = (ACC)p11[i0 * sx + c], b11 = (ACC)p11[i1 * sx + c];
            ACC c00 = a00 + fxa * (b00 - a00), c01 = a01 + fxa * (b01 - a01);
            ACC c10 = a10 + fxa * (b10 - a10), c11 = a11 + fxa * (b11 - a11);
            ACC d0 = c00 + fya * (c01 - c00), d1 = c10 + fya * (c11 - c10);
            tv[a][c] = d0 + fza * (d1 - d0);
        }
    }
    for (Py_ssize_t c = 0; c < 3; ++c) {
        if (c >= NC)
            w3[c] = 0.0;
        else if (nt_used == 2)
            w3[c] = (double)(tv[0][c] + fta * (tv[1][c] - tv[0][c]));
        else
            w3[c] = (double)tv[0][c];
    }
#undef ACC
#endif
    return 1;
}

/* Right-hand side in degrees/s and m/s; 0 when outside. */
ADV_INLINE int CAT(rhs, SFX2)(const Grid *g, const FT *F, Py_ssize_t it, double ft,
                              const double *p, double *k)
{
    double w3[3];
    if (!CAT(sample, SFX2)(g, F, it, ft, p[0], p[1], p[2], w3))
        return 0;
    double c = cos_lat(p[1] * RAD);
    if (c < COS_MIN)
        c = COS_MIN;
    k[0] = w3[0] * (DEG / EARTH_R) / c;
    k[1] = w3[1] * (DEG / EARTH_R);
    k[2] = w3[2];
    return 1;
}

/* One RK4 stage for the live lanes of a block: k = F(ts, base + c * k_prev). Lanes are
 * independent, so the out-of-order core overlaps their long dependency chains. */
#define LANES 8

static void CAT(run, SFX2)(const Grid *g0, const FT *F, const Job *J0)
{
    /* local copies: stores through the double arrays cannot alias them, so the compiler keeps
     * the grid constants in registers */
    const Grid gl = *g0;
    const Job Jl = *J0;
    const Grid *const g = &gl;
    const Job *const J = &Jl;
    const double span = (double)g->nlon * g->dlon;
    for (Py_ssize_t q0 = 0; q0 < J->n; q0 += LANES) {
        const int nl = (int)((J->n - q0) < LANES ? (J->n - q0) : LANES);
        Py_ssize_t idx[LANES];
        double p[LANES][3], k1[LANES][3], k2[LANES][3], k3[LANES][3], k4[LANES][3], qq[3];
        int alive[LANES];
        for (int j = 0; j < nl; ++j) {
            const Py_ssize_t i = J->order ? J->order[q0 + j] : q0 + j;
            idx[j] = i;
            p[j][0] = J->lon[i];
            p[j][1] = J->lat[i];
            p[j][2] = J->z[i];
            alive[j] = J->alive[i] != 0;
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
                    int any = 0;
                    for (int j = 0; j < nl; ++j)
                        if (alive[j])
                            alive[j] = any = CAT(rhs, SFX2)(g, F, i1t, f1t, p[j], k1[j]);
                    if (!any)
                        break;
                    for (int j = 0; j < nl; ++j)
                        if (alive[j]) {
                            for (int c = 0; c < 3; ++c)
                                qq[c] = p[j][c] + 0.5 * h * k1[j][c];
                            alive[j] = CAT(rhs, SFX2)(g, F, iht, fht, qq, k2[j]);
                        }
                    for (int j = 0; j < nl; ++j)
                        if (alive[j]) {
                            for (int c = 0; c < 3; ++c)
                                qq[c] = p[j][c] + 0.5 * h * k2[j][c];
                            alive[j] = CAT(rhs, SFX2)(g, F, iht, fht, qq, k3[j]);
                        }
                    for (int j = 0; j < nl; ++j)
                        if (alive[j]) {
                            for (int c = 0; c < 3; ++c)
                                qq[c] = p[j][c] + h * k3[j][c];
                            alive[j] = CAT(rhs, SFX2)(g, F, iet, fet, qq, k4[j]);
                        }
                    for (int j = 0; j < nl; ++j)
                        if (alive[j]) {
                            double np_[3];
                            for (int c = 0; c < 3; ++c)
                                np_[c] = p[j][c] + (h / 6.0) * (k1[j][c] + 2.0 * k2[j][c] +
                                                                2.0 * k3[j][c] + k4[j][c]);
                            if (g->periodic && (np_[0] < g->lon0 || np_[0] >= g->lon0 + span))
                                np_[0] = np_[0] - span * floor((np_[0] - g->lon0) / span);
                            p[j][0] = np_[0];
                            p[j][1] = np_[1];
                            p[j][2] = np_[2];
                        }
                }
            }
            t = tf;
            Py_ssize_t ift;
            double fft;
            tbracket(g, tf, &ift, &fft);
            for (int j = 0; j < nl; ++j) {
                double w3[3] = {0.0, 0.0, 0.0};
                if (alive[j] && !CAT(sample, SFX2)(g, F, ift, fft, p[j][0], p[j][1], p[j][2], w3))
                    alive[j] = 0;
                const Py_ssize_t o = f * J->nall + idx[j];
                J->out_lon[o] = p[j][0];
                J->out_lat[o] = p[j][1];
                J->out_z[o] = p[j][2];
                J->out_speed[o] =
                    alive[j] ? sqrt(w3[0] * w3[0] + w3[1] * w3[1] + w3[2] * w3[2]) : 0.0;
                J->out_alive[o] = (unsigned char)alive[j];
            }
        }
    }
}

#undef SFX2
#undef LANES
#undef CAT
#undef CAT_
