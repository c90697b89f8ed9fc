/// The two subword algorithms: SentencePiece-style bigram merging by score (llama.cpp's
/// `llm_tokenizer_spm_session`) and BPE merging by rank (`llm_tokenizer_bpe_session`).

/// A binary max-heap of merge candidates ordered by `better`.
struct CandidateHeap<Element> {
    private(set) var items: [Element] = []
    let better: (Element, Element) -> Bool

    init(better: @escaping (Element, Element) -> Bool) { self.better = better }

    var isEmpty: Bool { items.isEmpty }

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard better(items[i], items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Element {
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            let n = items.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var best = i
                if l < n && better(items[l], items[best]) { best = l }
                if r < n && better(items[r], items[best]) { best = r }
                if best == i { break }
                items.swapAt(i, best)
                i = best
            }
        }
        return top
    }
}

/// SentencePiece (BPE-by-score) tokenization of one text fragment.
struct SPMSession {
    private struct Bigram {
        var score: Float
        var left: Int32
        var right: Int32
        var size: Int32
    }

    /// Tokenizes `text` (already escaped: spaces as U+2581) and appends the ids to `out`.
    static func tokenize(_ text: UnsafeBufferPointer<UInt8>, vocab: Vocabulary, into out: inout [Int32]) {
        let n = text.count
        guard n > 0, let base = text.baseAddress else { return }
        // One symbol per UTF-8 character (lead-byte length, clipped at the end).
        var start = [Int32](), len = [Int32](), prev = [Int32](), next = [Int32]()
        start.reserveCapacity(n); len.reserveCapacity(n); prev.reserveCapacity(n); next.reserveCapacity(n)
        var offset = 0
        while offset < n {
            let l = min(UTF8Util.sequenceLength(text[offset]), n - offset)
            prev.append(Int32(start.count) - 1)
            start.append(Int32(offset))
            len.append(Int32(l))
            offset += l
            next.append(offset == n ? -1 : Int32(start.count))
        }
        let table = vocab.strings
        let size = vocab.size
        var heap = CandidateHeap<Bigram> { a, b in a.score > b.score || (a.score == b.score && a.left < b.left) }
        vocab.scores.withUnsafeBufferPointer { scores in
            func tryAdd(_ left: Int32, _ right: Int32) {
                guard left >= 0, right >= 0 else { return }
                let s = Int(start[Int(left)]), total = Int(len[Int(left)] + len[Int(right)])
                let id = table.lookup(base + s, total)
                guard id >= 0, id < size else { return }
                heap.push(Bigram(score: scores[id], left: left, right: right, size: Int32(total)))
            }
            for i in 1 ..< Int32(start.count) { tryAdd(i - 1, i) }
            while !heap.isEmpty {
                let b = heap.pop()
                let l = Int(b.left), r = Int(b.right)
                // Skip candidates made stale by an earlier merge.
                if len[l] == 0 || len[r] == 0 || len[l] + len[r] != b.size { continue }
                len[l] += len[r]
                len[r] = 0
                next[l] = next[r]
                if next[r] >= 0 { prev[Int(next[r])] = b.left }
                tryAdd(prev[l], b.left)
                tryAdd(b.left, next[l])
            }
        }
        // Symbols that are tokens, else their bytes as byte tokens.
        var i: Int32 = 0
        while i != -1 {
            let s = Int(start[Int(i)]), l = Int(len[Int(i)])
            let id = table.lookup(base + s, l)
            if id >= 0 && id < size {
                out.append(Int32(id))
            } else {
                for k in s ..< s + l {
                    let t = vocab.byteTokens[Int(text[k])]
                    if t >= 0 { out.append(t) } else if let unk = vocab.unk { out.append(unk) }
                }
            }
            i = next[Int(i)]
        }
    }
}

/// Byte-level BPE tokenization, one pre-tokenized word at a time.
struct BPESession {
    private struct Bigram {
        var rank: Int32
        var left: Int32
        var right: Int32
        var size: Int32
        var result: Int32
    }

    let vocab: Vocabulary
    private var start = [Int32](), len = [Int32](), prev = [Int32](), next = [Int32](), sym = [Int32]()
    private var heap = CandidateHeap<Bigram> { a, b in a.rank < b.rank || (a.rank == b.rank && a.left < b.left) }
    private var encoded = [UInt8]()

    init(vocab: Vocabulary) { self.vocab = vocab }

    /// Appends to `encoded` the byte-level text (GPT-2's printable stand-ins) of raw bytes.
    private mutating func encode(_ word: UnsafeBufferPointer<UInt8>) {
        encoded.removeAll(keepingCapacity: true)
        let map = UnicodeTables.shared.byteToUTF8
        for b in word {
            let packed = map[Int(b)]
            encoded.append(UInt8(truncatingIfNeeded: packed >> 8))
            if packed & 0xFF == 2 { encoded.append(UInt8(truncatingIfNeeded: packed >> 16)) }
        }
    }

    /// Tokenizes one word (raw UTF-8 bytes) and appends the ids to `out`.
    mutating func tokenize(word: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        let n = word.count
        guard n > 0 else { return }
        let table = vocab.strings
        let size = vocab.size
        if vocab.ignoreMerges {
            encode(word)
            let id = encoded.withUnsafeBufferPointer { table.lookup($0) }
            if id >= 0 && id < size { out.append(Int32(id)); return }
        }
        start.removeAll(keepingCapacity: true); len.removeAll(keepingCapacity: true)
        prev.removeAll(keepingCapacity: true); next.removeAll(keepingCapacity: true)
        sym.removeAll(keepingCapacity: true)
        // One symbol per byte: each stands for one byte-level character.
        for i in 0 ..< n {
            start.append(Int32(i))
            len.append(1)
            prev.append(Int32(i) - 1)
            next.append(i + 1 == n ? -1 : Int32(i + 1))
            sym.append(vocab.byteSymbols[Int(word[i])])
        }
        heap.removeAll()
        let merges = vocab.merges
        func add(_ left: Int32, _ right: Int32) {
            guard left >= 0, right >= 0 else { return }
            let a = sym[Int(left)], b = sym[Int(right)]
            guard a >= 0, b >= 0, let m = merges.find(left: a, right: b) else { return }
            heap.push(Bigram(rank: m.rank, left: left, right: right, size: len[Int(left)] + len[Int(right)],
                             result: m.result))
        }
        for i in 1 ..< Int32(n) { add(i - 1, i) }
        while !heap.isEmpty {
            let b = heap.pop()
            let l = Int(b.left), r = Int(b.right)
            if len[l] == 0 || len[r] == 0 || len[l] + len[r] != b.size { continue }
            len[l] += len[r]
            len[r] = 0
            sym[l] = b.result
            next[l] = next[r]
            if next[r] >= 0 { prev[Int(next[r])] = b.left }
            add(prev[l], b.left)
            add(b.left, next[l])
        }
        var i: Int32 = 0
        while i != -1 {
            let id = sym[Int(i)]
            if id >= 0 && Int(id) < size {
                out.append(id)
            } else {
                // Not a token: each byte of its byte-level text, where that byte is a token.
                let s = Int(start[Int(i)]), l = Int(len[Int(i)])
                encode(UnsafeBufferPointer(rebasing: word[s ..< s + l]))
                for byte in encoded {
                    let t = table.lookup([byte])
                    if t >= 0 && t < size { out.append(Int32(t)) }
                }
            }
            i = next[Int(i)]
        }
    }
}
