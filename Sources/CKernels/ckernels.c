// See include/ckernels.h. Reductions keep 16 independent partial sums so that the loops
// vectorise without reassociation flags; results are the same for any CPU width because the
// partial sums are combined in a fixed order.
#include "ckernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#define MV __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MV
#endif

#define W 16

static inline float hsum(const float *acc) {
    float s = 0;
    for (int j = 0; j < W; j++) s += acc[j];
    return s;
}

// exp by range reduction x = n ln2 + r and the Cephes expf polynomial; relative error ~2e-7
// on [-87.3, 88.37] (inputs are clamped there: below gives ~1e-38 instead of 0).
static inline float fexp(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.37f ? 88.37f : x);
    const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    float shifted = x * 1.44269504088896341f + magic;
    float fx = shifted - magic;
    x = x - fx * 0.693359375f;
    x = x + fx * 2.12194440e-4f;
    float z = x * x;
    float y = 1.9875691500e-4f;
    y = y * x + 1.3981999507e-3f;
    y = y * x + 8.3334519073e-3f;
    y = y * x + 4.1665795894e-2f;
    y = y * x + 1.6666665459e-1f;
    y = y * x + 5.0000001201e-1f;
    y = y * z + x + 1.0f;
    int32_t n;
    memcpy(&n, &shifted, 4);
    n -= 0x4B400000;
    int32_t bits = (n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return y * scale;
}

static inline float ftanh(float u) {
    u = u < -9.0f ? -9.0f : (u > 9.0f ? 9.0f : u);
    return 1.0f - 2.0f / (fexp(2.0f * u) + 1.0f);
}

