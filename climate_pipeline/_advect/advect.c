/* climate_pipeline._advect_c: RK4 particle advection through gridded winds on the sphere.
 *
 * run(field, grid, times, zlev, lon, lat, z, alive, frames, nsteps, t0, order,
 *     out_lon, out_lat, out_z, out_speed, out_alive)
 *     field   C-contiguous buffer shaped (nt, nz, nlat, nlon, nc): the wind components
 *             interleaved per grid node, m/s; float64 with nc = 2 (u, v) or 3 (u, v, w), or
 *             float32 with nc = 4 (u, v, w, 0), interpolated in float32 as 16-byte vectors
 *     grid    (itemsize, nt, nz, nlat, nlon, nc, lon0, dlon, lat0, dlat, periodic)
 *     times   float64[nt] seconds, ascending; zlev float64[nz] metres, ascending
 *     lon, lat, z   float64[N] start positions (degrees, degrees, metres); alive uint8[N]
 *     frames  float64[nf] output times; nsteps int64[nf] RK4 steps from the previous output
 *             time (t0 for the first) to each frame
 *     order   None or int64[N]: the order the particles are processed in (cache locality);
 *             particles go through in blocks of 8 whose RK4 stages are interleaved, so the
 *             out-of-order core overlaps their long dependency chains
 *     out_*   float64[nf, N] (out_alive uint8[nf, N]) written for every frame
 * Trilinear interpolation in (lon, lat, z), linear in time, dlon/dt = u / (R cos lat),
 * dlat/dt = v / R, dz/dt = w, R = 6371 km; a particle leaving the domain at any RK stage dies
 * and keeps its last position. The GIL is released while it runs; no threads of its own.
 * Float32 winds run on AVX-512F or AVX2 vectors of particles where the CPU has them
 * (advect_simd.h; isa() says which; VIZPIPE_ADVECT_ISA=avx2|scalar caps the choice), with
 * results bit-identical to run_scalar(), the one-particle-per-lane path.
 * No numpy headers: the arrays come in through the buffer protocol.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define ADV_INLINE static inline __attribute__((always_inline))
#else
#define ADV_INLINE static __inline
#endif

#define EARTH_R 6371.0e3
#define DEG (180.0 / 3.14159265358979323846)
#define RAD (3.14159265358979323846 / 180.0)
#define COS_MIN 1e-12

typedef struct {
    Py_ssize_t nt, nz, nlat, nlon, nc;
    double lon0, dlon, lat0, dlat, idlon, idlat;
    int periodic;
    const double *times, *zlev, *izlev;
    const int32_t *zbucket; /* zbucket[b]: the highest level index <= the start of bucket b */
    Py_ssize_t nzbucket;
    double izbucket;
} Grid;

typedef struct {
    Py_ssize_t n, nall, nf;
    const double *lon, *lat, *z, *frames;
    const unsigned char *alive;
    const int64_t *nsteps, *order;
    double t0;
    double *out_lon, *out_lat, *out_z, *out_speed;
    unsigned char *out_alive;
} Job;

/* cos(x) for |x| <= pi/2 (latitudes; a little beyond is harmless): Taylor series to x^18 in
 * Estrin's scheme, absolute error < 1e-14 (the numpy fallback's np.cos agrees to that); much
 * cheaper than a libm call with its range reduction, and the lanes overlap it. */
static inline double cos_lat(double x)
{
    const double x2 = x * x, x4 = x2 * x2, x8 = x4 * x4;
    const double p0 = 1.0 - 0.5 * x2;
    const double p1 = 1.0 / 24.0 - x2 * (1.0 / 720.0);
    const double p2 = 1.0 / 40320.0 - x2 * (1.0 / 3628800.0);
    const double p3 = 1.0 / 479001600.0 - x2 * (1.0 / 87178291200.0);
    const double p4 = 1.0 / 20922789888000.0 - x2 * (1.0 / 6402373705728000.0);
    return (p0 + x4 * p1) + x8 * ((p2 + x4 * p3) + x8 * p4);
}

/* Time bracket: it, ft with wind = (1 - ft) F[it] + ft F[it + 1]; constant outside. */
static void tbracket(const Grid *g, double t, Py_ssize_t *it_out, double *ft_out)
{
    /* linear between the bracketing levels, constant outside */
    Py_ssize_t it = 0;
    double ft = 0.0;
    if (g->nt > 1) {
        if (t <= g->times[0]) {
            it = 0;
            ft = 0.0;
        } else if (t >= g->times[g->nt - 1]) {
            it = g->nt - 2;
            ft = 1.0;
        } else {
            Py_ssize_t lo = 0, hi = g->nt - 1; /* times[lo] <= t < times[hi] */
            while (hi - lo > 1) {
                Py_ssize_t mid = (lo + hi) >> 1;
                if (g->times[mid] <= t)
                    lo = mid;
                else
                    hi = mid;
            }
            it = lo;
            ft = (t - g->times[lo]) / (g->times[lo + 1] - g->times[lo]);
        }
    }
    *it_out = it;
    *ft_out = ft;
}

