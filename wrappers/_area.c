/*
 * gymkit.wrappers._area: OpenCV's INTER_AREA shrink for uint8 images, bit for bit.
 *
 * For a non-integer factor (210x160 -> 84x84 on Atari) OpenCV runs a scalar loop that
 * scatters every source pixel into its output columns, one row at a time, in single
 * precision. This module does the same arithmetic in the same order, but computes each
 * output value on its own (a gather), so it can be done four values at a time:
 *
 *   row[j] = ((S[x0] * wx0) + S[x1] * wx1) + S[x2] * wx2          (float, in that order)
 *   out[i] = rint(((row_y0 * wy0) + row_y1 * wy1) + row_y2 * wy2)  (then clamped to 0..255)
 *
 * The tables come from Python (gymkit/wrappers/area_resize.py), which mirrors OpenCV's
 * computeResizeAreaTab; a pixel with fewer taps than the others is padded with weight
 * 0, which adds an exact +0.0. Bit-exactness needs plain IEEE single-precision
 * operations: no fused multiply-add (-ffp-contract=off) and no reassociation (no
 * -ffast-math). Packed SSE operations round exactly as scalar ones.
 *
 * The horizontal pass of a source row is kept in a ring of a few rows, each computed
 * once when an output row first needs it, so a call needs no scratch image.
 *
 * resize(src, dst, xstart, xweight, ystart, yweight, xstep[, portable])
 *   src      uint8  (H, W[, cn]) C-contiguous
 *   dst      uint8  (h, w*cn) C-contiguous, written
 *   xstart   int32  (w*cn,)     index in a source row of an output column's first tap
 *   xweight  float32 (w*cn, kx) its taps' weights; tap k reads xstart + k*xstep
 *   ystart   int32  (h,)        first source row of an output row
 *   yweight  float32 (h, ky)    its rows' weights
 *   xstep    int                channels per pixel (taps of one channel are cn apart)
 *   portable bool               use the portable kernels even where SIMD ones apply (tests)
 * The Python side builds valid tables; this function checks every size and index again,
 * on private copies of the tables, so that no call can read or write out of bounds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* One call's work: the image, private copies of the tables, and the row ring. */
typedef struct {
    const uint8_t *src;
    Py_ssize_t src_rows, src_cols; /* src_cols counts bytes: W * cn */
    uint8_t *dst;
    Py_ssize_t out_rows, out_cols; /* out_cols counts values: w * cn */
    const int32_t *xs;
    const float *xw;
    Py_ssize_t kx, step;
    const int32_t *ys;
    const float *yw;
    Py_ssize_t ky;
    float *ring;          /* slots rows of out_cols floats */
    Py_ssize_t *ring_row; /* the source row in each slot, -1 for none */
    Py_ssize_t slots;     /* a power of two >= ky: ky consecutive rows take distinct slots */
    const float **taps;   /* ky row pointers of the output row being made */
    int simd;
} Plan;

/* ---- portable kernels: any channel count, any CPU ------------------------------ */

/* Output columns [from, to) of the horizontal pass of one source row. */
static void
horizontal_cols(const Plan *p, const uint8_t *restrict s, float *restrict b, Py_ssize_t from,
                Py_ssize_t to)
{
    const int32_t *restrict xs = p->xs;
    const float *restrict xw = p->xw;
    const Py_ssize_t kx = p->kx, step = p->step;
    for (Py_ssize_t j = from; j < to; j++) {
        const uint8_t *q = s + xs[j];
        const float *w = xw + kx * j;
        float acc = (float)q[0] * w[0];
        for (Py_ssize_t k = 1; k < kx; k++)
            acc = acc + (float)q[k * step] * w[k];
        b[j] = acc;
    }
}

static inline uint8_t
to_u8(float v)
{
    /* OpenCV's saturate_cast<uchar>(float): round half to even to an int (a value
     * outside int's range, or NaN, gives INT_MIN, as cvtss2si does), then clamp. */
    if (!(v > -2147483648.0f && v < 2147483648.0f))
        return 0;
    long n = lrintf(v);
    return (uint8_t)(n < 0 ? 0 : (n > 255 ? 255 : n));
}

/* Output columns [from, out_cols) of one output row, from its ky rows `taps`. */
static void
vertical_cols(const float *const *restrict taps, const float *restrict w, Py_ssize_t ky,
              Py_ssize_t out_cols, uint8_t *restrict d, Py_ssize_t from)
{
    for (Py_ssize_t j = from; j < out_cols; j++) {
        float acc = taps[0][j] * w[0];
        for (Py_ssize_t k = 1; k < ky; k++)
            acc = acc + taps[k][j] * w[k];
        d[j] = to_u8(acc);
    }
}

