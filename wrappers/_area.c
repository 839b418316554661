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
 * resize(src, dst, scratch, xstart, xweight, ystart, yweight, xstep[, portable])
 *   src      uint8  (H, W*cn) C-contiguous
 *   dst      uint8  (h, w*cn) C-contiguous, written
 *   scratch  float32 (H, w*cn), overwritten (the horizontal pass, one row per source row)
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

/* ---- portable kernels: any channel count, any CPU ------------------------------ */

static void
horizontal(const uint8_t *restrict src, Py_ssize_t src_rows, Py_ssize_t src_cols,
           float *restrict rows, Py_ssize_t out_cols, const int32_t *restrict xstart,
           const float *restrict xweight, Py_ssize_t kx, Py_ssize_t step)
{
    for (Py_ssize_t r = 0; r < src_rows; r++) {
        const uint8_t *restrict s = src + r * src_cols;
        float *restrict b = rows + r * out_cols;
        for (Py_ssize_t j = 0; j < out_cols; j++) {
            const uint8_t *p = s + xstart[j];
            const float *w = xweight + kx * j;
            float acc = (float)p[0] * w[0];
            for (Py_ssize_t k = 1; k < kx; k++)
                acc = acc + (float)p[k * step] * w[k];
            b[j] = acc;
        }
    }
}

static inline uint8_t
to_u8(float v)
{
    /* OpenCV's saturate_cast<uchar>(float): round half to even, then clamp. */
    long n = lrintf(v);
    return (uint8_t)(n < 0 ? 0 : (n > 255 ? 255 : n));
}

