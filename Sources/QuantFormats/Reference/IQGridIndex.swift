/// The search structures the i-quant quantizers use to snap groups of weights onto a codebook,
/// built exactly as ggml's `iq2xs_init_impl` / `iq3xs_init_impl` build them.
///
/// A group of `dims` weights (8 for IQ2_*/IQ1_*, 4 for IQ3_*) is first rounded to a point of the
/// full lattice: level `l` per coordinate (2 bits each for 8-wide groups, 3 bits for 4-wide ones),
/// packed into the *map index* `u = Σ l[k] << (bits·k)`. In the quantizer's coordinates a level
/// `l` sits at position `2l + 1`. The codebook (the "grid") is a subset of that lattice:
///
/// - `map[u] >= 0`: `u` is grid point number `map[u]`;
/// - `map[u] < 0`: `u` is off the grid, and `neighbours[-map[u] - 1]` starts its neighbour list:
///   a count `n` followed by `n` grid indices — every grid point whose squared distance to `u`
///   is among the `nwant` smallest distinct distances, in increasing (distance, index) order.
///
/// ggml keeps the quantizer's grids as separate level tables (`kgrid_2bit_256`, …, `kgrid_512` in
/// ggml-quants.c); they are exactly the level indices of the dequantization codebooks in
/// ggml-common.h, entry for entry, so they are derived from `IQGrids` here.
///
/// The layout (lists in increasing `u`, each a count then the indices) is ggml's, so the lists
/// and the order candidates are tried in are identical. Built once per codebook, lazily and
/// thread-safely (Swift `static let`), and immutable afterwards.
final class IQGridIndex: @unchecked Sendable {
    /// Coordinates per grid point (8 or 4).
    let dims: Int
    /// Number of grid points.
    let gridSize: Int
    /// Grid point `j`'s coordinates `2l+1`, `dims` bytes each (ggml's `kgrid_q2xs`/`kgrid_q3xs`).
    let grid: UnsafeMutablePointer<Int8>
    /// The same coordinates as floats (what the distance loops use; exact).
    let gridF: UnsafeMutablePointer<Float>
    /// Map index → grid index, or -(offset + 1) of the neighbour list (ggml's `kmap_q*xs`).
    let map: UnsafeMutablePointer<Int32>
    /// Neighbour lists (ggml's `kneighbors_q*xs`).
    let neighbours: UnsafeMutablePointer<UInt16>