#define FT float
#define SFX _f32
#define NC 4
#include "advect_impl.h"
#undef NC
#undef FT
#undef SFX
#define FT double
#define SFX _f64
#define NC 2
#include "advect_impl.h"
#undef NC
#define NC 3
#include "advect_impl.h"
#undef NC
#undef FT
#undef SFX

/* Vector variants of the float32 path, chosen at run time by CPU (GCC/Clang on x86-64). */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define HAVE_SIMD 1
#define SIMD_INLINE ADV_INLINE SIMD_TARGET
#define S(x) x##_avx2
#define PK 4
#define NB 2
#define SIMD_TARGET __attribute__((target("avx2")))
#include "advect_simd.h"
#undef SIMD_TARGET
#undef NB
#undef PK
#undef S
#define S(x) x##_avx512
#define PK 8
#define NB 2
#define SIMD_TARGET __attribute__((target("avx512f")))
#include "advect_simd.h"
#undef SIMD_TARGET
#undef NB
#undef PK
#undef S

/* 2: AVX-512F, 1: AVX2, 0: the scalar path (VIZPIPE_ADVECT_ISA=scalar|avx2 caps it) */
static int simd_level(void)
{
    const char *cap = getenv("VIZPIPE_ADVECT_ISA");
    int max = 2;
    if (cap && strcmp(cap, "scalar") == 0)
        max = 0;
    else if (cap && strcmp(cap, "avx2") == 0)
        max = 1;
    __builtin_cpu_init();
    if (max >= 2 && __builtin_cpu_supports("avx512f"))
        return 2;
    if (max >= 1 && __builtin_cpu_supports("avx2"))
        return 1;
    return 0;
}
#else
#define HAVE_SIMD 0
#endif

