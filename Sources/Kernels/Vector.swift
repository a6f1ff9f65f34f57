// Small vector helpers the kernels share: SIMD dot product, scaled add, sums.

@inline(__always)
public func vdot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 32 <= n {
        acc0 += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        acc1 += ra.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self) * rb.loadUnaligned(fromByteOffset: (i + 16) * 4, as: SIMD16<Float>.self)
        i += 32
    }
    while i + 16 <= n {
        acc0 += ra.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) * rb.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    var s = (acc0 + acc1).sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}

/// y[i] += alpha * x[i]
@inline(__always)
public func vaxpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, _ n: Int) {
    var i = 0
    let ry = UnsafeMutableRawPointer(y), rx = UnsafeRawPointer(x)
    let va = SIMD16<Float>(repeating: alpha)
    while i + 16 <= n {
        let v = ry.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self) + va * rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        ry.storeBytes(of: v, toByteOffset: i * 4, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { y[i] += alpha * x[i]; i += 1 }
}

/// y[i] += x[i]
@inline(__always)
public func vadd(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    for i in 0..<n { y[i] += x[i] }
}

/// Sum of squares in Double, for norms that must not lose precision.
public func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
    var acc = SIMD16<Float>()
    var total = 0.0
    var i = 0
    let rx = UnsafeRawPointer(x)
    while i + 16 <= n {
        let v = rx.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<Float>.self)
        acc += v * v
        i += 16
        if i % 4096 == 0 { total += Double(acc.sum()); acc = SIMD16<Float>() }
    }
    total += Double(acc.sum())
    while i < n { total += Double(x[i]) * Double(x[i]); i += 1 }
    return total
}
