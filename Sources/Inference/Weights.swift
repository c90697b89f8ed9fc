import DotKernels
import Foundation
import GGUF
import QKCore
import QuantFormats

/// A weight matrix used in place from the mapped file: `rows` outputs × `cols` inputs, in its
/// stored GGUF type (ggml shape [cols, rows]).
public struct Matrix: @unchecked Sendable {
    public let name: String
    public let type: GGMLType
    public let rows: Int
    public let cols: Int
    public let data: UnsafeRawPointer
    public let rowBytes: Int
    public let kernel: DotKernel
    /// Which expert of a 3-D expert tensor (named `name`) this matrix is; nil for a plain matrix.
    public var expert: ExpertSlice? = nil

    /// Row `r` dequantized into `dst` (`cols` floats): embedding lookups.
    public func row(_ r: Int, into dst: UnsafeMutablePointer<Float>) {
        let src = data + r * rowBytes
        switch type {
        case .f32: dst.update(from: src.assumingMemoryBound(to: Float.self), count: cols)
        default: QuantCodec.codec(type)!.dequantize(src, dst, cols)
        }
    }
}

/// Expert `index` of the `count` stacked in one 3-D GGUF tensor (ggml shape [cols, rows, count]).
public struct ExpertSlice: Sendable, Equatable {
    public let index: Int
    public let count: Int
}

/// Looks up a model's tensors by llama.cpp name, checking shapes and types, with errors that
/// name the file and the tensor.
public struct WeightLoader {
    public let model: GGUFModel
    var path: String? { model.paths.first }

    public init(model: GGUFModel) { self.model = model }

    /// The kernel for a weight type: the fastest one, unless QUANTKIT_KERNELS asks for the plain
    /// `reference` (ggml's integer dot products) or `dequantizing` (F32 activations) ones.
    static func kernel(_ type: GGMLType) -> DotKernel? {
        switch ProcessInfo.processInfo.environment["QUANTKIT_KERNELS"] {
        case "reference": DotKernel.reference(type) ?? DotKernel.dequantizing(type)
        case "dequantizing": DotKernel.dequantizing(type)
        default: DotKernel.forWeights(type)
        }
    }

    public func has(_ name: String) -> Bool { model.tensor(named: name) != nil }

    /// The matrix `name` with ggml shape [cols, rows].
    public func matrix(_ name: String, cols: Int, rows: Int) throws -> Matrix {
        guard let info = model.tensor(named: name) else {
            throw QuantKitError("tensor \(name) is missing", path: path)
        }
        let shape = info.shape + Array(repeating: 1, count: max(0, 2 - info.shape.count))
        guard shape.count == 2 || shape.dropFirst(2).allSatisfy({ $0 == 1 }), shape[0] == cols, shape[1] == rows else {
            throw QuantKitError("tensor \(name) has shape \(info.shape), expected [\(cols), \(rows)]", path: path)
        }
        guard cols % info.type.blockSize == 0 else {
            throw QuantKitError("tensor \(name): row length \(cols) is not a multiple of \(info.type.name)'s block size", path: path)
        }
        guard let kernel = Self.kernel(info.type), info.type == .f32 || QuantCodec.codec(info.type) != nil else {
            throw QuantKitError("tensor \(name) has type \(info.type.name), which the inference engine cannot multiply", path: path)
        }
        let data = model.data(of: info)
        guard data.count >= info.type.rowSize(cols) * rows else {
            throw QuantKitError("tensor \(name) is truncated", path: path)
        }
        return Matrix(name: name, type: info.type, rows: rows, cols: cols, data: data.baseAddress!,
                      rowBytes: info.type.rowSize(cols), kernel: kernel)
    }

    /// The `count` experts of the 3-D tensor `name` (ggml shape [cols, rows, count]), each a
    /// matrix of `rows` × `cols` viewing its slice of the file.
    public func experts(_ name: String, cols: Int, rows: Int, count: Int) throws -> [Matrix] {
        guard let info = model.tensor(named: name) else {
            throw QuantKitError("tensor \(name) is missing", path: path)
        }
        guard info.shape == [cols, rows, count] else {
            throw QuantKitError("tensor \(name) has shape \(info.shape), expected [\(cols), \(rows), \(count)]", path: path)
        }
        guard cols % info.type.blockSize == 0 else {
            throw QuantKitError("tensor \(name): row length \(cols) is not a multiple of \(info.type.name)'s block size", path: path)
        }
        guard let kernel = Self.kernel(info.type), info.type == .f32 || QuantCodec.codec(info.type) != nil else {
            throw QuantKitError("tensor \(name) has type \(info.type.name), which the inference engine cannot multiply", path: path)
        }
        let rowBytes = info.type.rowSize(cols)
        let data = model.data(of: info)
        guard data.count >= rowBytes * rows * count else {
            throw QuantKitError("tensor \(name) is truncated", path: path)
        }
        return (0 ..< count).map { e in
            Matrix(name: name, type: info.type, rows: rows, cols: cols, data: data.baseAddress! + e * rows * rowBytes,
                   rowBytes: rowBytes, kernel: kernel, expert: ExpertSlice(index: e, count: count))
        }
    }

    /// The 1-D tensor `name` of `count` elements as floats (norm weights, biases).
    public func vector(_ name: String, count: Int) throws -> [Float] {
        guard let info = model.tensor(named: name) else {
            throw QuantKitError("tensor \(name) is missing", path: path)
        }
        guard info.elementCount == count else {
            throw QuantKitError("tensor \(name) has \(info.elementCount) elements, expected \(count)", path: path)
        }
        let data = model.data(of: info)
        var out = [Float](repeating: 0, count: count)
        try out.withUnsafeMutableBufferPointer { dst in
            switch info.type {
            case .f32: dst.baseAddress!.update(from: data.baseAddress!.assumingMemoryBound(to: Float.self), count: count)
            default:
                guard let codec = QuantCodec.codec(info.type), count % info.type.blockSize == 0 else {
                    throw QuantKitError("tensor \(name) has unsupported type \(info.type.name)", path: path)
                }
                codec.dequantize(data.baseAddress!, dst.baseAddress!, count)
            }
        }
        return out
    }

    public func optionalVector(_ name: String, count: Int) throws -> [Float]? {
        has(name) ? try vector(name, count: count) : nil
    }
}
