/// The two subword algorithms: SentencePiece-style bigram merging by score (llama.cpp's
/// `llm_tokenizer_spm_session`) and BPE merging by rank (`llm_tokenizer_bpe_session`).

/// An element of a `CandidateHeap`: `precedes` says which of two candidates merges first.
protocol HeapElement {
    static func precedes(_ a: Self, _ b: Self) -> Bool
}

/// A binary heap of merge candidates, the one that merges first on top (llama.cpp's
/// std::priority_queue with the same order; equal elements never occur, so the order in
/// which candidates leave is fully determined).
struct CandidateHeap<E: HeapElement> {
    private var items: [E] = []

    var isEmpty: Bool { items.isEmpty }

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func reserve(_ n: Int) { items.reserveCapacity(n) }

    mutating func push(_ e: E) {
        items.append(e)
        items.withUnsafeMutableBufferPointer { h in
            var i = h.count - 1
            while i > 0 {
                let parent = (i - 1) >> 1
                guard E.precedes(e, h[parent]) else { break }
                h[i] = h[parent]
                i = parent
            }
            h[i] = e
        }
    }

    mutating func pop() -> E {
        let top = items[0]
        let last = items.removeLast()
        items.withUnsafeMutableBufferPointer { h in
            let n = h.count
            guard n > 0 else { return }
            var i = 0
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                var c = l
                if l + 1 < n && E.precedes(h[l + 1], h[l]) { c = l + 1 }
                guard E.precedes(h[c], last) else { break }
                h[i] = h[c]
                i = c
            }
            h[i] = last
        }
        return top
    }
}

/// A symbol of the merge chain: `len` bytes from `start`, linked to its neighbours.
private struct Symbol {
    var start: Int32
    var len: Int32
    var prev: Int32
    var next: Int32
}

/// SentencePiece (BPE-by-score) tokenization of one text fragment.
enum SPMSession {
    private struct Bigram: HeapElement {
        var score: Float
        var left: Int32
        var right: Int32
        var size: Int32

        /// Highest score first, then leftmost.
        @inline(__always)
        static func precedes(_ a: Bigram, _ b: Bigram) -> Bool {
            a.score > b.score || (a.score == b.score && a.left < b.left)
        }
    }

    /// Tokenizes `text` (already escaped: spaces as U+2581) and appends the ids to `out`.
    ///
    /// llama.cpp merges over the whole fragment at once. No merge can cross a "▁" that no
    /// token has after the character before it (`Vocabulary.spaceJoiners`): every merged
    /// symbol is a token. So the text is cut before such "▁"s and the pieces are merged one by
    /// one, with the same result and small heaps; pieces seen before reuse their tokens.
    static func tokenize(_ text: UnsafeBufferPointer<UInt8>, vocab: Vocabulary, cache: inout WordCache,
                         into out: inout [Int32]) {
        let n = text.count
        guard n > 0 else { return }
        var symbols = [Symbol]()
        var heap = CandidateHeap<Bigram>()
        func piece(_ lo: Int, _ hi: Int) {
            let p = UnsafeBufferPointer(rebasing: text[lo ..< hi])
            if cache.lookup(p, into: &out) { return }
            let before = out.count
            merge(p, vocab, &symbols, &heap, &out)
            out.withUnsafeBufferPointer { cache.insert(p, UnsafeBufferPointer(rebasing: $0[before...])) }
        }
        // Walk the symbols exactly as `merge` will cut them (lead-byte lengths). A malformed
        // symbol before "▁" can never be part of a token, so it never joins one either.
        var chunk = 0
        var i = 0
        var prevChar: UInt32 = .max
        while i < n {
            let len = min(UTF8Util.sequenceLength(text[i]), n - i)
            let (c, used) = UTF8Util.decode(text, i)
            if c == 0x2581 && used == 3 && i > chunk && !vocab.spaceJoiners.contains(prevChar) {
                piece(chunk, i)
                chunk = i
            }
            prevChar = used == len ? c : .max
            i += len
        }
        piece(chunk, n)
    }

