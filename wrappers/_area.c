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
 * Plan(src_rows, src_cols, xstart, xweight, ystart, yweight, xstep)
 *   src_rows, src_cols  the source's rows and bytes per row (W * cn)
 *   xstart   int32  (w*cn,)     index in a source row of an output column's first tap
 *   xweight  float32 (w*cn, kx) its taps' weights; tap k reads xstart + k*xstep
 *   ystart   int32  (h,)        first source row of an output row
 *   yweight  float32 (h, ky)    its rows' weights
 *   xstep    int                channels per pixel (taps of one channel are cn apart)
 * copies and checks the tables once and plans the SIMD pass; it is immutable.
 * Plan.resize(src, dst[, portable]) shrinks src (uint8, src_rows * src_cols bytes,
 * C-contiguous) into dst (uint8, h * w*cn bytes, C-contiguous); `portable` runs the
 * portable kernels even where SIMD ones apply (tests). Every size is checked, so no
 * call reads or writes out of bounds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* The shrink's tables, checked and owned (one block), and the SIMD plan: immutable. */
typedef struct {
    PyObject_HEAD
    Py_ssize_t src_rows, src_cols; /* src_cols counts bytes: W * cn */
    Py_ssize_t out_rows, out_cols; /* out_cols counts values: w * cn */
    Py_ssize_t kx, ky, step;
    Py_ssize_t slots; /* ring rows: a power of two >= ky, so ky consecutive rows differ */
    const int32_t *xs;
    const float *xw;
    const int32_t *ys;
    const float *yw;
    /* SIMD horizontal pass, per group of 4 output columns (ngroups 0: none): the source
     * offset of its 16-byte window and, per tap, a shuffle mask and the 4 weights. */
    Py_ssize_t ngroups;
    const Py_ssize_t *window;   /* ngroups */
    const uint8_t (*mask)[16];  /* ngroups * kx */
    const float (*weight)[4];   /* ngroups * kx */
    void *block;
} Plan;

/* One call's image and row ring. */
typedef struct {
    const uint8_t *src;
    uint8_t *dst;
    float *ring;          /* slots rows of out_cols floats */
    Py_ssize_t *ring_row; /* the source row in each slot, -1 for none */
    const float **taps;   /* ky row pointers of the output row being made */
} Work;

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

static int have_ssse3; /* set when the module loads */