    /// - Parameters:
    ///   - codebook: the dequantization grid as little-endian bytes, `dims` per point.
    ///   - levels: the byte values of levels 0, 1, 2, … as they appear in `codebook`.
    ///   - dims: coordinates per point; 8 (2-bit levels, map size 43692) or 4 (3-bit, 4096).
    ///   - nwant: how many distinct nearest distances each neighbour list covers.
    init(codebook: [UInt8], levels: [UInt8], dims: Int, nwant: Int) {
        precondition(dims == 8 || dims == 4)
        self.dims = dims
        let bits = dims == 8 ? 2 : 3
        let mapSize = dims == 8 ? 43692 : 4096
        gridSize = codebook.count / dims
        grid = .allocate(capacity: gridSize * dims)
        gridF = .allocate(capacity: gridSize * dims)
        map = .allocate(capacity: mapSize)
        map.initialize(repeating: -1, count: mapSize)

        // kgrid: level l of each coordinate stored as 2l+1; kmap: lattice index → grid index.
        for j in 0 ..< gridSize {
            var index = 0
            for k in 0 ..< dims {
                guard let l = levels.firstIndex(of: codebook[j * dims + k]) else {
                    fatalError("codebook byte \(codebook[j * dims + k]) is not a level")
                }
                grid[j * dims + k] = Int8(2 * l + 1)
                gridF[j * dims + k] = Float(2 * l + 1)
                index |= l << (bits * k)
            }
            map[index] = Int32(j)
        }

        // Squared distances, split in two halves of dims/2 coordinates: for half-indices a, b
        // (each dims/2 levels of `bits` bits), half[a·S + b] = Σ ((2la+1) − (2lb+1))².
        let halfBits = bits * dims / 2, S = 1 << halfBits, mask = S - 1
        let half = UnsafeMutablePointer<Int>.allocate(capacity: S * S)
        for a in 0 ..< S {
            for b in 0 ..< S {
                var d2 = 0
                for k in 0 ..< dims / 2 {
                    let la = (a >> (bits * k)) & ((1 << bits) - 1), lb = (b >> (bits * k)) & ((1 << bits) - 1)
                    d2 += 4 * (la - lb) * (la - lb)
                }
                half[a * S + b] = d2
            }
        }
        let gLo = UnsafeMutablePointer<Int>.allocate(capacity: gridSize)
        let gHi = UnsafeMutablePointer<Int>.allocate(capacity: gridSize)
        for j in 0 ..< gridSize {
            var index = 0
            for k in 0 ..< dims { index |= (Int(grid[j * dims + k] - 1) / 2) << (bits * k) }
            gLo[j] = index & mask
            gHi[j] = index >> halfBits
        }
        let maxD2 = dims * 4 * ((1 << bits) - 1) * ((1 << bits) - 1)
        let dist = UnsafeMutablePointer<Int>.allocate(capacity: gridSize)
        let hist = UnsafeMutablePointer<Int>.allocate(capacity: maxD2 + 1)
        let next = UnsafeMutablePointer<Int>.allocate(capacity: maxD2 + 1)
        defer {
            half.deallocate(); gLo.deallocate(); gHi.deallocate()
            dist.deallocate(); hist.deallocate(); next.deallocate()
        }

        // ggml sorts all grid points by (distance, index) — a total order, as indices are
        // unique — and keeps the prefix covering the `nwant` smallest distinct distances. A
        // counting sort over the (small) distance range yields the same prefix.
        var lists: [UInt16] = []
        lists.reserveCapacity(mapSize * 8)
        for i in 0 ..< mapSize where map[i] < 0 {
            let rowLo = half + (i & mask) * S, rowHi = half + (i >> halfBits) * S
            hist.initialize(repeating: 0, count: maxD2 + 1)
            var j = 0  // (a while loop: this runs ~10⁸ times, and debug builds test it too)
            while j < gridSize {
                let d2 = rowLo[gLo[j]] &+ rowHi[gHi[j]]
                dist[j] = d2
                hist[d2] &+= 1
                j &+= 1
            }
            var nhave = 0, cutoff = 0, n = 0
            for d in 0 ... maxD2 where hist[d] > 0 {
                nhave += 1; cutoff = d; n += hist[d]
                if nhave == nwant { break }
            }
            let start = lists.count
            map[i] = Int32(-(start + 1))
            lists.append(UInt16(n))
            lists.append(contentsOf: repeatElement(0, count: n))
            var at = start + 1
            for d in 0 ... cutoff { next[d] = at; at += hist[d] }
            for j in 0 ..< gridSize where dist[j] <= cutoff {
                let d = dist[j]
                lists[next[d]] = UInt16(j)
                next[d] += 1
            }
        }
        neighbours = .allocate(capacity: lists.count)
        neighbours.initialize(from: lists, count: lists.count)
    }

    deinit {
        grid.deallocate(); gridF.deallocate(); map.deallocate(); neighbours.deallocate()
    }

