// Vector helpers the kernels share. The loops themselves are in C (CKernels), where clang
// vectorises them for the running CPU; these wrappers give them Swift names.

import CKernels

@inline(__always)
public func vdot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float { sh_dot(a, b, n) }

/// y[i] += alpha * x[i]
@inline(__always)
public func vaxpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, _ n: Int) { sh_axpy(y, alpha, x, n) }

/// y[i] += x[i]
@inline(__always)
public func vadd(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) { sh_axpy(y, 1, x, n) }

/// max_i x[i]
@inline(__always)
public func vmax(_ x: UnsafePointer<Float>, _ n: Int) -> Float { sh_max(x, n) }

/// Σ_i exp(x[i] − shift)
@inline(__always)
public func vexpSum(_ x: UnsafePointer<Float>, _ n: Int, minus shift: Float) -> Float { sh_expsum(x, n, shift) }

/// out[i] = exp(x[i] − shift) · scale (out may alias x); returns Σ exp(x[i] − shift).
@inline(__always)
@discardableResult
public func vexpScaled(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int, minus shift: Float, times scale: Float) -> Float {
    sh_expscaled(out, x, n, shift, scale)
}

/// E_p[l] and E_p[l²] for l = x − lse (the log-probabilities of a row) under p = e^l.
public func logSoftmaxMoments(_ x: UnsafePointer<Float>, _ n: Int, lse: Float) -> (Double, Double) {
    var m = 0.0, m2 = 0.0
    sh_logsoftmax_moments(x, n, lse, &m, &m2)
    return (m, m2)
}

/// Σ x² in Double (partial sums per 4096 elements), for norms that must not lose precision.
public func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Double { sh_sumsq(x, n) }