static void
vertical(const float *restrict rows, Py_ssize_t out_cols, uint8_t *restrict dst,
         Py_ssize_t out_rows, const int32_t *restrict ystart,
         const float *restrict yweight, Py_ssize_t ky)
{
    for (Py_ssize_t i = 0; i < out_rows; i++) {
        const float *base = rows + (Py_ssize_t)ystart[i] * out_cols;
        const float *w = yweight + ky * i;
        for (Py_ssize_t j = 0; j < out_cols; j++) {
            float acc = base[j] * w[0];
            for (Py_ssize_t k = 1; k < ky; k++)
                acc = acc + base[k * out_cols + j] * w[k];
            dst[i * out_cols + j] = to_u8(acc);
        }
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
 * a shuffle mask and the 4 weights. Built once per call from xstart/xweight. */
typedef struct {
    Py_ssize_t *window;  /* ngroups */
    uint8_t (*mask)[16]; /* ngroups * kx */
    float (*weight)[4];  /* ngroups * kx */
} Groups;

static int
plan_groups(Groups *g, Py_ssize_t src_cols, const int32_t *xstart, const float *xweight,
            Py_ssize_t kx, Py_ssize_t ngroups)
{
    for (Py_ssize_t q = 0; q < ngroups; q++) {
        Py_ssize_t w0 = xstart[4 * q];
        if (w0 > src_cols - 16)
            w0 = src_cols - 16;
        g->window[q] = w0;
        for (Py_ssize_t k = 0; k < kx; k++) {
            uint8_t *m = g->mask[q * kx + k];
            float *wt = g->weight[q * kx + k];
            for (int lane = 0; lane < 4; lane++) {
                Py_ssize_t j = 4 * q + lane, off = xstart[j] + k - w0;
                if (off < 0 || off > 15)
                    return -1; /* taps too far apart for one window: use the portable kernel */
                m[4 * lane] = (uint8_t)off;
                m[4 * lane + 1] = m[4 * lane + 2] = m[4 * lane + 3] = 0x80; /* zero bytes */
                wt[lane] = xweight[kx * j + k];
            }
        }
    }
    return 0;
}

__attribute__((target("ssse3"))) static void
horizontal_ssse3(const uint8_t *restrict src, Py_ssize_t src_rows, Py_ssize_t src_cols,
                 float *restrict rows, Py_ssize_t out_cols, const Groups *g,
                 Py_ssize_t ngroups, const int32_t *restrict xstart,
                 const float *restrict xweight, Py_ssize_t kx)
{
    for (Py_ssize_t r = 0; r < src_rows; r++) {
        const uint8_t *s = src + r * src_cols;
        float *b = rows + r * out_cols;
        for (Py_ssize_t q = 0; q < ngroups; q++) {
            __m128i bytes = _mm_loadu_si128((const __m128i *)(s + g->window[q]));
            const uint8_t(*m)[16] = g->mask + q * kx;
            const float(*wt)[4] = g->weight + q * kx;
            __m128 acc = _mm_mul_ps(
                _mm_cvtepi32_ps(_mm_shuffle_epi8(bytes, _mm_loadu_si128((const __m128i *)m[0]))),
                _mm_loadu_ps(wt[0]));
            for (Py_ssize_t k = 1; k < kx; k++) {
                __m128i picked = _mm_shuffle_epi8(bytes, _mm_loadu_si128((const __m128i *)m[k]));
                acc = _mm_add_ps(acc, _mm_mul_ps(_mm_cvtepi32_ps(picked), _mm_loadu_ps(wt[k])));
            }
            _mm_storeu_ps(b + 4 * q, acc);
        }
        for (Py_ssize_t j = 4 * ngroups; j < out_cols; j++) { /* the last 0-3 columns */
            const uint8_t *p = s + xstart[j];
            const float *w = xweight + kx * j;
            float acc = (float)p[0] * w[0];
            for (Py_ssize_t k = 1; k < kx; k++)
                acc = acc + (float)p[k] * w[k];
            b[j] = acc;
        }
    }
}

static void
vertical_sse2(const float *restrict rows, Py_ssize_t out_cols, uint8_t *restrict dst,
              Py_ssize_t out_rows, const int32_t *restrict ystart,
              const float *restrict yweight, Py_ssize_t ky)
{
    for (Py_ssize_t i = 0; i < out_rows; i++) {
        const float *base = rows + (Py_ssize_t)ystart[i] * out_cols;
        const float *w = yweight + ky * i;
        uint8_t *d = dst + i * out_cols;
        Py_ssize_t j = 0;
        for (; j + 4 <= out_cols; j += 4) {
            __m128 acc = _mm_mul_ps(_mm_loadu_ps(base + j), _mm_set1_ps(w[0]));
            for (Py_ssize_t k = 1; k < ky; k++)
                acc = _mm_add_ps(acc,
                                 _mm_mul_ps(_mm_loadu_ps(base + k * out_cols + j), _mm_set1_ps(w[k])));
            /* cvtps2dq rounds half to even (as lrintf); the saturating packs clamp. */
            __m128i n = _mm_cvtps_epi32(acc);
            n = _mm_packus_epi16(_mm_packs_epi32(n, n), _mm_setzero_si128());
            int32_t four = _mm_cvtsi128_si32(n);
            memcpy(d + j, &four, 4);
        }
        for (; j < out_cols; j++) {
            float acc = base[j] * w[0];
            for (Py_ssize_t k = 1; k < ky; k++)
                acc = acc + base[k * out_cols + j] * w[k];
            d[j] = to_u8(acc);
        }
    }
}
#endif

/* Both passes, on the SIMD kernels where they apply unless `portable`; returns -1 with
 * MemoryError set when a plan cannot be allocated. */
static int
shrink(const uint8_t *src, Py_ssize_t src_rows, Py_ssize_t src_cols, float *rows,
       uint8_t *dst, Py_ssize_t out_rows, Py_ssize_t out_cols, const int32_t *xs,
       const float *xw, Py_ssize_t kx, const int32_t *ys, const float *yw, Py_ssize_t ky,
       Py_ssize_t step, int portable)
{
#ifdef AREA_SIMD
    Py_ssize_t ngroups = out_cols / 4;
    if (!portable && step == 1 && src_cols >= 16 && ngroups > 0
        && __builtin_cpu_supports("ssse3")) {
        char *mem = PyMem_RawMalloc((size_t)(ngroups * (kx * 32 + (Py_ssize_t)sizeof(Py_ssize_t))));
        if (!mem) {
            PyErr_NoMemory();
            return -1;
        }
        Groups g = {(Py_ssize_t *)(mem + ngroups * kx * 32), (uint8_t(*)[16])mem,
                    (float(*)[4])(mem + ngroups * kx * 16)};
        int planned = plan_groups(&g, src_cols, xs, xw, kx, ngroups) == 0;
        if (planned) {
            Py_BEGIN_ALLOW_THREADS
            horizontal_ssse3(src, src_rows, src_cols, rows, out_cols, &g, ngroups, xs, xw, kx);
            vertical_sse2(rows, out_cols, dst, out_rows, ys, yw, ky);
            Py_END_ALLOW_THREADS
        }
        PyMem_RawFree(mem);
        if (planned)
            return 0;
    }
#else
    (void)portable;
#endif
    Py_BEGIN_ALLOW_THREADS
    horizontal(src, src_rows, src_cols, rows, out_cols, xs, xw, kx, step);
    vertical(rows, out_cols, dst, out_rows, ys, yw, ky);
    Py_END_ALLOW_THREADS
    return 0;
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

static PyObject *
area_resize(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 8 && nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "_area.resize takes 8 or 9 arguments");
        return NULL;
    }
    Py_ssize_t step = PyLong_AsSsize_t(args[7]);
    if (step == -1 && PyErr_Occurred())
        return NULL;
    int portable = nargs == 9 ? PyObject_IsTrue(args[8]) : 0;
    if (portable < 0)
        return NULL;
    static const char *names[7] = {"src",    "dst",     "scratch", "xstart",
                                   "xweight", "ystart", "yweight"};
    /* Accepted struct letters per argument (int32 is 'l' where long has 4 bytes). */
    static const char *formats[7] = {"B", "B", "f", "il", "f", "il", "f"};
    static const Py_ssize_t sizes[7] = {1, 1, 4, 4, 4, 4, 4};
    static const char *kinds[7] = {"uint8",  "uint8", "float32", "int32",
                                   "float32", "int32", "float32"};
    Py_buffer b[7];
    int got = 0;
    char *tables = NULL;
    PyObject *result = NULL;
    for (; got < 7; got++) {
        int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT;
        if (got == 1 || got == 2)
            flags |= PyBUF_WRITABLE;
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
        Py_ssize_t src_rows = b[0].shape[0], src_cols = b[0].len / src_rows;
        Py_ssize_t out_cols = b[3].len / 4, out_rows = b[5].len / 4;
        Py_ssize_t kx = out_cols ? b[4].len / 4 / out_cols : 0;
        Py_ssize_t ky = out_rows ? b[6].len / 4 / out_rows : 0;
        if (out_cols == 0 || out_rows == 0 || kx == 0 || ky == 0 || src_cols == 0) {
            PyErr_SetString(PyExc_ValueError, "_area.resize: empty image or table");
            goto done;
        }
        if (step < 1 || (kx > 1 && step > (src_cols - 1) / (kx - 1))) {
            PyErr_SetString(PyExc_ValueError, "_area.resize: `xstep` out of range");
            goto done;
        }
        if (src_rows > PY_SSIZE_T_MAX / 4 / out_cols) {
            PyErr_SetString(PyExc_ValueError, "_area.resize: image too large");
            goto done;
        }
        if (need(&b[2], src_rows * out_cols * 4, "scratch")
            || need(&b[1], out_rows * out_cols, "dst")
            || need(&b[4], out_cols * kx * 4, "xweight")
            || need(&b[6], out_rows * ky * 4, "yweight"))
            goto done;
        /* Private copies of the tables: once checked, nothing (an aliasing scratch or
         * dst, another thread) can change them while the GIL is released. */
        size_t nx = (size_t)out_cols, ny = (size_t)out_rows;
        tables = PyMem_RawMalloc(4 * (nx + nx * kx + ny + ny * ky));
        if (!tables) {
            PyErr_NoMemory();
            goto done;
        }
        int32_t *xs = (int32_t *)tables, *ys = xs + nx + nx * kx;
        float *xw = (float *)(xs + nx), *yw = (float *)(ys + ny);
        memcpy(xs, b[3].buf, 4 * nx);
        memcpy(xw, b[4].buf, 4 * nx * kx);
        memcpy(ys, b[5].buf, 4 * ny);
        memcpy(yw, b[6].buf, 4 * ny * ky);
        for (Py_ssize_t j = 0; j < out_cols; j++)
            if (xs[j] < 0 || xs[j] > src_cols - 1 - (kx - 1) * step) {
                PyErr_SetString(PyExc_ValueError, "_area.resize: `xstart` out of range");
                goto done;
            }
        for (Py_ssize_t i = 0; i < out_rows; i++)
            if (ys[i] < 0 || ys[i] > src_rows - ky) {
                PyErr_SetString(PyExc_ValueError, "_area.resize: `ystart` out of range");
                goto done;
            }
        if (shrink((const uint8_t *)b[0].buf, src_rows, src_cols, (float *)b[2].buf,
                   (uint8_t *)b[1].buf, out_rows, out_cols, xs, xw, kx, ys, yw, ky, step,
                   portable) == 0)
            result = Py_NewRef(Py_None);
    }
done:
    PyMem_RawFree(tables);
    for (int i = 0; i < got; i++)
        PyBuffer_Release(&b[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"resize", (PyCFunction)(void (*)(void))area_resize, METH_FASTCALL,
     "resize(src, dst, scratch, xstart, xweight, ystart, yweight, xstep[, portable]): "
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
