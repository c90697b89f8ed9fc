/// Finds special-token texts in raw text before the model tokenizer runs, with the result of
/// llama.cpp's `tokenizer_st_partition`.
///
/// llama.cpp takes the special tokens longest first and, for each, cuts every remaining text
/// fragment at each leftmost non-overlapping occurrence (stripping whitespace next to tokens
/// marked lstrip/rstrip). Doing that literally costs one pass over the text per special token
/// (6,000 for Gemma 3). Here one trie walk finds every occurrence of every special token at
/// once; occurrences are then accepted in the same order llama.cpp would find them (token by
/// token in priority order, left to right), which yields the same fragments.
struct SpecialTokenMatcher: Sendable {
    /// A piece of the input: raw text `start..<end`, or a token.
    struct Fragment: Equatable {
        var start: Int
        var end: Int
        /// The token id, or -1 for raw text.
        var token: Int32
    }

    private struct Node {
        var firstChild: Int32 = -1
        var sibling: Int32 = -1
        var byte: UInt8 = 0
        /// Priority rank of the token ending here, or -1.
        var rank: Int32 = -1
    }

    private var nodes: [Node] = []
    private var root = [Int32](repeating: -1, count: 256)
    /// Per rank: token id, text length, whether it needs parse_special, lstrip, rstrip.
    private var ids: [Int32] = []
    private var lengths: [Int32] = []
    private var controlOnly: [Bool] = []
    private var lstrip: [Bool] = []
    private var rstrip: [Bool] = []

    /// `tokens` in priority order (longest text first).
    init(tokens: [Int32], vocab: Vocabulary) {
        for (rank, t) in tokens.enumerated() {
            let text = vocab.text(Int(t))
            let attrs = vocab.attrs[Int(t)]
            ids.append(t)
            lengths.append(Int32(text.count))
            controlOnly.append(!attrs.isDisjoint(with: [.control, .unknown]))
            lstrip.append(attrs.contains(.lstrip))
            rstrip.append(attrs.contains(.rstrip))
            guard let first = text.first else { continue }
            var node = root[Int(first)]
            if node < 0 {
                node = Int32(nodes.count)
                nodes.append(Node(byte: first))
                root[Int(first)] = node
            }
            for b in text.dropFirst() {
                var child = nodes[Int(node)].firstChild
                while child >= 0 && nodes[Int(child)].byte != b { child = nodes[Int(child)].sibling }
                if child < 0 {
                    child = Int32(nodes.count)
                    nodes.append(Node(sibling: nodes[Int(node)].firstChild, byte: b))
                    nodes[Int(node)].firstChild = child
                }
                node = child
            }
            if nodes[Int(node)].rank < 0 { nodes[Int(node)].rank = Int32(rank) }
        }
    }

    @inline(__always)
    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

    /// Cuts `text` into raw-text fragments and special tokens. Control and unknown tokens
    /// count only with `parseSpecial`; user-defined tokens always do, as in llama.cpp.
    func partition(_ text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Fragment] {
        let n = text.count
        guard n > 0 else { return [] }
        // Every occurrence, as (rank << 32 | start).
        var found = [UInt64]()
        nodes.withUnsafeBufferPointer { nd in
            for i in 0 ..< n {
                var node = root[Int(text[i])]
                var j = i
                while node >= 0 {
                    let r = nd[Int(node)].rank
                    if r >= 0 && (parseSpecial || !controlOnly[Int(r)]) {
                        found.append(UInt64(r) << 32 | UInt64(i))
                    }
                    j += 1
                    if j == n { break }
                    let b = text[j]
                    var child = nd[Int(node)].firstChild
                    while child >= 0 && nd[Int(child)].byte != b { child = nd[Int(child)].sibling }
                    node = child
                }
            }
        }
        guard !found.isEmpty else { return [Fragment(start: 0, end: n, token: -1)] }
        found.sort()

        // 0 = free text, 1 = taken by a token, 2 = stripped whitespace.
        var state = [UInt8](repeating: 0, count: n)
        var accepted = [Fragment]()
        for key in found {
            let rank = Int(key >> 32), s = Int(key & 0xFFFF_FFFF), len = Int(lengths[rank])
            var free = true
            for k in s ..< s + len where state[k] != 0 { free = false; break }
            guard free else { continue }
            for k in s ..< s + len { state[k] = 1 }
            accepted.append(Fragment(start: s, end: s + len, token: ids[rank]))
            if lstrip[rank] {
                var k = s - 1
                while k >= 0 && state[k] == 0 && Self.isSpace(text[k]) { state[k] = 2; k -= 1 }
            }
            if rstrip[rank] {
                var k = s + len
                while k < n && state[k] == 0 && Self.isSpace(text[k]) { state[k] = 2; k += 1 }
            }
        }
        accepted.sort { $0.start < $1.start }
        var out = [Fragment]()
        var pos = 0
        func flushText(upTo end: Int) {
            var k = pos
            while k < end {
                while k < end && state[k] == 2 { k += 1 }
                let a = k
                while k < end && state[k] == 0 { k += 1 }
                if k > a { out.append(Fragment(start: a, end: k, token: -1)) }
            }
        }
        for t in accepted {
            flushText(upTo: t.start)
            out.append(t)
            pos = t.end
        }
        flushText(upTo: n)
        return out
    }
}