    /// The little-endian bytes of a codebook table.
    static func bytes<T: FixedWidthInteger>(_ table: [T]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(table.count * T.bitWidth / 8)
        for v in table {
            for b in 0 ..< T.bitWidth / 8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * b))) }
        }
        return out
    }

    static let iq2xxs = IQGridIndex(codebook: bytes(IQGrids.iq2xxs), levels: [0x08, 0x19, 0x2b], dims: 8, nwant: 2)
    static let iq2xs = IQGridIndex(codebook: bytes(IQGrids.iq2xs), levels: [0x08, 0x19, 0x2b], dims: 8, nwant: 2)
    static let iq2s = IQGridIndex(codebook: bytes(IQGrids.iq2s), levels: [0x08, 0x19, 0x2b], dims: 8, nwant: 1)
    /// Shared by IQ1_S and IQ1_M (ggml's slot 2: both use nwant = 3).
    static let iq1s = IQGridIndex(codebook: bytes(IQGrids.iq1s), levels: [0xff, 0x00, 0x01], dims: 8, nwant: 3)
    static let iq3xxs = IQGridIndex(codebook: bytes(IQGrids.iq3xxs), levels: [4, 12, 20, 28, 36, 44, 52, 62], dims: 4, nwant: 2)
    static let iq3s = IQGridIndex(codebook: bytes(IQGrids.iq3s), levels: [1, 3, 5, 7, 9, 11, 13, 15], dims: 4, nwant: 3)

    /// The neighbour list of the off-grid map index `u`: count at [0], indices at [1...count].
    @inline(__always) func neighbourList(_ u: Int) -> UnsafeMutablePointer<UInt16> {
        neighbours + Int(-map[u] - 1)
    }

    /// ggml's `iq2_find_best_neighbour` (dims 8) / `iq3_find_best_neighbour` (dims 4): among the
    /// neighbours of off-grid index `u`, the grid point minimising Σ w·(scale·q − x)²
    /// (first one on ties); writes its levels to `L` and returns its index.
    @inline(__always)
    func bestNeighbour(_ u: Int, _ xval: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
                       _ scale: Float, _ L: UnsafeMutablePointer<Int8>) -> Int {
        let nb = neighbourList(u)
        let count = Int(nb[0])
        precondition(count > 0)
        var bestD2 = Float.greatestFiniteMagnitude
        var gridIndex = -1
        // The hottest loop of the i-quants: plain while loops keep debug builds tolerable.
        var j = 1
        while j <= count {
            let pg = gridF + Int(nb[j]) &* dims
            var d2: Float = 0
            var i = 0
            while i < dims {
                let q = pg[i]
                let diff = scale * q - xval[i]
                d2 += weight[i] * diff * diff
                i &+= 1
            }
            if d2 < bestD2 { bestD2 = d2; gridIndex = Int(nb[j]) }
            j &+= 1
        }
        if gridIndex < 0 { fatalError("i-quant: no grid neighbour found (non-finite input?)") }  // GGML_ASSERT
        let pg = grid + gridIndex * dims
        for i in 0 ..< dims { L[i] = (pg[i] - 1) / 2 }
        return gridIndex
    }

    /// ggml's `iq1_find_best_neighbour2` (8-wide grids): like `bestNeighbour`, but level `l`
    /// stands for the value `xg[l]`. Writes the levels to `L`, returns the grid index.
    ///
    /// If no neighbour gives a finite distance ggml scans the whole grid, reading `xval[i]` with
    /// the grid index `i` (an out-of-group read, harmless only because the branch needs
    /// overflowing inputs); here reads past the `xvalReadable` values available are NaN.
    @inline(__always)
    func bestNeighbour1(_ u: Int, _ xval: UnsafePointer<Float>, _ xvalReadable: Int, _ weight: UnsafePointer<Float>,
                        _ scale: Float, _ xg: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>) -> Int {
        let nb = neighbourList(u)
        let count = Int(nb[0])
        precondition(count > 0)
        var bestScore = Float.greatestFiniteMagnitude
        var gridIndex = -1
        for j in 1 ... count {
            let pg = grid + Int(nb[j]) * 8
            var d2: Float = 0
            for i in 0 ..< 8 {
                let q = xg[Int((pg[i] - 1) / 2)]
                let w = weight[i]
                let diff = scale * q - xval[i]
                d2 += w * diff * diff
            }
            if d2 < bestScore { bestScore = d2; gridIndex = Int(nb[j]) }
        }
        if gridIndex < 0 {
            for i in 0 ..< gridSize {
                let gi = grid + i * 8
                var d2: Float = 0
                let xi = i < xvalReadable ? xval[i] : .nan
                for j in 0 ..< 8 {
                    let w = weight[j]
                    let q = xg[Int((gi[j] - 1) / 2)]
                    let diff = scale * q - xi
                    d2 += w * diff * diff
                }
                if d2 < bestScore { bestScore = d2; gridIndex = i }
            }
        }
        if gridIndex < 0 { fatalError("IQ1: no grid point found (non-finite input?)") }  // GGML_ASSERT
        let pg = grid + gridIndex * 8
        for i in 0 ..< 8 { L[i] = (pg[i] - 1) / 2 }
        return gridIndex
    }
}

// MARK: - Helpers with ggml's exact semantics

/// ggml's `nearest_int`: round to nearest, ties to even, via the 1.5·2²³ magic number (valid for
/// |x| ≤ 2²²−1; outside that range it returns the same garbage ggml does).
@inline(__always) func iqNearestInt(_ x: Float) -> Int {
    let v = x + 12582912
    return Int(Int32(bitPattern: v.bitPattern & 0x007f_ffff) - 0x0040_0000)
}

/// ggml's `MAX(a, b)` macro: `a > b ? a : b`. (Concrete overloads, not generics: debug builds
/// would dispatch a generic comparison dynamically in the innermost loops.)
@inline(__always) func iqMax(_ a: Float, _ b: Float) -> Float { a > b ? a : b }
@inline(__always) func iqMax(_ a: Int, _ b: Int) -> Int { a > b ? a : b }
/// ggml's `MIN(a, b)` macro: `a < b ? a : b`.
@inline(__always) func iqMin(_ a: Int, _ b: Int) -> Int { a < b ? a : b }

/// The F16 bits of `x`, rounded to nearest even (ggml's `GGML_FP32_TO_FP16`).
@inline(__always) func iqF16(_ x: Float) -> UInt16 { Float16(x).bitPattern }

