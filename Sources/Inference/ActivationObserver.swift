import QKCore

/// Sees the input of every matrix multiplication a forward pass makes, before it is made:
/// what calibration methods (importance matrices, GPTQ and AWQ statistics) are built from.
///
/// `input` holds `tokens` rows of `matrices[0].cols` floats (the F32 activations, before any
/// 8-bit conversion the kernels do), row-major. Matrices that share one input (q/k/v, gate/up)
/// are reported together. Called on the thread running the forward pass; `pool` and `threads`
/// are the session's, for observers that want to spread their work.
public protocol ActivationObserver: AnyObject {
    func observe(_ matrices: [Matrix], input: UnsafePointer<Float>, tokens: Int, pool: ThreadPool, threads: Int)
}