/* Fill the group tables; 0, or -1 when some group's taps do not fit one window. */
static int
plan_groups(const Plan *p, Py_ssize_t *window, uint8_t (*mask)[16], float (*weight)[4])
{
    for (Py_ssize_t q = 0; q < p->ngroups; q++) {
        Py_ssize_t w0 = p->xs[4 * q];
        if (w0 > p->src_cols - 16)
            w0 = p->src_cols - 16;
        window[q] = w0;
        for (Py_ssize_t k = 0; k < p->kx; k++) {
            uint8_t *m = mask[q * p->kx + k];
            float *wt = weight[q * p->kx + k];
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
horizontal_ssse3(const Plan *p, const uint8_t *s, float *b)
{
    /* Locals: the vector stores may alias anything, so fields would be reloaded. */
    const Py_ssize_t kx = p->kx, count = p->ngroups;
    const Py_ssize_t *window = p->window;
    const uint8_t(*mask)[16] = p->mask;
    const float(*weight)[4] = p->weight;
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

/* Both passes, output row by output row. */
static void
shrink(const Plan *p, Work *t, int simd)
{
    for (Py_ssize_t slot = 0; slot < p->slots; slot++)
        t->ring_row[slot] = -1;
    for (Py_ssize_t i = 0; i < p->out_rows; i++) {
        for (Py_ssize_t k = 0; k < p->ky; k++) {
            Py_ssize_t r = p->ys[i] + k, slot = r & (p->slots - 1);
            float *b = t->ring + slot * p->out_cols;
            if (t->ring_row[slot] != r) {
                const uint8_t *s = t->src + r * p->src_cols;
#ifdef AREA_SIMD
                if (simd && p->ngroups > 0)
                    horizontal_ssse3(p, s, b);
                else
#endif
                    horizontal_cols(p, s, b, 0, p->out_cols);
                t->ring_row[slot] = r;
            }
            t->taps[k] = b;
        }
        const float *w = p->yw + p->ky * i;
        uint8_t *d = t->dst + i * p->out_cols;
#ifdef AREA_SIMD
        if (simd) {
            vertical_sse2(t->taps, w, p->ky, p->out_cols, d);
            continue;
        }
#endif
        vertical_cols(t->taps, w, p->ky, p->out_cols, d, 0);
    }
}

/* ---- the Python objects ----------------------------------------------------------- */

#define MAX_SIDE ((Py_ssize_t)1 << 24)

/* Take a C-contiguous buffer of `itemsize`-byte items whose struct letter is one of
 * `letters`; on failure, set TypeError naming the argument and return -1. */
static int
get_buffer(PyObject *obj, Py_buffer *b, int writable, const char *letters, Py_ssize_t itemsize,
           const char *name, const char *kind)
{
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, b, flags) < 0)
        return -1;
    const char *f = b->format;
    if (!f || f[0] == '\0' || f[1] != '\0' || !strchr(letters, f[0]) || b->itemsize != itemsize) {
        PyBuffer_Release(b);
        PyErr_Format(PyExc_TypeError, "_area: `%s` must hold %s", name, kind);
        return -1;
    }
    return 0;
}

static int
need(const Py_buffer *b, Py_ssize_t nbytes, const char *name)
{
    if (b->len != nbytes) {
        PyErr_Format(PyExc_ValueError, "_area: `%s` has %zd bytes, expected %zd", name, b->len,
                     nbytes);
        return -1;
    }
    return 0;
}

static int
fail(const char *message)
{
    PyErr_SetString(PyExc_ValueError, message);
    return -1;
}

/* Check the tables against the sizes, copy them into one owned block, plan SIMD. */
static int
plan_init(Plan *p, Py_buffer *b, Py_ssize_t src_rows, Py_ssize_t src_cols, Py_ssize_t step)
{
    /* int32 is 'l' where long has 4 bytes */
    Py_ssize_t nx = b[0].len / 4, ny = b[2].len / 4;
    Py_ssize_t kx = nx ? b[1].len / 4 / nx : 0, ky = ny ? b[3].len / 4 / ny : 0;
    if (src_rows < 1 || src_cols < 1 || nx == 0 || ny == 0 || kx == 0 || ky == 0)
        return fail("_area.Plan: empty image or table");
    /* Bounded sides keep every size product below in range (2^24 * 2^25 < 2^63). */
    if (src_rows > MAX_SIDE || src_cols > MAX_SIDE || nx > MAX_SIDE || ny > MAX_SIDE)
        return fail("_area.Plan: image side over 2**24");
    if (ky > src_rows || kx > src_cols)
        return fail("_area.Plan: more taps than source pixels");
    if (step < 1 || (kx > 1 && step > (src_cols - 1) / (kx - 1)))
        return fail("_area.Plan: `xstep` out of range");
    if (need(&b[1], nx * kx * 4, "xweight") || need(&b[3], ny * ky * 4, "yweight"))
        return -1;
    const int32_t *xs = b[0].buf, *ys = b[2].buf;
    for (Py_ssize_t j = 0; j < nx; j++)
        if (xs[j] < 0 || xs[j] > src_cols - 1 - (kx - 1) * step)
            return fail("_area.Plan: `xstart` out of range");
    for (Py_ssize_t i = 0; i < ny; i++)
        if (ys[i] < 0 || ys[i] > src_rows - ky)
            return fail("_area.Plan: `ystart` out of range");
    Py_ssize_t slots = 1, ngroups = 0;
    while (slots < ky)
        slots *= 2;
#ifdef AREA_SIMD
    if (step == 1 && src_cols >= 16)
        ngroups = nx / 4;
#endif
    /* pointer-sized parts first, then 4-byte ones, then bytes */
    size_t bytes = sizeof(Py_ssize_t) * ngroups + 4 * (nx + nx * kx + ny + ny * ky)
                   + 4 * 4 * ngroups * kx + 16 * ngroups * kx;
    char *at = p->block = PyMem_Malloc(bytes);
    if (!at) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t *window = (Py_ssize_t *)at;
    int32_t *xs_own = (int32_t *)(window + ngroups), *ys_own = xs_own + nx;
    float *xw_own = (float *)(ys_own + ny), *yw_own = xw_own + nx * kx;
    float(*weight)[4] = (float(*)[4])(yw_own + ny * ky);
    uint8_t(*mask)[16] = (uint8_t(*)[16])(weight + ngroups * kx);
    memcpy(xs_own, xs, 4 * nx);
    memcpy(xw_own, b[1].buf, 4 * nx * kx);
    memcpy(ys_own, ys, 4 * ny);
    memcpy(yw_own, b[3].buf, 4 * ny * ky);
    p->src_rows = src_rows, p->src_cols = src_cols, p->out_rows = ny, p->out_cols = nx;
    p->kx = kx, p->ky = ky, p->step = step, p->slots = slots;
    p->xs = xs_own, p->xw = xw_own, p->ys = ys_own, p->yw = yw_own;
    p->window = window, p->mask = (const uint8_t(*)[16])mask;
    p->weight = (const float(*)[4])weight, p->ngroups = ngroups;
#ifdef AREA_SIMD
    if (ngroups > 0 && plan_groups(p, window, mask, weight) != 0)
        p->ngroups = 0; /* taps too far apart for one window: the portable horizontal pass */
#endif
    return 0;
}

static PyObject *
plan_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"src_rows", "src_cols", "xstart", "xweight",
                               "ystart",   "yweight",  "xstep",  NULL};
    Py_ssize_t src_rows, src_cols, step;
    PyObject *obj[4];
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "nnOOOOn:Plan", keywords, &src_rows,
                                     &src_cols, &obj[0], &obj[1], &obj[2], &obj[3], &step))
        return NULL;
    static const char *names[4] = {"xstart", "xweight", "ystart", "yweight"};
    static const char *letters[4] = {"il", "f", "il", "f"};
    static const char *kinds[4] = {"int32", "float32", "int32", "float32"};
    Py_buffer b[4];
    int got = 0;
    for (; got < 4; got++)
        if (get_buffer(obj[got], &b[got], 0, letters[got], 4, names[got], kinds[got]) < 0)
            break;
    Plan *p = NULL;
    if (got == 4) {
        p = (Plan *)type->tp_alloc(type, 0);
        if (p && plan_init(p, b, src_rows, src_cols, step) < 0)
            Py_CLEAR(p);
    }
    for (int i = 0; i < got; i++)
        PyBuffer_Release(&b[i]);
    return (PyObject *)p;
}