    private static func merge(_ text: UnsafeBufferPointer<UInt8>, _ vocab: Vocabulary, _ symbols: inout [Symbol],
                              _ heap: inout CandidateHeap<Bigram>, _ out: inout [Int32]) {
        let n = text.count
        guard n > 0, let base = text.baseAddress else { return }
        // One symbol per UTF-8 character (lead-byte length, clipped at the end).
        symbols.removeAll(keepingCapacity: true)
        var offset = 0
        while offset < n {
            let l = min(UTF8Util.sequenceLength(text[offset]), n - offset)
            let i = Int32(symbols.count)
            symbols.append(Symbol(start: Int32(offset), len: Int32(l), prev: i - 1, next: offset + l == n ? -1 : i + 1))
            offset += l
        }
        let table = vocab.strings
        let size = vocab.size
        heap.removeAll()
        vocab.scores.withUnsafeBufferPointer { scores in
            symbols.withUnsafeMutableBufferPointer { sym in
                @inline(__always) func tryAdd(_ left: Int32, _ right: Int32) {
                    guard left >= 0, right >= 0 else { return }
                    let total = Int(sym[Int(left)].len + sym[Int(right)].len)
                    let id = table.lookup(base + Int(sym[Int(left)].start), total)
                    guard id >= 0, id < size else { return }
                    heap.push(Bigram(score: scores[id], left: left, right: right, size: Int32(total)))
                }
                for i in 1 ..< Int32(sym.count) { tryAdd(i - 1, i) }
                while !heap.isEmpty {
                    let b = heap.pop()
                    let l = Int(b.left), r = Int(b.right)
                    let ll = sym[l].len, rl = sym[r].len
                    // Skip candidates made stale by an earlier merge.
                    if ll == 0 || rl == 0 || ll + rl != b.size { continue }
                    sym[l].len = ll + rl
                    sym[r].len = 0
                    let after = sym[r].next
                    sym[l].next = after
                    if after >= 0 { sym[Int(after)].prev = b.left }
                    tryAdd(sym[l].prev, b.left)
                    tryAdd(b.left, after)
                }
            }
        }
        // Symbols that are tokens, else their bytes as byte tokens.
        var i: Int32 = 0
        while i != -1 {
            let s = Int(symbols[Int(i)].start), l = Int(symbols[Int(i)].len)
            let id = table.lookup(base + s, l)
            if id >= 0 && id < size {
                out.append(Int32(id))
            } else {
                for k in s ..< s + l {
                    let t = vocab.byteTokens[Int(text[k])]
                    if t >= 0 { out.append(t) } else if let unk = vocab.unk { out.append(unk) }
                }
            }
            i = symbols[Int(i)].next
        }
    }
}

/// Byte-level BPE tokenization, one pre-tokenized word at a time.
///
/// Words repeat a lot in real text, so each session remembers the tokens of the words it has
/// seen (the result depends on the word alone).
struct BPESession {
    private struct Bigram: HeapElement {
        var rank: Int32
        var left: Int32
        var right: Int32
        var size: Int32
        var result: Int32

        /// Lowest rank first, then leftmost.
        @inline(__always)
        static func precedes(_ a: Bigram, _ b: Bigram) -> Bool {
            a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
        }
    }

    let vocab: Vocabulary
    private var symbols = [Symbol]()
    private var ids = [Int32]()
    private var heap = CandidateHeap<Bigram>()
    private var encoded = [UInt8]()
    private var cache = WordCache()

    init(vocab: Vocabulary) { self.vocab = vocab }

    /// Sets `encoded` to the byte-level text (GPT-2's printable stand-ins) of raw bytes.
    private mutating func encode(_ word: UnsafeBufferPointer<UInt8>) {
        encoded.removeAll(keepingCapacity: true)
        UnicodeTables.shared.byteToUTF8.withUnsafeBufferPointer { map in
            for b in word {
                let packed = map[Int(b)]
                encoded.append(UInt8(truncatingIfNeeded: packed >> 8))
                if packed & 0xFF == 2 { encoded.append(UInt8(truncatingIfNeeded: packed >> 16)) }
            }
        }
    }

    /// Tokenizes one word (raw UTF-8 bytes) and appends the ids to `out`.
    mutating func tokenize(word: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        guard !word.isEmpty else { return }
        if cache.lookup(word, into: &out) { return }
        let before = out.count
        merge(word, into: &out)
        out.withUnsafeBufferPointer { cache.insert(word, UnsafeBufferPointer(rebasing: $0[before...])) }
    }

