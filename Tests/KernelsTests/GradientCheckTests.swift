import Foundation
import Support
// Finite-difference checks of every backward op on tiny shapes, and the fast kernels against
// their naive references.

import Testing
import Kernels

/// A Float array with a stable pointer for the duration of a test.
final class Buf {
    var a: [Float]
    init(_ n: Int, seed: UInt64, scale: Float = 1) {
        var r = SplitMix64(seed: seed)
        a = (0..<n).map { _ in (r.nextFloat() * 2 - 1) * scale }
    }
    init(zeros n: Int) { a = [Float](repeating: 0, count: n) }
    var p: UnsafeMutablePointer<Float> { a.withUnsafeMutableBufferPointer { $0.baseAddress! } }
}

/// Checks d(Σ w·f(x))/dx from `analytic` against central differences on every element of `x`.
func gradCheck(_ name: String, x: Buf, eps: Float = 1e-2, tol: Float = 1e-3,
               f: () -> [Float], weights w: [Float], analytic: [Float], sourceLocation: SourceLocation = #_sourceLocation) {
    func objective() -> Double { zip(f(), w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
    var worst: Float = 0
    for i in 0..<x.a.count {
        let orig = x.a[i]
        x.a[i] = orig + eps; let up = objective()
        x.a[i] = orig - eps; let down = objective()
        x.a[i] = orig
        let num = Float((up - down) / Double(2 * eps))
        let err = abs(num - analytic[i]) / max(1, abs(num))
        worst = max(worst, err)
        if err > tol {
            Issue.record("\(name)[\(i)]: numeric \(num) vs analytic \(analytic[i])", sourceLocation: sourceLocation)
            return
        }
    }
    #expect(worst <= tol)
}

@Suite struct GradientChecks {
    @Test(arguments: [WeightLayout.inOut, .outIn]) func matmul(layout: WeightLayout) {
        let N = 3, C = 5, OC = 4
        let x = Buf(N * C, seed: 1), wt = Buf(C * OC, seed: 2), b = Buf(OC, seed: 3), w = Buf(N * OC, seed: 4)
        let out = Buf(zeros: N * OC)
        func f() -> [Float] { Matmul.forward(out: out.p, inp: x.p, weight: wt.p, bias: b.p, N: N, C: C, OC: OC, layout: layout); return out.a }
        let dx = Buf(zeros: N * C), dw = Buf(zeros: C * OC), db = Buf(zeros: OC)
        Matmul.backward(dinp: dx.p, dweight: dw.p, dbias: db.p, dout: w.p, inp: x.p, weight: wt.p, N: N, C: C, OC: OC, layout: layout)
        gradCheck("dinp", x: x, f: f, weights: w.a, analytic: dx.a)
        gradCheck("dweight", x: wt, f: f, weights: w.a, analytic: dw.a)
        gradCheck("dbias", x: b, f: f, weights: w.a, analytic: db.a)
    }

    @Test func layerNorm() {
        let N = 4, C = 7
        let x = Buf(N * C, seed: 5, scale: 2), g = Buf(C, seed: 6), b = Buf(C, seed: 7), w = Buf(N * C, seed: 8)
        let out = Buf(zeros: N * C), mean = Buf(zeros: N), rstd = Buf(zeros: N)
        func f() -> [Float] { LayerNorm.forward(out: out.p, mean: mean.p, rstd: rstd.p, inp: x.p, weight: g.p, bias: b.p, N: N, C: C, eps: 1e-5); return out.a }
        _ = f()
        let dx = Buf(zeros: N * C), dg = Buf(zeros: C), db = Buf(zeros: C)
        LayerNorm.backward(dinp: dx.p, dweight: dg.p, dbias: db.p, dout: w.p, inp: x.p, weight: g.p, mean: mean.p, rstd: rstd.p, N: N, C: C)
        gradCheck("dinp", x: x, eps: 1e-3, f: f, weights: w.a, analytic: dx.a)
        gradCheck("dweight", x: g, f: f, weights: w.a, analytic: dg.a)
        gradCheck("dbias", x: b, f: f, weights: w.a, analytic: db.a)
    }

    @Test func gelu() {
        let N = 40
        let x = Buf(N, seed: 9, scale: 4), w = Buf(N, seed: 10), out = Buf(zeros: N)
        func f() -> [Float] { GELU.forward(out: out.p, inp: x.p, N: N); return out.a }
        let dx = Buf(zeros: N)
        GELU.backward(dinp: dx.p, inp: x.p, dout: w.p, N: N)
        gradCheck("dinp", x: x, eps: 1e-3, f: f, weights: w.a, analytic: dx.a)
    }

    @Test(arguments: [false, true]) func attention(dropout: Bool) {
        let B = 2, T = 5, C = 8, NH = 2
        let qkv = Buf(B * T * 3 * C, seed: 11), w = Buf(B * T * C, seed: 12)
        let out = Buf(zeros: B * T * C), att = Buf(zeros: B * NH * T * T), mask = Buf(zeros: B * NH * T * T)
        if dropout { Dropout.makeMask(mask.p, N: mask.a.count, p: 0.3, seed: 3, stream: 1) }
        let m: UnsafePointer<Float>? = dropout ? UnsafePointer(mask.p) : nil
        func f() -> [Float] { Attention.forward(out: out.p, att: att.p, mask: m, qkv: qkv.p, B: B, T: T, C: C, NH: NH); return out.a }
        _ = f()
        let dqkv = Buf(zeros: qkv.a.count), scratch = Buf(zeros: B * NH * T * T)
        Attention.backward(dqkv: dqkv.p, scratch: scratch.p, dout: w.p, qkv: qkv.p, att: att.p, mask: m, B: B, T: T, C: C, NH: NH)
        gradCheck("dqkv", x: qkv, eps: 1e-3, f: f, weights: w.a, analytic: dqkv.a)
    }

    @Test func crossEntropy() {
        let N = 3, V = 6
        let x = Buf(N * V, seed: 13, scale: 3)
        let targets: [Int32] = [2, -1, 5]
        let losses = Buf(zeros: N), lse = Buf(zeros: N)
        func f() -> [Float] {
            targets.withUnsafeBufferPointer { CrossEntropy.forward(losses: losses.p, lse: lse.p, logits: x.p, targets: $0.baseAddress!, N: N, V: V) }
            return losses.a
        }
        _ = f()
        #expect(losses.a[1] == 0)
        let w: [Float] = [0.7, 1, -0.4]
        let d = Buf(zeros: N * V)
        targets.withUnsafeBufferPointer { t in
            w.withUnsafeBufferPointer { CrossEntropy.backward(dlogits: d.p, logits: x.p, lse: lse.p, targets: t.baseAddress!, dloss: $0.baseAddress!, N: N, V: V) }
        }
        gradCheck("dlogits", x: x, eps: 1e-3, f: f, weights: w, analytic: d.a)
    }

    @Test func encoder() {
        let N = 4, C = 3, V = 5, maxT = 4
        let wte = Buf(V * C, seed: 14), wpe = Buf(maxT * C, seed: 15), w = Buf(N * C, seed: 16), out = Buf(zeros: N * C)
        let tokens: [Int32] = [1, 4, 1, 0], pos: [Int32] = [0, 1, 2, 3]
        func f() -> [Float] {
            tokens.withUnsafeBufferPointer { t in pos.withUnsafeBufferPointer { Encoder.forward(out: out.p, tokens: t.baseAddress!, positions: $0.baseAddress!, wte: wte.p, wpe: wpe.p, N: N, C: C) } }
            return out.a
        }
        let dwte = Buf(zeros: V * C), dwpe = Buf(zeros: maxT * C)
        tokens.withUnsafeBufferPointer { t in pos.withUnsafeBufferPointer { Encoder.backward(dwte: dwte.p, dwpe: dwpe.p, dout: w.p, tokens: t.baseAddress!, positions: $0.baseAddress!, N: N, C: C) } }
        gradCheck("dwte", x: wte, f: f, weights: w.a, analytic: dwte.a)
        gradCheck("dwpe", x: wpe, f: f, weights: w.a, analytic: dwpe.a)
    }
}

@Suite struct FastVersusNaive {
    @Test(arguments: [(1, 64, 96), (7, 33, 65), (130, 70, 300)], [WeightLayout.inOut, .outIn])
    func matmulAgrees(shape: (Int, Int, Int), layout: WeightLayout) {
        let (N, C, OC) = shape
        let x = Buf(N * C, seed: 1), w = Buf(C * OC, seed: 2), b = Buf(OC, seed: 3), dout = Buf(N * OC, seed: 4)
        let fast = Buf(zeros: N * OC), slow = Buf(zeros: N * OC)
        Matmul.forward(out: fast.p, inp: x.p, weight: w.p, bias: b.p, N: N, C: C, OC: OC, layout: layout)
        Matmul.forwardNaive(out: slow.p, inp: x.p, weight: w.p, bias: b.p, N: N, C: C, OC: OC, layout: layout)
        #expect(zip(fast.a, slow.a).allSatisfy { abs($0 - $1) <= 1e-4 * max(1, abs($1)) })
        let dx1 = Buf(zeros: N * C), dw1 = Buf(zeros: C * OC), db1 = Buf(zeros: OC)
        let dx2 = Buf(zeros: N * C), dw2 = Buf(zeros: C * OC), db2 = Buf(zeros: OC)
        Matmul.backward(dinp: dx1.p, dweight: dw1.p, dbias: db1.p, dout: dout.p, inp: x.p, weight: w.p, N: N, C: C, OC: OC, layout: layout)
        Matmul.backwardNaive(dinp: dx2.p, dweight: dw2.p, dbias: db2.p, dout: dout.p, inp: x.p, weight: w.p, N: N, C: C, OC: OC, layout: layout)
        for (a, b) in [(dx1, dx2), (dw1, dw2), (db1, db2)] {
            #expect(zip(a.a, b.a).allSatisfy { abs($0 - $1) <= 1e-3 * max(1, abs($1)) })
        }
    }

    @Test func gemmTransposedOperandsAndSingleRow() {
        // C = Aᵀ·B with A stored (K, M) and a one-row product (the GEMV route).
        let M = 1, K = 9, N = 11
        let a = Buf(K * M, seed: 5), b = Buf(N * K, seed: 6), c = Buf(zeros: M * N)
        BLAS.sgemm(.transposed, .transposed, m: M, n: N, k: K, a: a.p, lda: M, b: b.p, ldb: K, beta: 0, c: c.p, ldc: N)
        for j in 0..<N {
            var s: Float = 0
            for k in 0..<K { s += a.a[k * M] * b.a[j * K + k] }
            #expect(abs(c.a[j] - s) < 1e-4)
        }
    }

    @Test func dropoutMaskIsSeededAndHasTheRightRate() {
        let n = 100_000
        let m1 = Buf(zeros: n), m2 = Buf(zeros: n), m3 = Buf(zeros: n)
        Dropout.makeMask(m1.p, N: n, p: 0.1, seed: 7, stream: 3)
        Dropout.makeMask(m2.p, N: n, p: 0.1, seed: 7, stream: 3)
        Dropout.makeMask(m3.p, N: n, p: 0.1, seed: 8, stream: 3)
        #expect(m1.a == m2.a)
        #expect(m1.a != m3.a)
        let dropped = m1.a.filter { $0 == 0 }.count
        #expect(abs(Double(dropped) / Double(n) - 0.1) < 0.005)
        #expect(m1.a.allSatisfy { $0 == 0 || abs($0 - 1 / 0.9) < 1e-6 })
    }

    @Test func parallelRangesCoverEverythingOnce() {
        for count in [0, 1, 7, 1000] {
            var hits = [Int](repeating: 0, count: count)
            hits.withUnsafeMutableBufferPointer { hb in
                let h = UncheckedSendable(hb.baseAddress!)
                Parallel.forRanges(count) { r in for i in r { h.value[i] += 1 } }
            }
            #expect(hits.allSatisfy { $0 == 1 })
        }
    }

    @Test func blasReportsItsKernel() throws {
        let info = try BLAS.info()
        #expect(!info.kernel.isEmpty && info.kernel != "unknown")
    }
}

@Suite struct VectorisedMath {
    @Test func fastExpAndGeluMatchLibm() {
        let xs: [Float] = (0..<2001).map { Float($0 - 1000) * 0.05 }  // [-50, 50]
        var out = [Float](repeating: 0, count: xs.count)
        let sum = xs.withUnsafeBufferPointer { x in out.withUnsafeMutableBufferPointer { vexpScaled($0.baseAddress!, x.baseAddress!, xs.count, minus: 0, times: 1) } }
        var ref = 0.0
        for (x, e) in zip(xs, out) {
            let r = Foundation.exp(Double(x))
            ref += r
            #expect(abs(Double(e) - r) <= 3e-7 * r + 1e-37, "exp(\(x))")
        }
        #expect(abs(Double(sum) - ref) <= 1e-5 * ref)
        var g = [Float](repeating: 0, count: xs.count)
        xs.withUnsafeBufferPointer { x in g.withUnsafeMutableBufferPointer { GELU.forward(out: $0.baseAddress!, inp: x.baseAddress!, N: xs.count) } }
        for (x, y) in zip(xs, g) { #expect(abs(y - GELU.reference(x)) <= 1e-6 * max(1, abs(x)), "gelu(\(x))") }
    }

    @Test func reductionsAgreeWithScalarSums() {
        let a = Buf(1037, seed: 21), b = Buf(1037, seed: 22)
        var d = 0.0, s = 0.0, m = -Float.infinity
        for i in 0..<1037 { d += Double(a.a[i]) * Double(b.a[i]); s += Double(a.a[i]) * Double(a.a[i]); m = max(m, a.a[i]) }
        #expect(abs(Double(vdot(a.p, b.p, 1037)) - d) < 1e-4)
        #expect(abs(sumOfSquares(a.p, 1037) - s) < 1e-4)
        #expect(vmax(a.p, 1037) == m)
    }
}
