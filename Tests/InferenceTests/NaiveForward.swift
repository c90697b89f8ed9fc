import Foundation
import GGUF
import QKCore
import QuantFormats

/// A deliberately plain forward pass in Double, written from the architectures' papers/model
/// cards rather than from the engine, to check the engine's ops (RoPE styles, GQA, norms,
/// biases, Gemma's extras, sliding window) on small models.
struct NaiveForward {
    let file: GGUFModel
    let arch: String
    let embd, ff, heads, kvHeads, layers, vocab, headDim: Int
    let eps: Double
    let base: Double
    let window: Int?

    init(path: String) throws {
        let file = try GGUFModel(path: path)
        let arch = file.architecture!
        self.file = file
        self.arch = arch
        func i(_ k: String) -> Int { file["\(arch).\(k)"]!.int! }
        let e = i("embedding_length"), h = i("attention.head_count")
        embd = e; ff = i("feed_forward_length"); heads = h
        kvHeads = i("attention.head_count_kv"); layers = i("block_count")
        vocab = file.tensor(named: "token_embd.weight")!.shape[1]
        headDim = e / h
        eps = file["\(arch).attention.layer_norm_rms_epsilon"]!.double!
        base = file["\(arch).rope.freq_base"]!.double!
        window = file["\(arch).attention.sliding_window"]?.int
    }

    /// The tensor as Doubles, row-major [rows][cols].
    func weights(_ name: String) -> [[Double]] {
        let t = file.tensor(named: name)!
        let cols = t.shape[0], rows = t.elementCount / cols
        var f = [Float](repeating: 0, count: t.elementCount)
        let data = file.data(of: t)
        let count = f.count
        f.withUnsafeMutableBufferPointer { dst in
            if t.type == .f32 { dst.baseAddress!.update(from: data.baseAddress!.assumingMemoryBound(to: Float.self), count: count) }
            else { QuantCodec.codec(t.type)!.dequantize(data.baseAddress!, dst.baseAddress!, count) }
        }
        return (0 ..< rows).map { r in (0 ..< cols).map { Double(f[r * cols + $0]) } }
    }
    func vector(_ name: String) -> [Double] { weights(name).flatMap { $0 } }

    func matvec(_ w: [[Double]], _ x: [Double]) -> [Double] { w.map { row in zip(row, x).reduce(0) { $0 + $1.0 * $1.1 } } }
    func rms(_ x: [Double], _ w: [Double]) -> [Double] {
        let s = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + eps).squareRoot()
        return zip(x, w).map { $0 * s * $1 }
    }
    func rope(_ v: [Double], pos: Int, neox: Bool, base: Double) -> [Double] {
        var out = v
        let d = v.count
        for i in 0 ..< d / 2 {
            let theta = Double(pos) * pow(base, -2 * Double(i) / Double(d))
            let (a, b) = neox ? (i, i + d / 2) : (2 * i, 2 * i + 1)
            out[a] = v[a] * cos(theta) - v[b] * sin(theta)
            out[b] = v[a] * sin(theta) + v[b] * cos(theta)
        }
        return out
    }
    func gelu(_ x: Double) -> Double { 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) }

    /// Logits of every position of `tokens`.
    func logits(_ tokens: [Int32]) -> [[Double]] {
        let gemma = arch == "gemma3", neox = arch != "llama"
        let emb = weights("token_embd.weight")
        var xs = tokens.map { t in emb[Int(t)].map { $0 * (gemma ? Double(embd).squareRoot() : 1) } }
        for l in 0 ..< layers {
            let p = "blk.\(l)."
            let sliding = gemma && window != nil && l % 6 < 5
            let ropeBase = sliding ? 10000 : base
            let wq = weights(p + "attn_q.weight"), wk = weights(p + "attn_k.weight"), wv = weights(p + "attn_v.weight")
            let wo = weights(p + "attn_output.weight"), an = vector(p + "attn_norm.weight")
            var ks: [[[Double]]] = [], vs: [[[Double]]] = [], qs: [[[Double]]] = []
            for (pos, x) in xs.enumerated() {
                let h = rms(x, an)
                var q = matvec(wq, h), k = matvec(wk, h), v = matvec(wv, h)
                if arch == "qwen2" {
                    q = zip(q, vector(p + "attn_q.bias")).map(+); k = zip(k, vector(p + "attn_k.bias")).map(+)
                    v = zip(v, vector(p + "attn_v.bias")).map(+)
                }
                var qh = (0 ..< heads).map { Array(q[$0 * headDim ..< ($0 + 1) * headDim]) }
                var kh = (0 ..< kvHeads).map { Array(k[$0 * headDim ..< ($0 + 1) * headDim]) }
                if gemma {
                    qh = qh.map { rms($0, vector(p + "attn_q_norm.weight")) }
                    kh = kh.map { rms($0, vector(p + "attn_k_norm.weight")) }
                }
                qs.append(qh.map { rope($0, pos: pos, neox: neox, base: ropeBase) })
                ks.append(kh.map { rope($0, pos: pos, neox: neox, base: ropeBase) })
                vs.append((0 ..< kvHeads).map { Array(v[$0 * headDim ..< ($0 + 1) * headDim]) })
            }
            let scale = 1 / Double(headDim).squareRoot()
            for pos in 0 ..< xs.count {
                var att: [Double] = []
                for hd in 0 ..< heads {
                    let g = hd / (heads / kvHeads)
                    let lo = sliding ? max(0, pos - window! + 1) : 0
                    let scores = (lo ... pos).map { j in zip(qs[pos][hd], ks[j][g]).reduce(0) { $0 + $1.0 * $1.1 } * scale }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let z = e.reduce(0, +)
                    var o = [Double](repeating: 0, count: headDim)
                    for (idx, j) in (lo ... pos).enumerated() { for d in 0 ..< headDim { o[d] += e[idx] / z * vs[j][g][d] } }
                    att += o
                }
                var a = matvec(wo, att)
                if gemma { a = rms(a, vector(p + "post_attention_norm.weight")) }
                xs[pos] = zip(xs[pos], a).map(+)
            }
            let fn = vector(p + "ffn_norm.weight")
            let wg = weights(p + "ffn_gate.weight"), wu = weights(p + "ffn_up.weight"), wd = weights(p + "ffn_down.weight")
            for pos in 0 ..< xs.count {
                let h = rms(xs[pos], fn)
                let g = matvec(wg, h), u = matvec(wu, h)
                let act = zip(g, u).map { gemma ? gelu($0) * $1 : $0 / (1 + exp(-$0)) * $1 }
                var d = matvec(wd, act)
                if gemma { d = rms(d, vector(p + "post_ffw_norm.weight")) }
                xs[pos] = zip(xs[pos], d).map(+)
            }
        }
        let on = vector("output_norm.weight")
        let out = file.tensor(named: "output.weight") != nil ? weights("output.weight") : emb
        return xs.map { matvec(out, rms($0, on)) }
    }
}
