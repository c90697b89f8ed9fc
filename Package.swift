// swift-tools-version: 6.2
import PackageDescription

// Hot loops need F16C/AVX2/FMA; without them Float(Float16) is a software call.
// The bit-exact quantizers never use FMA: Swift does not contract a*b+c on its own.
let speed: [SwiftSetting] = [
    // Tests run on release builds (debug is far too slow for quantizers); some use @testable.
    .unsafeFlags(["-enable-testing"], .when(configuration: .release)),
    .unsafeFlags(["-target-cpu", "haswell"], .when(platforms: [.linux])),
]

let package = Package(
    name: "QuantKit",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "quant", targets: ["quant"]),
        .library(name: "QuantKit", targets: ["QKCore", "GGUF", "SafeTensors", "QuantFormats", "Quantization", "Inspection",
                                             "Tokenizers", "DotKernels", "Inference", "Evaluation", "Calibration", "Conversion", "Planning", "Export"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-atomics", from: "1.3.0"),
    ],
    targets: [
        // Shared ground: ggml type table, mmap'd files, atomic output, thread pool, half floats.
        .target(name: "QKCore", dependencies: [.product(name: "Atomics", package: "swift-atomics")], swiftSettings: speed),
        // GGUF v2/v3 reading, writing and splitting.
        .target(name: "GGUF", dependencies: ["QKCore"], swiftSettings: speed),
        // safetensors files and sharded Hugging Face checkpoints.
        .target(name: "SafeTensors", dependencies: ["QKCore"], swiftSettings: speed),
        // Per-type block quantizers and dequantizers, bit-exact with ggml.
        .target(name: "QuantFormats", dependencies: ["QKCore"], swiftSettings: speed),
        // Human and JSON summaries of model files (`quant inspect`).
        .target(name: "Inspection", dependencies: ["QKCore", "GGUF", "SafeTensors"], swiftSettings: speed),
        // Whole-file quantization pipelines built on the formats.
        .target(name: "Quantization", dependencies: ["QKCore", "GGUF", "SafeTensors", "QuantFormats", "CKernels",
                                                     .product(name: "Logging", package: "swift-log")], swiftSettings: speed),
        // Hugging Face checkpoints → the GGUF llama.cpp's converter writes, optionally quantized in one pass.
        .target(name: "Conversion", dependencies: ["QKCore", "GGUF", "SafeTensors", "QuantFormats", "Quantization", "Tokenizers"],
                swiftSettings: speed),
        // Text ↔ token ids from GGUF vocabularies (SentencePiece and byte-level BPE), as llama.cpp does.
        .target(name: "Tokenizers", dependencies: ["QKCore", "GGUF"], swiftSettings: speed),
        // SIMD intrinsics for quantized dot products, chosen at run time by CPU feature (portable build).
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        // Quantized-weight × activation dot products and tiled matmuls, with plain Swift references.
        .target(name: "DotKernels", dependencies: ["QKCore", "QuantFormats", "CKernels"], swiftSettings: speed),
        // The CPU inference engine: model loading and one forward pass per architecture.
        .target(name: "Inference", dependencies: ["QKCore", "GGUF", "QuantFormats", "DotKernels", "Tokenizers"],
                swiftSettings: speed),
        // Perplexity, KL divergence, generation and speed benchmarks on top of the engine.
        .target(name: "Evaluation", dependencies: ["QKCore", "GGUF", "Inference", "Tokenizers"], swiftSettings: speed),
        // Memory planning: exact weight sizes per file type, KV cache and compute buffers, and
        // the quant that fits a machine (`quant plan`).
        .target(name: "Planning", dependencies: ["QKCore", "GGUF", "SafeTensors", "Quantization"], swiftSettings: speed),
        // Calibration statistics collected with the engine: importance matrices, GPTQ Hessians.
        .target(name: "Calibration", dependencies: ["QKCore", "GGUF", "Quantization", "Inference", "Evaluation", "CKernels"],
                swiftSettings: speed),
        // Hugging Face checkpoints with 4/8-bit group-quantized linears for GPU engines (vLLM,
        // transformers): compressed-tensors, GPTQ and AWQ layouts; RTN, GPTQ and AWQ methods.
        .target(name: "Export", dependencies: ["QKCore", "GGUF", "SafeTensors", "QuantFormats", "Quantization", "CKernels", "Conversion", "Inference", "Tokenizers", "Calibration"],
                swiftSettings: speed),
        .executableTarget(name: "quant", dependencies: [
            "QKCore", "GGUF", "SafeTensors", "QuantFormats", "Quantization", "Inspection",
            "Tokenizers", "DotKernels", "Inference", "Evaluation", "Calibration", "Conversion", "Planning", "Export",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: speed),
        // Runs the built `quant` binary as a user would (exit codes, files left behind, output).
        .testTarget(name: "CLITests", dependencies: ["quant"], swiftSettings: speed),
        .testTarget(name: "QKCoreTests", dependencies: ["QKCore"], swiftSettings: speed),
        .testTarget(name: "GGUFTests", dependencies: ["GGUF", "QKCore"], swiftSettings: speed),
        .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors", "QKCore"], swiftSettings: speed),
        .testTarget(name: "QuantFormatsTests", dependencies: ["QuantFormats", "GGUF", "QKCore"], swiftSettings: speed),
        .testTarget(name: "TokenizersTests", dependencies: ["Tokenizers", "GGUF", "QKCore"], exclude: ["Fixtures"],
                    swiftSettings: speed),
        .testTarget(name: "DotKernelsTests", dependencies: ["DotKernels", "QuantFormats", "QKCore"], swiftSettings: speed),
        .testTarget(name: "InferenceTests", dependencies: ["Inference", "Evaluation", "Tokenizers", "Quantization", "DotKernels", "QuantFormats", "GGUF", "QKCore"],
                    exclude: ["Fixtures"],
                    swiftSettings: speed),
        .testTarget(name: "CalibrationTests", dependencies: ["Calibration", "Inference", "Evaluation", "Quantization", "Tokenizers", "GGUF", "QKCore"],
                    exclude: ["Fixtures"], swiftSettings: speed),
        .testTarget(name: "ConversionTests", dependencies: ["Conversion", "Quantization", "SafeTensors", "GGUF", "QKCore"],
                    exclude: ["Fixtures"],
                    swiftSettings: speed),
        .testTarget(name: "PlanningTests", dependencies: ["Planning", "Quantization", "SafeTensors", "GGUF", "QKCore"], exclude: ["Fixtures"],
                    swiftSettings: speed),
        .testTarget(name: "ExportTests", dependencies: ["Export", "Conversion", "Inference", "SafeTensors", "QKCore"], exclude: ["decode_export.py"],
                    swiftSettings: speed),
        .testTarget(name: "QuantizationTests", dependencies: ["Quantization", "GGUF", "QuantFormats", "QKCore", "CKernels"], swiftSettings: speed),
    ],
    swiftLanguageModes: [.v6]
)
