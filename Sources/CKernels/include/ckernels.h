// Element-wise and row kernels in C: clang vectorises these loops for the CPU it runs on
// (function multi-versioning picks AVX-512, AVX2+FMA or baseline code at load time), which
// Swift's generic SIMD types do not reliably do. Called from the Swift kernels in `Kernels`.
#ifndef SHALLOT_CKERNELS_H
#define SHALLOT_CKERNELS_H
#include <stddef.h>

float sh_dot(const float *a, const float *b, long n);
/// y += alpha * x
void sh_axpy(float *y, float alpha, const float *x, long n);
float sh_max(const float *x, long n);
/// Σ exp(x - shift)
float sh_expsum(const float *x, long n, float shift);
/// out = exp(x - shift) * scale (out may alias x); returns Σ exp(x - shift)
float sh_expscaled(float *out, const float *x, long n, float shift, float scale);
/// (E_p[l], E_p[l^2]) with l = x - lse, p = exp(l)
void sh_logsoftmax_moments(const float *x, long n, float lse, double *mean, double *meansq);
void sh_gelu_forward(float *out, const float *inp, long n);
/// dinp += gelu'(inp) * dout
void sh_gelu_backward(float *dinp, const float *inp, const float *dout, long n);
/// Σ x^2 in double
double sh_sumsq(const float *x, long n);
#endif