/// ggml's `make_qp_quants`: non-negative levels 0...nmax for `x` with a single scale, minimising
/// Σ w·(x − scale·l)². Levels are stored as bytes (negative results wrap, as in ggml, which
/// writes them through a `uint8_t *`). Returns the scale.
func iqMakeQPQuants(_ n: Int, _ nmax: Int, _ x: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>,
                    _ quantWeights: UnsafePointer<Float>) -> Float {
    var max: Float = 0
    for i in 0 ..< n { max = iqMax(max, x[i]) }
    if max < 1e-15 {  // GROUP_MAX_EPS
        for i in 0 ..< n { L[i] = 0 }
        return 0
    }
    var iscale = Float(nmax) / max
    for i in 0 ..< n { L[i] = UInt8(truncatingIfNeeded: iqNearestInt(iscale * x[i])) }
    let scale = 1 / iscale
    var bestMSE: Float = 0
    for i in 0 ..< n {
        let diff = x[i] - scale * Float(L[i])
        let w = quantWeights[i]
        bestMSE += w * diff * diff
    }
    for isv in -4 ... 4 where isv != 0 {
        let iscaleIs = (0.1 * Float(isv) + Float(nmax)) / max
        let scaleIs = 1 / iscaleIs
        var mse: Float = 0
        for i in 0 ..< n {
            var l = iqNearestInt(iscaleIs * x[i])
            l = iqMin(nmax, l)
            let diff = x[i] - scaleIs * Float(l)
            let w = quantWeights[i]
            mse += w * diff * diff
        }
        if mse < bestMSE { bestMSE = mse; iscale = iscaleIs }
    }
    var sumlx: Float = 0
    var suml2: Float = 0
    for i in 0 ..< n {
        var l = iqNearestInt(iscale * x[i])
        l = iqMin(nmax, l)
        L[i] = UInt8(truncatingIfNeeded: l)
        let w = quantWeights[i]
        sumlx += w * x[i] * Float(l)
        suml2 += w * Float(l) * Float(l)
    }
    for _ in 0 ..< 5 {
        var nChanged = 0
        for i in 0 ..< n {
            let w = quantWeights[i]
            let Li = Float(L[i])
            var slx = sumlx - w * x[i] * Li
            var sl2 = suml2 - w * Li * Li
            if slx > 0 && sl2 > 0 {
                var newL = iqNearestInt(x[i] * sl2 / slx)
                newL = iqMin(nmax, newL)
                if newL != Int(L[i]) {
                    slx += w * x[i] * Float(newL)
                    sl2 += w * Float(newL) * Float(newL)
                    if slx * slx * suml2 > sumlx * sumlx * sl2 {
                        L[i] = UInt8(truncatingIfNeeded: newL); sumlx = slx; suml2 = sl2
                        nChanged += 1
                    }
                }
            }
        }
        if nChanged == 0 { break }
    }
    return suml2 > 0 ? sumlx / suml2 : 0
}

/// Sorts `n` values ascending, carrying their original positions in `idx` — the same order
/// glibc's `qsort` (a stable merge sort for arrays this small) gives ggml's `(float, int)` pairs
/// under `iq1_sort_helper`, which compares the floats only: equal values keep input order.
@inline(__always)
func iqStableSortPairs(_ x: UnsafeMutablePointer<Float>, _ idx: UnsafeMutablePointer<Int32>, _ n: Int) {
    for a in 1 ..< n {
        let kx = x[a], ki = idx[a]
        var b = a
        while b > 0 && x[b - 1] > kx {
            x[b] = x[b - 1]; idx[b] = idx[b - 1]
            b -= 1
        }
        x[b] = kx; idx[b] = ki
    }
}

/// Scratch memory for one row's quantization: one temporary region (on the stack when small),
/// carved into typed arrays with `take`. No heap allocation per row or block.
struct IQScratch {
    private var next: UnsafeMutableRawPointer
    private let end: UnsafeMutableRawPointer

    /// Runs `body` with `bytes` bytes of scratch space.
    @inline(__always)
    static func with<R>(bytes: Int, _ body: (inout IQScratch) -> R) -> R {
        withUnsafeTemporaryAllocation(byteCount: bytes, alignment: 64) { raw in
            var s = IQScratch(next: raw.baseAddress!, end: raw.baseAddress! + bytes)
            return body(&s)
        }
    }

    /// The next `count` elements of type `T` (16-byte aligned; uninitialised).
    @inline(__always)
    mutating func take<T>(_ count: Int, _: T.Type) -> UnsafeMutablePointer<T> {
        let p = next.bindMemory(to: T.self, capacity: count)
        next += (count * MemoryLayout<T>.stride + 15) & ~15
        precondition(next <= end, "IQScratch: scratch region too small")
        return p
    }
}
