// The single-precision GEMM every layer goes through, and the choice of the BLAS kernel.
//
// Debian's OpenBLAS 0.3.21 picks its CPU kernel when the library is loaded and misdetects
// AVX-512 processors (it falls back to a generic kernel ~6x slower). A library linked at build
// time has already chosen before `main` runs, so on Linux OpenBLAS is opened here with `dlopen`
// after setting `OPENBLAS_CORETYPE` when the CPU reports AVX-512 and the user set nothing.
// On macOS Accelerate is used directly.

#if canImport(Accelerate)
import Accelerate
#else
import CBLAS
import Foundation
#endif

/// Whether a GEMM operand is read as stored or transposed.
public enum Transpose: Sendable {
    case none, transposed
}

/// What was loaded and why; printed by `shallot bench gemm`.
public struct BLASInfo: Sendable, CustomStringConvertible {
    public var library: String
    /// OpenBLAS's name for the kernel it runs ("SkylakeX", "Haswell", "Zen", "Prescott"...).
    public var kernel: String
    public var threads: Int
    /// How the kernel was chosen: by the user's environment, by Shallot, or by the library.
    public var choice: String
    public var description: String { "\(library), kernel \(kernel), \(threads) threads (\(choice))" }
}

public enum BLASError: Error, CustomStringConvertible {
    case notFound(tried: [String], reason: String)
    case missingSymbol(String, library: String)
    public var description: String {
        switch self {
        case .notFound(let tried, let reason):
            return "cannot load OpenBLAS (tried \(tried.joined(separator: ", "))): \(reason). Install it with `apt-get install -y libopenblas-dev` (or run `make deps`)."
        case .missingSymbol(let s, let lib):
            return "\(lib) has no symbol \(s); is it OpenBLAS?"
        }
    }
}

public enum BLAS {
    #if !canImport(Accelerate)
    typealias SgemmFn = @convention(c) (CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, Int32, Int32, Int32,
                                        Float, UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32,
                                        Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias SgemvFn = @convention(c) (CBLAS_ORDER, CBLAS_TRANSPOSE, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
                                        UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias CorenameFn = @convention(c) () -> UnsafeMutablePointer<CChar>?
    typealias SetThreadsFn = @convention(c) (Int32) -> Void
    typealias GetThreadsFn = @convention(c) () -> Int32

    struct Loaded: @unchecked Sendable {
        let sgemm: SgemmFn
        let sgemv: SgemvFn
        let setThreads: SetThreadsFn?
        let getThreads: GetThreadsFn?
        let info: BLASInfo
    }

    static let loaded: Result<Loaded, BLASError> = load()

    /// True when /proc/cpuinfo lists AVX-512 Foundation + the subsets the SkylakeX kernel uses.
    static func cpuHasAVX512() -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return false }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        return ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
    }