    private mutating func merge(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        let n = word.count
        let table = vocab.strings
        let size = vocab.size
        if vocab.ignoreMerges {
            encode(word)
            let id = encoded.withUnsafeBufferPointer { table.lookup($0) }
            if id >= 0 && id < size { out.append(Int32(id)); return }
        }
        // One symbol per byte: each stands for one byte-level character.
        symbols.removeAll(keepingCapacity: true)
        ids.removeAll(keepingCapacity: true)
        for i in 0 ..< n {
            symbols.append(Symbol(start: Int32(i), len: 1, prev: Int32(i) - 1, next: i + 1 == n ? -1 : Int32(i + 1)))
            ids.append(vocab.byteSymbols[Int(word[i])])
        }
        heap.removeAll()
        let merges = vocab.merges
        symbols.withUnsafeMutableBufferPointer { sym in
            ids.withUnsafeMutableBufferPointer { ids in
                @inline(__always) func add(_ left: Int32, _ right: Int32) {
                    guard left >= 0, right >= 0 else { return }
                    let a = ids[Int(left)], b = ids[Int(right)]
                    guard a >= 0, b >= 0, let m = merges.find(left: a, right: b) else { return }
                    heap.push(Bigram(rank: m.rank, left: left, right: right,
                                     size: sym[Int(left)].len + sym[Int(right)].len, result: m.result))
                }
                for i in 1 ..< Int32(n) { add(i - 1, i) }
                while !heap.isEmpty {
                    let b = heap.pop()
                    let l = Int(b.left), r = Int(b.right)
                    let ll = sym[l].len, rl = sym[r].len
                    if ll == 0 || rl == 0 || ll + rl != b.size { continue }
                    sym[l].len = ll + rl
                    sym[r].len = 0
                    ids[l] = b.result
                    let after = sym[r].next
                    sym[l].next = after
                    if after >= 0 { sym[Int(after)].prev = b.left }
                    add(sym[l].prev, b.left)
                    add(b.left, after)
                }
            }
        }
        var i: Int32 = 0
        while i != -1 {
            let id = ids[Int(i)]
            if id >= 0 && Int(id) < size {
                out.append(id)
            } else {
                // Not a token: each byte of its byte-level text, where that byte is a token.
                let s = Int(symbols[Int(i)].start), l = Int(symbols[Int(i)].len)
                encode(UnsafeBufferPointer(rebasing: word[s ..< s + l]))
                for byte in encoded {
                    let t = table.lookup([byte])
                    if t >= 0 && t < size { out.append(Int32(t)) }
                }
            }
            i = symbols[Int(i)].next
        }
    }
}

/// Word → token ids, for the words one encoding has already seen.
struct WordCache {
    private struct Entry {
        var keyStart: Int32 = -1
        var keyLength: Int32 = 0
        var idStart: Int32 = 0
        var idCount: Int32 = 0
    }

    private var keys = [UInt8]()
    private var values = [Int32]()
    private var entries = [Entry](repeating: Entry(), count: 1024)
    private var used = 0
    /// Longer words are not worth remembering.
    static let maxWordLength = 64

    private func find(_ word: UnsafeBufferPointer<UInt8>) -> (slot: Int, found: Bool) {
        let mask = entries.count - 1
        var slot = Int(truncatingIfNeeded: ByteStringTable.hash(word.baseAddress!, word.count)) & mask
        return keys.withUnsafeBufferPointer { k in
            while true {
                let e = entries[slot]
                if e.keyStart < 0 { return (slot, false) }
                if Int(e.keyLength) == word.count, memcmpEqual(k.baseAddress! + Int(e.keyStart), word.baseAddress!, word.count) {
                    return (slot, true)
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// Appends the remembered ids of `word` to `out`; false if the word is new.
    mutating func lookup(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) -> Bool {
        guard word.count <= Self.maxWordLength else { return false }
        let (slot, found) = find(word)
        guard found else { return false }
        let e = entries[slot]
        out.append(contentsOf: values[Int(e.idStart) ..< Int(e.idStart + e.idCount)])
        return true
    }

    /// Remembers the ids of a new word.
    mutating func insert(_ word: UnsafeBufferPointer<UInt8>, _ ids: UnsafeBufferPointer<Int32>) {
        guard word.count <= Self.maxWordLength else { return }
        if (used + 1) * 2 > entries.count { grow() }
        let (slot, found) = find(word)
        guard !found else { return }
        entries[slot] = Entry(keyStart: Int32(keys.count), keyLength: Int32(word.count),
                              idStart: Int32(values.count), idCount: Int32(ids.count))
        keys.append(contentsOf: word)
        values.append(contentsOf: ids)
        used += 1
    }

    private mutating func grow() {
        let old = entries
        entries = [Entry](repeating: Entry(), count: old.count * 2)
        let mask = entries.count - 1
        keys.withUnsafeBufferPointer { k in
            for e in old where e.keyStart >= 0 {
                var slot = Int(truncatingIfNeeded: ByteStringTable.hash(k.baseAddress! + Int(e.keyStart), Int(e.keyLength))) & mask
                while entries[slot].keyStart >= 0 { slot = (slot + 1) & mask }
                entries[slot] = e
            }
        }
    }
}