/* ---- x86-64 kernels: single channel, SSSE3 byte shuffles -------------------------
 * The horizontal pass reads 16 source bytes per 4 output columns and picks each tap's
 * 4 bytes with one pshufb straight into 32-bit lanes; packed single-precision
 * multiplies and adds round exactly as the scalar ones. */
#if defined(__GNUC__) && defined(__x86_64__)
#define AREA_SIMD 1
#include <immintrin.h>

/* Per group of 4 output columns: the source offset of its 16-byte window and, per tap,
 * a shuffle mask and the 4 weights. */
typedef struct {
    Py_ssize_t count;
    Py_ssize_t *window;  /* count */
    uint8_t (*mask)[16]; /* count * kx */
    float (*weight)[4];  /* count * kx */
} Groups;

/* 0, or -1 when some group's taps do not fit one 16-byte window. */
static int
plan_groups(Groups *g, const Plan *p)
{
    for (Py_ssize_t q = 0; q < g->count; q++) {
        Py_ssize_t w0 = p->xs[4 * q];
        if (w0 > p->src_cols - 16)
            w0 = p->src_cols - 16;
        g->window[q] = w0;
        for (Py_ssize_t k = 0; k < p->kx; k++) {
            uint8_t *m = g->mask[q * p->kx + k];
            float *wt = g->weight[q * p->kx + k];
            for (int lane = 0; lane < 4; lane++) {
                Py_ssize_t j = 4 * q + lane, off = p->xs[j] + k - w0;
                if (off < 0 || off > 15)
                    return -1;
                m[4 * lane] = (uint8_t)off;
                m[4 * lane + 1] = m[4 * lane + 2] = m[4 * lane + 3] = 0x80; /* zero bytes */
                wt[lane] = p->xw[p->kx * j + k];
            }
        }
    }
    return 0;
}

__attribute__((target("ssse3"))) static void
horizontal_ssse3(const Plan *p, const Groups *g, const uint8_t *s, float *b)
{
    /* Locals: the vector stores may alias anything, so fields would be reloaded. */
    const Py_ssize_t kx = p->kx, count = g->count;
    const Py_ssize_t *window = g->window;
    const uint8_t(*mask)[16] = g->mask;
    const float(*weight)[4] = g->weight;
    for (Py_ssize_t q = 0; q < count; q++) {
        __m128i bytes = _mm_loadu_si128((const __m128i *)(s + window[q]));
        const uint8_t(*m)[16] = mask + q * kx;
        const float(*wt)[4] = weight + q * kx;
        __m128 acc = _mm_mul_ps(
            _mm_cvtepi32_ps(_mm_shuffle_epi8(bytes, _mm_loadu_si128((const __m128i *)m[0]))),
            _mm_loadu_ps(wt[0]));
        for (Py_ssize_t k = 1; k < kx; k++) {
            __m128i picked = _mm_shuffle_epi8(bytes, _mm_loadu_si128((const __m128i *)m[k]));
            acc = _mm_add_ps(acc, _mm_mul_ps(_mm_cvtepi32_ps(picked), _mm_loadu_ps(wt[k])));
        }
        _mm_storeu_ps(b + 4 * q, acc);
    }
    horizontal_cols(p, s, b, 4 * count, p->out_cols); /* the last 0-3 columns */
}

static void
vertical_sse2(const float *const *restrict taps, const float *restrict w, Py_ssize_t ky,
              Py_ssize_t out_cols, uint8_t *restrict d)
{
    Py_ssize_t j = 0;
    for (; j + 4 <= out_cols; j += 4) {
        __m128 acc = _mm_mul_ps(_mm_loadu_ps(taps[0] + j), _mm_set1_ps(w[0]));
        for (Py_ssize_t k = 1; k < ky; k++)
            acc = _mm_add_ps(acc, _mm_mul_ps(_mm_loadu_ps(taps[k] + j), _mm_set1_ps(w[k])));
        /* cvtps2dq rounds half to even (as lrintf); the saturating packs clamp. */
        __m128i n = _mm_cvtps_epi32(acc);
        n = _mm_packus_epi16(_mm_packs_epi32(n, n), _mm_setzero_si128());
        int32_t four = _mm_cvtsi128_si32(n);
        memcpy(d + j, &four, 4);
    }
    vertical_cols(taps, w, ky, out_cols, d, j); /* the last 0-3 columns */
}
#endif