    static func load() -> Result<Loaded, BLASError> {
        var choice = "detected by OpenBLAS"
        if let user = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"], !user.isEmpty {
            choice = "OPENBLAS_CORETYPE=\(user) from the environment"
        } else if cpuHasAVX512() {
            setenv("OPENBLAS_CORETYPE", "SkylakeX", 1)
            choice = "SkylakeX chosen by Shallot: the CPU has AVX-512"
        }
        let names = ["libopenblas.so.0", "libopenblas.so", "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
                     "/usr/lib/aarch64-linux-gnu/libopenblas.so.0"]
        var handle: UnsafeMutableRawPointer?
        var used = ""
        for n in names {
            if let h = dlopen(n, RTLD_NOW | RTLD_LOCAL) { handle = h; used = n; break }
        }
        guard let h = handle else {
            let err = dlerror().map { String(cString: $0) } ?? "not found"
            return .failure(.notFound(tried: names, reason: err))
        }
        guard let g = dlsym(h, "cblas_sgemm") else { return .failure(.missingSymbol("cblas_sgemm", library: used)) }
        let sgemm = unsafeBitCast(g, to: SgemmFn.self)
        guard let gv = dlsym(h, "cblas_sgemv") else { return .failure(.missingSymbol("cblas_sgemv", library: used)) }
        let sgemv = unsafeBitCast(gv, to: SgemvFn.self)
        let core = dlsym(h, "openblas_get_corename").map { unsafeBitCast($0, to: CorenameFn.self) }
        let setT = dlsym(h, "openblas_set_num_threads").map { unsafeBitCast($0, to: SetThreadsFn.self) }
        let getT = dlsym(h, "openblas_get_num_threads").map { unsafeBitCast($0, to: GetThreadsFn.self) }
        let kernel = core.flatMap { $0() }.map { String(cString: $0) } ?? "unknown"
        setT?(1)  // Shallot splits GEMMs across its own workers (see `sgemm`).
        let info = BLASInfo(library: "OpenBLAS (\(used))", kernel: kernel, threads: Int(getT?() ?? 1), choice: choice)
        return .success(Loaded(sgemm: sgemm, sgemv: sgemv, setThreads: setT, getThreads: getT, info: info))
    }

    static var fns: Loaded {
        switch loaded {
        case .success(let l): return l
        case .failure(let e): fatalError(e.description)
        }
    }
    #endif

    /// Loads the BLAS now and reports what was loaded; throws when it cannot be loaded.
    public static func info() throws -> BLASInfo {
        #if canImport(Accelerate)
        return BLASInfo(library: "Accelerate", kernel: "Accelerate", threads: ProcessInfo.processInfo.activeProcessorCount, choice: "system")
        #else
        var i = try loaded.get().info
        i.threads = Parallel.threads
        return i
        #endif
    }

    /// Sets the number of workers GEMMs are split across (the BLAS itself stays single-threaded).
    public static func setThreads(_ n: Int) {
        Parallel.threads = n
    }

    /// Row-major C(M×N) = alpha · op(A)(M×K) · op(B)(K×N) + beta · C.
    /// `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored.
    ///
    /// The product is split into one block of rows (or columns) per worker of `Parallel`, each
    /// computed by a single-threaded BLAS call. OpenBLAS's own thread pool spins (sched_yield)
    /// after every call, and on a 2-core machine those spinning threads fight the kernels' worker
    /// threads for the cores; with one pool for everything there is nothing to fight over.
    public static func sgemm(_ ta: Transpose, _ tb: Transpose, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let parts = Parallel.threads
        let work = m * n * max(k, 1)
        if parts <= 1 || work < 1 << 18 {
            sgemmSerial(ta, tb, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let (A, B, C) = (UncheckedSendable(a), UncheckedSendable(b), UncheckedSendable(c))
        if m >= n || m >= 256 {
            // Blocks of rows of C (and of op(A)), rounded to 16 rows.
            let blocks = min(parts, (m + 15) / 16)
            Parallel.forRanges(blocks) { r in
                for i in r {
                    let lo = (m * i / blocks) & ~15, hi = i == blocks - 1 ? m : (m * (i + 1) / blocks) & ~15
                    if hi <= lo { continue }
                    let aOff = ta == .none ? lo * lda : lo
                    sgemmSerial(ta, tb, m: hi - lo, n: n, k: k, alpha: alpha, a: A.value + aOff, lda: lda, b: B.value, ldb: ldb,
                                beta: beta, c: C.value + lo * ldc, ldc: ldc)
                }
            }
        } else {
            // Blocks of columns of C (and of op(B)), rounded to 16 columns.
            let blocks = min(parts, (n + 15) / 16)
            Parallel.forRanges(blocks) { r in
                for i in r {
                    let lo = (n * i / blocks) & ~15, hi = i == blocks - 1 ? n : (n * (i + 1) / blocks) & ~15
                    if hi <= lo { continue }
                    let bOff = tb == .none ? lo : lo * ldb
                    sgemmSerial(ta, tb, m: m, n: hi - lo, k: k, alpha: alpha, a: A.value, lda: lda, b: B.value + bOff, ldb: ldb,
                                beta: beta, c: C.value + lo, ldc: ldc)
                }
            }
        }
    }

    /// One BLAS call on the calling thread (the BLAS library itself runs single-threaded).
    @inline(__always)
    static func sgemmSerial(_ ta: Transpose, _ tb: Transpose, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if m == 1 {
            // A single row is a matrix-vector product; GEMV kernels stream the matrix once
            // (this is the batch-1 decoding path). y(N) = op(B)^T x, x = the row of op(A).
            let incx = ta == .none ? 1 : lda
            if tb == .none {  // B stored (K, N)
                sgemvRaw(.transposed, rows: k, cols: n, alpha: alpha, a: b, lda: ldb, x: a, incx: incx, beta: beta, y: c)
            } else {          // B stored (N, K)
                sgemvRaw(.none, rows: n, cols: k, alpha: alpha, a: b, lda: ldb, x: a, incx: incx, beta: beta, y: c)
            }
            return
        }
        #if canImport(Accelerate)
        cblas_sgemm(CblasRowMajor, ta == .none ? CblasNoTrans : CblasTrans, tb == .none ? CblasNoTrans : CblasTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        #else
        fns.sgemm(CblasRowMajor, ta == .none ? CblasNoTrans : CblasTrans, tb == .none ? CblasNoTrans : CblasTrans,
                  Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        #endif
    }

    /// Row-major y = alpha · op(A) x + beta · y, A stored (rows, cols).
    @inline(__always)
    static func sgemvRaw(_ t: Transpose, rows: Int, cols: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                         x: UnsafePointer<Float>, incx: Int, beta: Float, y: UnsafeMutablePointer<Float>) {
        #if canImport(Accelerate)
        cblas_sgemv(CblasRowMajor, t == .none ? CblasNoTrans : CblasTrans, Int32(rows), Int32(cols), alpha, a, Int32(lda), x, Int32(incx), beta, y, 1)
        #else
        fns.sgemv(CblasRowMajor, t == .none ? CblasNoTrans : CblasTrans, Int32(rows), Int32(cols), alpha, a, Int32(lda), x, Int32(incx), beta, y, 1)
        #endif
    }
}