static void
plan_dealloc(Plan *p)
{
    PyMem_Free(p->block);
    Py_TYPE(p)->tp_free((PyObject *)p);
}

static PyObject *
plan_resize(Plan *p, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 && nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "Plan.resize takes 2 or 3 arguments");
        return NULL;
    }
    int portable = nargs == 3 ? PyObject_IsTrue(args[2]) : 0;
    if (portable < 0)
        return NULL;
    Py_buffer src, dst;
    if (get_buffer(args[0], &src, 0, "B", 1, "src", "uint8") < 0)
        return NULL;
    if (get_buffer(args[1], &dst, 1, "B", 1, "dst", "uint8") < 0) {
        PyBuffer_Release(&src);
        return NULL;
    }
    PyObject *result = NULL;
    char *mem = NULL;
    if (need(&src, p->src_rows * p->src_cols, "src") || need(&dst, p->out_rows * p->out_cols, "dst"))
        goto done;
    /* The ring is the call's own, so threads may share a plan. */
    mem = PyMem_RawMalloc(sizeof(Py_ssize_t) * p->slots + sizeof(float *) * p->ky
                          + sizeof(float) * p->slots * p->out_cols);
    if (!mem) {
        PyErr_NoMemory();
        goto done;
    }
    Work t = {src.buf, dst.buf, NULL, (Py_ssize_t *)mem, NULL};
    t.taps = (const float **)(t.ring_row + p->slots);
    t.ring = (float *)(t.taps + p->ky);
    int simd = 0;
#ifdef AREA_SIMD
    simd = !portable && have_ssse3;
#endif
    Py_BEGIN_ALLOW_THREADS
    shrink(p, &t, simd);
    Py_END_ALLOW_THREADS
    result = Py_NewRef(Py_None);
done:
    PyMem_RawFree(mem);
    PyBuffer_Release(&src);
    PyBuffer_Release(&dst);
    return result;
}

static PyMethodDef plan_methods[] = {
    {"resize", (PyCFunction)(void (*)(void))plan_resize, METH_FASTCALL,
     "resize(src, dst[, portable]): shrink src into dst."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "gymkit.wrappers._area.Plan",
    .tp_basicsize = sizeof(Plan),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Plan(src_rows, src_cols, xstart, xweight, ystart, yweight, xstep): the "
              "checked tables of one INTER_AREA shrink (see gymkit.wrappers.area_resize).",
    .tp_new = plan_new,
    .tp_dealloc = (destructor)plan_dealloc,
    .tp_methods = plan_methods,
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "gymkit.wrappers._area",
    "OpenCV's INTER_AREA shrink for uint8 images, bit for bit, faster.", -1, NULL,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__area(void)
{
#ifdef AREA_SIMD
    have_ssse3 = __builtin_cpu_supports("ssse3");
#endif
    if (PyType_Ready(&PlanType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module && PyModule_AddObjectRef(module, "Plan", (PyObject *)&PlanType) < 0)
        Py_CLEAR(module);
    return module;
}