/* Both passes, output row by output row; `g` is NULL for the portable kernels. */
static void
shrink(Plan *p, const void *g)
{
    for (Py_ssize_t slot = 0; slot < p->slots; slot++)
        p->ring_row[slot] = -1;
    for (Py_ssize_t i = 0; i < p->out_rows; i++) {
        for (Py_ssize_t k = 0; k < p->ky; k++) {
            Py_ssize_t r = p->ys[i] + k, slot = r & (p->slots - 1);
            float *b = p->ring + slot * p->out_cols;
            if (p->ring_row[slot] != r) {
                const uint8_t *s = p->src + r * p->src_cols;
#ifdef AREA_SIMD
                if (g)
                    horizontal_ssse3(p, (const Groups *)g, s, b);
                else
#endif
                    horizontal_cols(p, s, b, 0, p->out_cols);
                p->ring_row[slot] = r;
            }
            p->taps[k] = b;
        }
        const float *w = p->yw + p->ky * i;
        uint8_t *d = p->dst + i * p->out_cols;
#ifdef AREA_SIMD
        if (p->simd) {
            vertical_sse2(p->taps, w, p->ky, p->out_cols, d);
            continue;
        }
#endif
        vertical_cols(p->taps, w, p->ky, p->out_cols, d, 0);
    }
}

static int
need(const Py_buffer *b, Py_ssize_t nbytes, const char *name)
{
    if (b->len != nbytes) {
        PyErr_Format(PyExc_ValueError, "_area.resize: `%s` has %zd bytes, expected %zd", name,
                     b->len, nbytes);
        return -1;
    }
    return 0;
}

#define NBUF 6
#define MAX_SIDE ((Py_ssize_t)1 << 24)

