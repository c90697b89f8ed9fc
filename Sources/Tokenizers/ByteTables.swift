/// Hash tables on raw bytes, so the tokenizers never build a `String` in their hot loops.

/// An append-only set of byte strings stored in one arena, with lookup by content.
///
/// Tokens are added in id order, so a token's index is its id; a repeated text maps to its
/// last id, as llama.cpp's `token_to_id` does. Extra strings (BPE merge parts that are not
/// tokens) get indices past the vocabulary.
struct ByteStringTable: Sendable {
    private(set) var arena: [UInt8] = []
    private(set) var offsets: [Int32] = [0]
    private var slots: [Int32] = []
    private var mask = 0

    init(expectedCount: Int, expectedBytes: Int) {
        arena.reserveCapacity(expectedBytes)
        offsets.reserveCapacity(expectedCount + 1)
        var capacity = 16
        while capacity < expectedCount * 2 { capacity <<= 1 }
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
    }

    /// Number of strings held.
    var count: Int { offsets.count - 1 }

    /// The bytes of string `i`.
    @inline(__always)
    func range(_ i: Int) -> Range<Int> { Int(offsets[i]) ..< Int(offsets[i + 1]) }

    /// String `i` as bytes.
    func bytes(_ i: Int) -> ArraySlice<UInt8> { arena[range(i)] }

    @inline(__always)
    static func hash(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ (UInt64(n) &* 0xFF51_AFD7_ED55_8CCD)
        var i = 0
        let raw = UnsafeRawPointer(p)
        while i + 8 <= n {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x100_0000_01B3_3C5B
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 32
        return h
    }

    /// Appends a string and makes lookups of its text return the new index. Returns the index.
    @discardableResult
    mutating func append(_ p: UnsafeBufferPointer<UInt8>) -> Int {
        let index = count
        arena.append(contentsOf: p)
        offsets.append(Int32(arena.count))
        if count * 2 > slots.count { grow() }
        insert(index: index)
        return index
    }

    /// The index of the string with these bytes, adding it if absent.
    mutating func intern(_ p: UnsafeBufferPointer<UInt8>) -> Int {
        let found = lookup(p)
        return found >= 0 ? found : append(p)
    }

    /// Points lookups of string `index`'s text at `index` (a repeated text: the last wins).
    private mutating func insert(index: Int) {
        let r = range(index)
        let mask = self.mask
        let found: Int = arena.withUnsafeBufferPointer { a in
            slots.withUnsafeBufferPointer { s in
                let base = a.baseAddress! + r.lowerBound
                var slot = Int(truncatingIfNeeded: Self.hash(base, r.count)) & mask
                while true {
                    let other = Int(s[slot])
                    if other < 0 { return slot }
                    let ro = range(other)
                    if ro.count == r.count, memcmpEqual(a.baseAddress! + ro.lowerBound, base, r.count) { return slot }
                    slot = (slot + 1) & mask
                }
            }
        }
        slots[found] = Int32(index)
    }

    private mutating func grow() {
        let capacity = slots.count * 2
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
        // Re-inserting in index order keeps "last index wins" for repeated texts.
        for i in 0 ..< count { insert(index: i) }
    }

    /// The index of the string equal to `n` bytes at `p`, or -1.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        arena.withUnsafeBufferPointer { a in
            offsets.withUnsafeBufferPointer { o in
                slots.withUnsafeBufferPointer { s in
                    var slot = Int(truncatingIfNeeded: Self.hash(p, n)) & mask
                    while true {
                        let i = Int(s[slot])
                        if i < 0 { return -1 }
                        let lo = Int(o[i])
                        if Int(o[i + 1]) - lo == n, memcmpEqual(a.baseAddress! + lo, p, n) { return i }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
    }

    /// The index of the string equal to `p`, or -1.
    func lookup(_ p: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = p.baseAddress else { return lookupEmpty() }
        return lookup(base, p.count)
    }

    private func lookupEmpty() -> Int {
        var zero: UInt8 = 0
        return withUnsafePointer(to: &zero) { lookup($0, 0) }
    }

    /// The index of the string with these bytes, or -1.
    func lookup(_ bytes: [UInt8]) -> Int { bytes.withUnsafeBufferPointer { lookup($0) } }
}

@inline(__always)
func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while i + 8 <= n {
        if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// BPE merge ranks keyed by the pair of part ids: (left, right) → (rank, id of left+right).
struct MergeTable: Sendable {
    private var keys: [UInt64]
    private var ranks: [Int32]
    private var results: [Int32]
    private let mask: Int
    private static let empty = UInt64.max

    init(capacityFor n: Int) {
        var capacity = 16
        while capacity < n * 2 { capacity <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: capacity)
        ranks = [Int32](repeating: 0, count: capacity)
        results = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        var h = key &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 31
        return Int(truncatingIfNeeded: h) & mask
    }

    /// Adds a merge unless the pair is already known (the first, lowest rank wins, like
    /// llama.cpp's `bpe_ranks.emplace`).
    mutating func insert(left: Int32, right: Int32, rank: Int32, result: Int32) {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var s = Self.slot(key, mask)
        while keys[s] != Self.empty {
            if keys[s] == key { return }
            s = (s + 1) & mask
        }
        keys[s] = key
        ranks[s] = rank
        results[s] = result
    }

    /// Rank and merged id of the pair, or nil when the pair never merges.
    @inline(__always)
    func find(left: Int32, right: Int32) -> (rank: Int32, result: Int32)? {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        return keys.withUnsafeBufferPointer { k in
            var s = Self.slot(key, mask)
            while true {
                let v = k[s]
                if v == key { return (ranks[s], results[s]) }
                if v == Self.empty { return nil }
                s = (s + 1) & mask
            }
        }
    }
}
