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
/// One (batch, head) of causal attention. qkv, out: the batch's rows ((T, 3C), (T, C)); att, mask:
/// the pair's (T, T) probabilities and dropout multipliers (mask may be NULL); kT: 16 * ceil(T/16) * hs
/// floats of scratch.
void sh_attention_forward_head(float *out, float *att, const float *mask, const float *qkv,
                               long T, long C, long h, long hs, float scale, float *kT);
/// Its backward: dqkv (the batch's rows) accumulates; scratch: the pair's (T, T); vT as kT.
void sh_attention_backward_head(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att,
                                const float *mask, long T, long C, long h, long hs, float scale, float *vT);
#endif