static PyObject *
area_resize(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != NBUF + 1 && nargs != NBUF + 2) {
        PyErr_SetString(PyExc_TypeError, "_area.resize takes 7 or 8 arguments");
        return NULL;
    }
    Py_ssize_t step = PyLong_AsSsize_t(args[NBUF]);
    if (step == -1 && PyErr_Occurred())
        return NULL;
    int portable = nargs == NBUF + 2 ? PyObject_IsTrue(args[NBUF + 1]) : 0;
    if (portable < 0)
        return NULL;
    static const char *names[NBUF] = {"src", "dst", "xstart", "xweight", "ystart", "yweight"};
    /* Accepted struct letters per argument (int32 is 'l' where long has 4 bytes). */
    static const char *formats[NBUF] = {"B", "B", "il", "f", "il", "f"};
    static const Py_ssize_t sizes[NBUF] = {1, 1, 4, 4, 4, 4};
    static const char *kinds[NBUF] = {"uint8", "uint8", "int32", "float32", "int32", "float32"};
    Py_buffer b[NBUF];
    int got = 0;
    char *mem = NULL;
    PyObject *result = NULL;
    for (; got < NBUF; got++) {
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (got == 1 ? PyBUF_WRITABLE : 0);
        if (PyObject_GetBuffer(args[got], &b[got], flags) < 0)
            goto done;
        const char *f = b[got].format;
        if (!f || f[0] == '\0' || f[1] != '\0' || !strchr(formats[got], f[0])
            || b[got].itemsize != sizes[got]) {
            PyErr_Format(PyExc_TypeError, "_area.resize: `%s` must hold %s", names[got],
                         kinds[got]);
            got++;
            goto done;
        }
    }
    if (b[0].ndim < 2 || b[0].shape[0] < 1) {
        PyErr_SetString(PyExc_ValueError, "_area.resize: `src` must be an image (H, W[, C])");
        goto done;
    }
    {
        /* Sizes follow from the source's rows and the two tables: check every buffer. */
        Plan p = {0};
        p.src = (const uint8_t *)b[0].buf;
        p.src_rows = b[0].shape[0];
        p.src_cols = b[0].len / p.src_rows;
        p.dst = (uint8_t *)b[1].buf;
        p.out_cols = b[2].len / 4;
        p.out_rows = b[4].len / 4;
        p.kx = p.out_cols ? b[3].len / 4 / p.out_cols : 0;
        p.ky = p.out_rows ? b[5].len / 4 / p.out_rows : 0;
        p.step = step;
        if (p.out_cols == 0 || p.out_rows == 0 || p.kx == 0 || p.ky == 0 || p.src_cols == 0) {
            PyErr_SetString(PyExc_ValueError, "_area.resize: empty image or table");
            goto done;
        }
        /* Bounded sides keep every size product below in range (2^24 * 2^25 < 2^63). */
        if (p.src_rows > MAX_SIDE || p.src_cols > MAX_SIDE || p.out_rows > MAX_SIDE
            || p.out_cols > MAX_SIDE) {
            PyErr_SetString(PyExc_ValueError, "_area.resize: image side over 2**24");
            goto done;
        }
        if (p.ky > p.src_rows || p.kx > p.src_cols) {
            PyErr_SetString(PyExc_ValueError, "_area.resize: more taps than source pixels");
            goto done;
        }
        if (step < 1 || (p.kx > 1 && step > (p.src_cols - 1) / (p.kx - 1))) {
            PyErr_SetString(PyExc_ValueError, "_area.resize: `xstep` out of range");
            goto done;
        }
        if (need(&b[1], p.out_rows * p.out_cols, "dst")
            || need(&b[3], p.out_cols * p.kx * 4, "xweight")
            || need(&b[5], p.out_rows * p.ky * 4, "yweight"))
            goto done;
        /* One block: private copies of the tables (once checked, nothing, not an aliasing
         * dst nor another thread, can change them while the GIL is released), the row
         * ring, and the SIMD plan. */
        size_t nx = (size_t)p.out_cols, ny = (size_t)p.out_rows, kx = (size_t)p.kx,
               ky = (size_t)p.ky, ngroups = 0, slots = 1;
        while (slots < ky)
            slots *= 2;
        p.slots = (Py_ssize_t)slots;
        int simd = 0;
#ifdef AREA_SIMD
        simd = !portable && __builtin_cpu_supports("ssse3");
        if (simd && step == 1 && p.src_cols >= 16)
            ngroups = nx / 4;
#endif
        size_t floats = nx * kx + ny * ky + slots * nx + ngroups * kx * 4;
        size_t bytes = 4 * (nx + ny + floats) + sizeof(Py_ssize_t) * (slots + ngroups)
                       + sizeof(float *) * ky + 16 * ngroups * kx;
        mem = PyMem_RawMalloc(bytes);
        if (!mem) {
            PyErr_NoMemory();
            goto done;
        }
        char *at = mem; /* pointer-sized parts first, then 4-byte ones, then bytes */
        p.ring_row = (Py_ssize_t *)at;
        at += sizeof(Py_ssize_t) * slots;
        p.taps = (const float **)at;
        at += sizeof(float *) * ky;
#ifdef AREA_SIMD
        Groups g = {(Py_ssize_t)ngroups, (Py_ssize_t *)at, NULL, NULL};
#endif
        at += sizeof(Py_ssize_t) * ngroups;
        int32_t *xs = (int32_t *)at, *ys = xs + nx;
        float *xw = (float *)(ys + ny), *yw = xw + nx * kx;
        p.ring = yw + ny * ky;
        float *group_weight = p.ring + slots * nx;
        uint8_t *group_mask = (uint8_t *)(group_weight + ngroups * kx * 4);
        memcpy(xs, b[2].buf, 4 * nx);
        memcpy(xw, b[3].buf, 4 * nx * kx);
        memcpy(ys, b[4].buf, 4 * ny);
        memcpy(yw, b[5].buf, 4 * ny * ky);
        p.xs = xs, p.xw = xw, p.ys = ys, p.yw = yw, p.simd = simd;
        for (Py_ssize_t j = 0; j < p.out_cols; j++)
            if (xs[j] < 0 || xs[j] > p.src_cols - 1 - (p.kx - 1) * step) {
                PyErr_SetString(PyExc_ValueError, "_area.resize: `xstart` out of range");
                goto done;
            }
        for (Py_ssize_t i = 0; i < p.out_rows; i++)
            if (ys[i] < 0 || ys[i] > p.src_rows - p.ky) {
                PyErr_SetString(PyExc_ValueError, "_area.resize: `ystart` out of range");
                goto done;
            }
        const void *plan = NULL;
#ifdef AREA_SIMD
        g.mask = (uint8_t(*)[16])group_mask;
        g.weight = (float(*)[4])group_weight;
        if (ngroups > 0 && plan_groups(&g, &p) == 0)
            plan = &g; /* else the taps are too far apart: the portable horizontal pass */
#else
        (void)group_mask;
#endif
        Py_BEGIN_ALLOW_THREADS
        shrink(&p, plan);
        Py_END_ALLOW_THREADS
        result = Py_NewRef(Py_None);
    }
done:
    PyMem_RawFree(mem);
    for (int i = 0; i < got; i++)
        PyBuffer_Release(&b[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"resize", (PyCFunction)(void (*)(void))area_resize, METH_FASTCALL,
     "resize(src, dst, xstart, xweight, ystart, yweight, xstep[, portable]): "
     "OpenCV's INTER_AREA shrink with precomputed tables (see gymkit.wrappers.area_resize)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "gymkit.wrappers._area",
    "OpenCV's INTER_AREA shrink for uint8 images, bit for bit, faster.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__area(void)
{
    return PyModule_Create(&module_def);
}