static PyObject *run_impl(PyObject *args, int simd)
{
    Py_buffer field, times, zlev, lon, lat, z, alive, frames, nsteps, order;
    Py_buffer olon, olat, oz, ospeed, oalive;
    PyObject *order_obj;
    int itemsize, periodic;
    Grid g;
    Job J;
    memset(&order, 0, sizeof order);
    if (!PyArg_ParseTuple(args, "y*(innnnnddddp)y*y*y*y*y*y*y*y*dOw*w*w*w*w*:run", &field,
                          &itemsize, &g.nt, &g.nz, &g.nlat, &g.nlon, &g.nc, &g.lon0, &g.dlon,
                          &g.lat0, &g.dlat, &periodic, &times, &zlev, &lon, &lat, &z, &alive,
                          &frames, &nsteps, &J.t0, &order_obj, &olon, &olat, &oz, &ospeed,
                          &oalive))
        return NULL;
    g.periodic = periodic;
    int has_order = order_obj != Py_None;
    PyObject *ret = NULL;
    if (has_order && PyObject_GetBuffer(order_obj, &order, PyBUF_SIMPLE) < 0)
        goto done_noorder;
    Py_ssize_t N = lon.len / 8, nf = frames.len / 8;
    const char *err = NULL;
    if (itemsize != 4 && itemsize != 8)
        err = "itemsize must be 4 or 8";
    else if (g.nt < 1 || g.nz < 1 || g.nlat < 2 || g.nlon < 2 || g.nc < 2 ||
             g.nc > 3 + (itemsize == 4))
        err = "bad grid shape";
    else if (itemsize == 4 && g.nc != 4)
        err = "float32 winds come padded to 4 components (u, v, w, 0)";
    else if (field.len != g.nt * g.nz * g.nlat * g.nlon * g.nc * itemsize)
        err = "field size does not match the grid";
    else if (times.len != g.nt * 8 || zlev.len != g.nz * 8)
        err = "times/zlev size mismatch";
    else if (lat.len != N * 8 || z.len != N * 8 || alive.len != N)
        err = "particle arrays differ in length";
    else if (nsteps.len != nf * 8)
        err = "nsteps size mismatch";
    else if (has_order && order.len != N * 8)
        err = "order size mismatch";
    else if (olon.len != nf * N * 8 || olat.len != nf * N * 8 || oz.len != nf * N * 8 ||
             ospeed.len != nf * N * 8 || oalive.len != nf * N)
        err = "output size mismatch";
    if (!err && has_order) {
        const int64_t *o = (const int64_t *)order.buf;
        for (Py_ssize_t q = 0; q < N; ++q)
            if (o[q] < 0 || o[q] >= N) {
                err = "order index out of range";
                break;
            }
    }
    if (err) {
        PyErr_SetString(PyExc_ValueError, err);
        goto done;
    }
    g.times = (const double *)times.buf;
    g.zlev = (const double *)zlev.buf;
    J.n = N;
    J.nall = N;
    J.nf = nf;
    J.lon = (const double *)lon.buf;
    J.lat = (const double *)lat.buf;
    J.z = (const double *)z.buf;
    J.alive = (const unsigned char *)alive.buf;
    J.frames = (const double *)frames.buf;
    J.nsteps = (const int64_t *)nsteps.buf;
    J.order = has_order ? (const int64_t *)order.buf : NULL;
    J.out_lon = (double *)olon.buf;
    J.out_lat = (double *)olat.buf;
    J.out_z = (double *)oz.buf;
    J.out_speed = (double *)ospeed.buf;
    J.out_alive = (unsigned char *)oalive.buf;
    g.idlon = 1.0 / g.dlon;
    g.idlat = 1.0 / g.dlat;
    g.nzbucket = 8 * g.nz;
    g.izbucket = 0.0;
    int32_t *zb = (int32_t *)malloc((size_t)g.nzbucket * sizeof(int32_t));
    if (!zb) {
        PyErr_NoMemory();
        goto done;
    }
    zb[0] = 0;
    if (g.nz > 1) {
        double z0 = g.zlev[0], span = g.zlev[g.nz - 1] - z0;
        g.izbucket = (double)g.nzbucket / span;
        Py_ssize_t k = 0;
        for (Py_ssize_t b = 0; b < g.nzbucket; ++b) {
            double zs = z0 + (double)b / g.izbucket;
            while (k < g.nz - 2 && g.zlev[k + 1] <= zs)
                ++k;
            zb[b] = (int32_t)k;
        }
    }
    g.zbucket = zb;
    double *izl = (double *)malloc((size_t)g.nz * sizeof(double));
    if (!izl) {
        free(zb);
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k + 1 < g.nz; ++k)
        izl[k] = 1.0 / (g.zlev[k + 1] - g.zlev[k]);
    izl[g.nz - 1] = 0.0;
    g.izlev = izl;
    Py_BEGIN_ALLOW_THREADS
    if (itemsize == 4) {
#if HAVE_SIMD
        const int level = simd ? simd_level() : 0;
        if (level == 2)
            run_simd_f32_avx512(&g, (const float *)field.buf, &J);
        else if (level == 1)
            run_simd_f32_avx2(&g, (const float *)field.buf, &J);
        else
#else
        (void)simd;
#endif
            run_f32_4(&g, (const float *)field.buf, &J);
    }
    else if (g.nc == 2)
        run_f64_2(&g, (const double *)field.buf, &J);
    else
        run_f64_3(&g, (const double *)field.buf, &J);
    Py_END_ALLOW_THREADS
    free(zb);
    free(izl);
    Py_INCREF(Py_None);
    ret = Py_None;
done:
    if (has_order)
        PyBuffer_Release(&order);
done_noorder:
    PyBuffer_Release(&field);
    PyBuffer_Release(&times);
    PyBuffer_Release(&zlev);
    PyBuffer_Release(&lon);
    PyBuffer_Release(&lat);
    PyBuffer_Release(&z);
    PyBuffer_Release(&alive);
    PyBuffer_Release(&frames);
    PyBuffer_Release(&nsteps);
    PyBuffer_Release(&olon);
    PyBuffer_Release(&olat);
    PyBuffer_Release(&oz);
    PyBuffer_Release(&ospeed);
    PyBuffer_Release(&oalive);
    return ret;
}

static PyObject *py_run(PyObject *self, PyObject *args)
{
    (void)self;
    return run_impl(args, 1);
}

static PyObject *py_run_scalar(PyObject *self, PyObject *args)
{
    (void)self;
    return run_impl(args, 0);
}

static PyObject *py_isa(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
#if HAVE_SIMD
    static const char *names[] = {"scalar", "avx2", "avx512f"};
    return PyUnicode_FromString(names[simd_level()]);
#else
    return PyUnicode_FromString("scalar");
#endif
}

static PyMethodDef methods[] = {
    {"run", py_run, METH_VARARGS, "RK4 advection of particles through gridded winds."},
    {"run_scalar", py_run_scalar, METH_VARARGS,
     "run() on the scalar float32 path (the reference the vector paths must equal)."},
    {"isa", py_isa, METH_NOARGS, "The instruction set run() uses for float32 winds."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_advect_c", "RK4 particle advection kernel.", -1, methods,
};

PyMODINIT_FUNC PyInit__advect_c(void) { return PyModule_Create(&moduledef); }