MV float sh_dot(const float *a, const float *b, long n) {
    float acc[W] = {0};
    long i = 0;
    for (; i + W <= n; i += W)
        for (int j = 0; j < W; j++) acc[j] += a[i + j] * b[i + j];
    float s = hsum(acc);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

MV void sh_axpy(float *y, float alpha, const float *x, long n) {
    for (long i = 0; i < n; i++) y[i] += alpha * x[i];
}

MV float sh_max(const float *x, long n) {
    float acc[W];
    for (int j = 0; j < W; j++) acc[j] = -INFINITY;
    long i = 0;
    for (; i + W <= n; i += W)
        for (int j = 0; j < W; j++) acc[j] = x[i + j] > acc[j] ? x[i + j] : acc[j];
    float m = -INFINITY;
    for (int j = 0; j < W; j++) m = acc[j] > m ? acc[j] : m;
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

MV float sh_expsum(const float *x, long n, float shift) {
    float acc[W] = {0};
    long i = 0;
    for (; i + W <= n; i += W)
        for (int j = 0; j < W; j++) acc[j] += fexp(x[i + j] - shift);
    float s = hsum(acc);
    for (; i < n; i++) s += fexp(x[i] - shift);
    return s;
}

MV float sh_expscaled(float *out, const float *x, long n, float shift, float scale) {
    float acc[W] = {0};
    long i = 0;
    for (; i + W <= n; i += W)
        for (int j = 0; j < W; j++) {
            float e = fexp(x[i + j] - shift);
            acc[j] += e;
            out[i + j] = e * scale;
        }
    float s = hsum(acc);
    for (; i < n; i++) { float e = fexp(x[i] - shift); s += e; out[i] = e * scale; }
    return s;
}

MV void sh_logsoftmax_moments(const float *x, long n, float lse, double *mean, double *meansq) {
    float m[W] = {0}, m2[W] = {0};
    long i = 0;
    for (; i + W <= n; i += W)
        for (int j = 0; j < W; j++) {
            float l = x[i + j] - lse;
            float pl = fexp(l) * l;
            m[j] += pl;
            m2[j] += pl * l;
        }
    double a = hsum(m), b = hsum(m2);
    for (; i < n; i++) { float l = x[i] - lse; double pl = (double)fexp(l) * l; a += pl; b += pl * l; }
    *mean = a;
    *meansq = b;
}

#define GELU_S 0.7978845608028654f  // sqrt(2/pi)

MV void sh_gelu_forward(float *out, const float *inp, long n) {
    for (long i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + ftanh(GELU_S * (x + 0.044715f * x * x * x)));
    }
}

MV void sh_gelu_backward(float *dinp, const float *inp, const float *dout, long n) {
    for (long i = 0; i < n; i++) {
        float x = inp[i];
        float t = ftanh(GELU_S * (x + 0.044715f * x * x * x));
        float g = 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_S * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += g * dout[i];
    }
}

MV double sh_sumsq(const float *x, long n) {
    double total = 0;
    long i = 0;
    while (i < n) {
        long end = i + 4096 < n ? i + 4096 : n;
        float acc[W] = {0};
        for (; i + W <= end; i += W)
            for (int j = 0; j < W; j++) acc[j] += x[i + j] * x[i + j];
        float s = hsum(acc);
        for (; i < end; i++) s += x[i] * x[i];
        total += s;
    }
    return total;
}

// ---------------------------------------------------------------------------------------------
// Causal attention, one (batch, head) pair at a time. These give bit for bit the results of the
// row-at-a-time formulation (sh_dot per score, sh_axpy per weighted row) they replace: every
// output element sees the same operations in the same order; only the loops are arranged so
// that the CPU works on many elements at once.
//  - A dot product q·k_t2 is sh_dot's: 16 partial sums acc[j] over the chunks of 16, added in
//    j order, then the tail. Here 16 keys are computed side by side from a transposed copy of
//    the keys; partial sum j is finished before it is added, which changes nothing because the
//    partial sums do not depend on each other.
//  - A weighted sum Σ w_t2 v_t2 (y += w x per term, as sh_axpy) keeps y in registers across the
//    terms instead of loading and storing it for every term; the terms come in the same order.
// Products and sums that were written in Swift (which never fuses a multiply and an add) are
// kept unfused here.

#define KB 16

static inline __attribute__((always_inline)) long attn_ld(long T) { return (T + KB - 1) / KB * KB; }

// yT[i * ld + t] = y_t[i] for t < T, 0 for T <= t < ld, where y_t = src + t * stride.
static inline __attribute__((always_inline)) void attn_transpose(float *yT, const float *src, long stride, long T, long hs) {
    long ld = attn_ld(T);
    for (long i = 0; i < hs; i++) {
        float *r = yT + i * ld;
        for (long t = 0; t < T; t++) r[t] = src[t * stride + i];
        for (long t = T; t < ld; t++) r[t] = 0;
    }
}

// dst[t2] = sh_dot(x, y_t2, hs) for t2 < n, y_t2[i] = yT[i * ld + t2]. Four blocks of 16 keys
// at a time where there are four (independent chains keep the FMA units busy), then one.
static inline __attribute__((always_inline)) void attn_dots(float *dst, const float *x, const float *yT, long ld, long n, long hs) {
    long chunks = hs / W, blocks = (n + KB - 1) / KB, b = 0;
    for (; b + 4 <= blocks; b += 4) {
        long k0 = b * KB;
        float s[4][KB];
        for (int q = 0; q < 4; q++) for (int l = 0; l < KB; l++) s[q][l] = 0;
        for (int j = 0; j < W; j++) {
            float a[4][KB];
            for (int q = 0; q < 4; q++) for (int l = 0; l < KB; l++) a[q][l] = 0;
            for (long c = 0; c < chunks; c++) {
                float xv = x[c * W + j];
                const float *yr = yT + (c * W + j) * ld + k0;
                for (int q = 0; q < 4; q++) for (int l = 0; l < KB; l++) a[q][l] += xv * yr[q * KB + l];
            }
            for (int q = 0; q < 4; q++) for (int l = 0; l < KB; l++) s[q][l] += a[q][l];
        }
        for (long i = chunks * W; i < hs; i++) {
            float xv = x[i];
            const float *yr = yT + i * ld + k0;
            for (int q = 0; q < 4; q++) for (int l = 0; l < KB; l++) s[q][l] += xv * yr[q * KB + l];
        }
        for (int q = 0; q < 4; q++) {
            long m = n - (k0 + q * KB) < KB ? n - (k0 + q * KB) : KB;
            for (long l = 0; l < m; l++) dst[k0 + q * KB + l] = s[q][l];
        }
    }
    for (; b < blocks; b++) {
        long k0 = b * KB;
        float s[KB];
        for (int l = 0; l < KB; l++) s[l] = 0;
        for (int j = 0; j < W; j++) {
            float a[KB];
            for (int l = 0; l < KB; l++) a[l] = 0;
            for (long c = 0; c < chunks; c++) {
                float xv = x[c * W + j];
                const float *yr = yT + (c * W + j) * ld + k0;
                for (int l = 0; l < KB; l++) a[l] += xv * yr[l];
            }
            for (int l = 0; l < KB; l++) s[l] += a[l];
        }
        for (long i = chunks * W; i < hs; i++) {
            float xv = x[i];
            const float *yr = yT + i * ld + k0;
            for (int l = 0; l < KB; l++) s[l] += xv * yr[l];
        }
        long m = n - k0 < KB ? n - k0 : KB;
        for (long l = 0; l < m; l++) dst[k0 + l] = s[l];
    }
}

// Weighted sums of rows: y_r[i] += Σ_{t in [lo, hi)} w_r(t) · x_t[i], t increasing, for R rows
// y_r at once (R independent accumulator chains), with w_r(t) = w_r[t · wstride] times
// m_r[t · wstride] when there is a dropout mask, x_t = x + t · xstride. Elements i0 ..< i0 + L.
static inline __attribute__((always_inline)) void wsum_rows(float *const *y, const int R, const float *const *w, const float *const *m,
                                                             long wstride, const float *x, long xstride, long lo, long hi, long i0, const int L) {
    float acc[4][64];
    for (int r = 0; r < R; r++) for (int l = 0; l < L; l++) acc[r][l] = y[r][i0 + l];
    for (long t = lo; t < hi; t++) {
        const float *xr = x + t * xstride + i0;
        for (int r = 0; r < R; r++) {
            float wv = w[r][t * wstride];
            if (m[r]) wv = wv * m[r][t * wstride];
            for (int l = 0; l < L; l++) acc[r][l] += wv * xr[l];
        }
    }
    for (int r = 0; r < R; r++) for (int l = 0; l < L; l++) y[r][i0 + l] = acc[r][l];
}

// The same over every element of rows of `hs` floats: blocks of 64, 32 or 16 kept in registers,
// then one element at a time for what is left (head sizes that are not multiples of 16).
static inline __attribute__((always_inline)) void wsum(float *const *y, const int R, const float *const *w, const float *const *m,
                                                        long wstride, const float *x, long xstride, long lo, long hi, long hs) {
    if (lo >= hi) return;
    long i0 = 0;
    for (; i0 + 64 <= hs; i0 += 64) {
        if (R == 4) wsum_rows(y, 4, w, m, wstride, x, xstride, lo, hi, i0, 64); else wsum_rows(y, 1, w, m, wstride, x, xstride, lo, hi, i0, 64);
    }
    if (i0 + 32 <= hs) {
        if (R == 4) wsum_rows(y, 4, w, m, wstride, x, xstride, lo, hi, i0, 32); else wsum_rows(y, 1, w, m, wstride, x, xstride, lo, hi, i0, 32);
        i0 += 32;
    }
    if (i0 + 16 <= hs) {
        if (R == 4) wsum_rows(y, 4, w, m, wstride, x, xstride, lo, hi, i0, 16); else wsum_rows(y, 1, w, m, wstride, x, xstride, lo, hi, i0, 16);
        i0 += 16;
    }
    for (; i0 < hs; i0++)
        for (int r = 0; r < R; r++) wsum_rows(y + r, 1, w + r, m + r, wstride, x, xstride, lo, hi, i0, 1);
}

// Rows y_t = ybase + t · ystride for t < T: y_t (+)= Σ_{t2 ≤ t} w_t(t2) x_t2 with w_t = wbase + t · T
// (mask likewise). Four rows share the keys 0 ... t0; the later rows then add their own last ones.
static inline __attribute__((always_inline)) void prefix_rows(float *ybase, long ystride, int accumulate, const float *wbase, const float *mbase,
                                                               long T, const float *x, long xstride, long hs) {
    for (long t0 = 0; t0 < T; t0 += 4) {
        int R = T - t0 < 4 ? (int)(T - t0) : 4;
        float *y[4]; const float *w[4], *m[4];
        for (int r = 0; r < R; r++) {
            y[r] = ybase + (t0 + r) * ystride;
            w[r] = wbase + (t0 + r) * T;
            m[r] = mbase ? mbase + (t0 + r) * T : NULL;
            if (!accumulate) for (long i = 0; i < hs; i++) y[r][i] = 0;
        }
        if (R == 4) {
            wsum(y, 4, w, m, 1, x, xstride, 0, t0 + 1, hs);
            for (int r = 1; r < 4; r++) wsum(y + r, 1, w + r, m + r, 1, x, xstride, t0 + 1, t0 + r + 1, hs);
        } else {
            for (int r = 0; r < R; r++) wsum(y + r, 1, w + r, m + r, 1, x, xstride, 0, t0 + r + 1, hs);
        }
    }
}

// Rows y_t2 = ybase + t2 · ystride for t2 < T: y_t2 += Σ_{t ≥ t2} w(t, t2) x_t with
// w(t, t2) = wbase[t · T + t2] (mask likewise). Each of four rows first adds its own first terms,
// then the four share t ≥ t2 + 4.
static inline __attribute__((always_inline)) void suffix_rows(float *ybase, long ystride, const float *wbase, const float *mbase,
                                                               long T, const float *x, long xstride, long hs) {
    for (long t2 = 0; t2 < T; t2 += 4) {
        int R = T - t2 < 4 ? (int)(T - t2) : 4;
        float *y[4]; const float *w[4], *m[4];
        for (int r = 0; r < R; r++) {
            y[r] = ybase + (t2 + r) * ystride;
            w[r] = wbase + t2 + r;
            m[r] = mbase ? mbase + t2 + r : NULL;
        }
        if (R == 4) {
            for (int r = 0; r < 4; r++) wsum(y + r, 1, w + r, m + r, T, x, xstride, t2 + r, t2 + 4, hs);
            wsum(y, 4, w, m, T, x, xstride, t2 + 4, T, hs);
        } else {
            for (int r = 0; r < R; r++) wsum(y + r, 1, w + r, m + r, T, x, xstride, t2 + r, T, hs);
        }
    }
}

MV void sh_attention_forward_head(float *out, float *att, const float *mask, const float *qkv,
                                  long T, long C, long h, long hs, float scale, float *kT) {
    long C3 = 3 * C, ld = attn_ld(T);
    attn_transpose(kT, qkv + C + h * hs, C3, T, hs);
    for (long t = 0; t < T; t++) {
        const float *q = qkv + t * C3 + h * hs;
        float *row = att + t * T;
        attn_dots(row, q, kT, ld, t + 1, hs);
        float maxv = -3.40282346638528859812e+38f;
        for (long t2 = 0; t2 <= t; t2++) {
            float s = row[t2] * scale;
            row[t2] = s;
            if (s > maxv) maxv = s;
        }
        float sum = sh_expscaled(row, row, t + 1, maxv, 1.0f);
        float inv = 1.0f / sum;
        for (long t2 = 0; t2 <= t; t2++) row[t2] *= inv;
        for (long t2 = t + 1; t2 < T; t2++) row[t2] = 0;
    }
    // out_t = Σ_{t2 ≤ t} p[t][t2] (· mask) v_t2
    prefix_rows(out + h * hs, C, 0, att, mask, T, qkv + 2 * C + h * hs, C3, hs);
}

MV void sh_attention_backward_head(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                                   const float *mask, long T, long C, long h, long hs, float scale, float *vT) {
    long C3 = 3 * C, ld = attn_ld(T);
    attn_transpose(vT, qkv + 2 * C + h * hs, C3, T, hs);
    // scratch row t: datt = dO_t · v_t2 (times the dropout mask), then the softmax backward
    // dpre = p · (datt − Σ p·datt) · scale.
    for (long t = 0; t < T; t++) {
        const float *row = att + t * T;
        float *drow = scratch + t * T;
        attn_dots(drow, dout + t * C + h * hs, vT, ld, t + 1, hs);
        if (mask) {
            const float *mrow = mask + t * T;
            for (long t2 = 0; t2 <= t; t2++) drow[t2] = drow[t2] * mrow[t2];
        }
        float dotp = 0;
        for (long t2 = 0; t2 <= t; t2++) {
            #pragma clang fp contract(off)
            dotp = dotp + row[t2] * drow[t2];
        }
        for (long t2 = 0; t2 <= t; t2++) {
            #pragma clang fp contract(off)
            drow[t2] = row[t2] * (drow[t2] - dotp) * scale;
        }
    }
    // dv_t2 += Σ_{t ≥ t2} p[t][t2] (· mask) dO_t;  dk_t2 += Σ_{t ≥ t2} dpre[t][t2] q_t
    suffix_rows(dqkv + 2 * C + h * hs, C3, att, mask, T, dout + h * hs, C, hs);
    suffix_rows(dqkv + C + h * hs, C3, scratch, NULL, T, qkv + h * hs, C3, hs);
    // dq_t += Σ_{t2 ≤ t} dpre[t][t2] k_t2
    prefix_rows(dqkv + h * hs, C3, 1, scratch, NULL, T, qkv + C + h * hs, C3, hs);
}
