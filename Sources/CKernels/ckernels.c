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
