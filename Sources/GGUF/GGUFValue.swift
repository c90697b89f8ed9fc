#if _endian(big)
#error("GGUF support assumes a little-endian host (GGUF v2/v3 files are little-endian)")
#endif

/// The value types a GGUF metadata entry can hold, with GGUF's type ids.
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5
    case float32 = 6, bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Encoded size of one scalar value (nil for strings and arrays, whose size varies).
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }

    /// The smallest possible encoding of one value of this type (a string is at least its
    /// 8-byte length, an array its 4-byte element type and 8-byte count). Used to refuse
    /// counts a file cannot possibly hold before anything is allocated.
    public var minimumEncodedSize: Int { fixedSize ?? (self == .string ? 8 : 12) }

    /// The name gguf-py and llama.cpp use (e.g. "UINT32", "FLOAT32", "STRING").
    public var name: String {
        switch self {
        case .uint8: "UINT8"
        case .int8: "INT8"
        case .uint16: "UINT16"
        case .int16: "INT16"
        case .uint32: "UINT32"
        case .int32: "INT32"
        case .float32: "FLOAT32"
        case .bool: "BOOL"
        case .string: "STRING"
        case .array: "ARRAY"
        case .uint64: "UINT64"
        case .int64: "INT64"
        case .float64: "FLOAT64"
        }
    }
}

/// One GGUF metadata value, scalar or array.
///
/// Equality compares encodings: two floats are equal when their bits are (so NaN payloads and
/// -0.0 round-trip checks work), which is what "the same file" means.
public enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String)
    case array(GGUFArray)
    case uint64(UInt64), int64(Int64), float64(Double)

    /// The GGUF type of this value.
    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .array: .array
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        }
    }

    /// The value as an integer, for any integer type (nil otherwise or when it does not fit).
    public var int: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// The value as a Double, for any numeric type.
    public var double: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: int.map(Double.init)
        }
    }

    /// The string, for string values.
    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The bool, for bool values.
    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The array, for array values.
    public var array: GGUFArray? {
        if case .array(let a) = self { return a }
        return nil
    }

    public static func == (a: GGUFValue, b: GGUFValue) -> Bool {
        switch (a, b) {
        case (.uint8(let x), .uint8(let y)): x == y
        case (.int8(let x), .int8(let y)): x == y
        case (.uint16(let x), .uint16(let y)): x == y
        case (.int16(let x), .int16(let y)): x == y
        case (.uint32(let x), .uint32(let y)): x == y
        case (.int32(let x), .int32(let y)): x == y
        case (.uint64(let x), .uint64(let y)): x == y
        case (.int64(let x), .int64(let y)): x == y
        case (.float32(let x), .float32(let y)): x.bitPattern == y.bitPattern
        case (.float64(let x), .float64(let y)): x.bitPattern == y.bitPattern
        case (.bool(let x), .bool(let y)): x == y
        case (.string(let x), .string(let y)): x.utf8.elementsEqual(y.utf8)
        case (.array(let x), .array(let y)): x == y
        default: false
        }
    }
}

/// A GGUF metadata array, stored as a typed Swift array.
///
/// Typed storage keeps big vocabularies cheap: 262,144 tokens are one `[String]` and one
/// `[Float]`, not half a million boxed values. The element type survives even when the array
/// is empty, so every array round-trips exactly. Arrays of arrays (which gguf-py can write
/// but llama.cpp cannot read) keep each inner array's own element type.
public enum GGUFArray: Equatable, Sendable {
    case uint8([UInt8]), int8([Int8]), uint16([UInt16]), int16([Int16]), uint32([UInt32]), int32([Int32])
    case float32([Float]), bool([Bool]), string([String])
    case array([GGUFArray])
    case uint64([UInt64]), int64([Int64]), float64([Double])

    /// The GGUF type of the elements.
    public var elementType: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .float32: .float32
        case .bool: .bool
        case .string: .string
        case .array: .array
        case .uint64: .uint64
        case .int64: .int64
        case .float64: .float64
        }
    }

    /// Number of elements.
    public var count: Int {
        switch self {
        case .uint8(let a): a.count
        case .int8(let a): a.count
        case .uint16(let a): a.count
        case .int16(let a): a.count
        case .uint32(let a): a.count
        case .int32(let a): a.count
        case .float32(let a): a.count
        case .bool(let a): a.count
        case .string(let a): a.count
        case .array(let a): a.count
        case .uint64(let a): a.count
        case .int64(let a): a.count
        case .float64(let a): a.count
        }
    }

    /// An empty array of the given element type.
    public static func empty(_ type: GGUFValueType) -> GGUFArray {
        switch type {
        case .uint8: .uint8([])
        case .int8: .int8([])
        case .uint16: .uint16([])
        case .int16: .int16([])
        case .uint32: .uint32([])
        case .int32: .int32([])
        case .float32: .float32([])
        case .bool: .bool([])
        case .string: .string([])
        case .array: .array([])
        case .uint64: .uint64([])
        case .int64: .int64([])
        case .float64: .float64([])
        }
    }

    /// Element `i` as a value (0 ≤ i < count).
    public subscript(i: Int) -> GGUFValue {
        switch self {
        case .uint8(let a): .uint8(a[i])
        case .int8(let a): .int8(a[i])
        case .uint16(let a): .uint16(a[i])
        case .int16(let a): .int16(a[i])
        case .uint32(let a): .uint32(a[i])
        case .int32(let a): .int32(a[i])
        case .float32(let a): .float32(a[i])
        case .bool(let a): .bool(a[i])
        case .string(let a): .string(a[i])
        case .array(let a): .array(a[i])
        case .uint64(let a): .uint64(a[i])
        case .int64(let a): .int64(a[i])
        case .float64(let a): .float64(a[i])
        }
    }

    /// Every element as a value (convenient, but allocates one value per element).
    public var values: [GGUFValue] { (0 ..< count).map { self[$0] } }

    /// The strings, for string arrays (e.g. `tokenizer.ggml.tokens`).
    public var strings: [String]? {
        if case .string(let a) = self { return a }
        return nil
    }

    /// The elements as integers, for integer arrays (nil if any does not fit an Int).
    public var ints: [Int]? {
        switch self {
        case .uint8(let a): a.map(Int.init)
        case .int8(let a): a.map(Int.init)
        case .uint16(let a): a.map(Int.init)
        case .int16(let a): a.map(Int.init)
        case .uint32(let a): a.map(Int.init)
        case .int32(let a): a.map(Int.init)
        case .int64(let a): a.map(Int.init)
        case .uint64(let a): a.allSatisfy({ $0 <= UInt64(Int.max) }) ? a.map { Int($0) } : nil
        default: nil
        }
    }

    /// The elements as Floats, for float32 arrays (e.g. `tokenizer.ggml.scores`).
    public var floats: [Float]? {
        if case .float32(let a) = self { return a }
        return nil
    }

    public static func == (a: GGUFArray, b: GGUFArray) -> Bool {
        switch (a, b) {
        case (.uint8(let x), .uint8(let y)): x == y
        case (.int8(let x), .int8(let y)): x == y
        case (.uint16(let x), .uint16(let y)): x == y
        case (.int16(let x), .int16(let y)): x == y
        case (.uint32(let x), .uint32(let y)): x == y
        case (.int32(let x), .int32(let y)): x == y
        case (.uint64(let x), .uint64(let y)): x == y
        case (.int64(let x), .int64(let y)): x == y
        case (.bool(let x), .bool(let y)): x == y
        case (.float32(let x), .float32(let y)): x.elementsEqual(y) { $0.bitPattern == $1.bitPattern }
        case (.float64(let x), .float64(let y)): x.elementsEqual(y) { $0.bitPattern == $1.bitPattern }
        case (.string(let x), .string(let y)): x.elementsEqual(y) { $0.utf8.elementsEqual($1.utf8) }
        case (.array(let x), .array(let y)): x == y
        default: false
        }
    }
}

/// GGUF metadata: key/value pairs in file order, with lookup by key.
///
/// Order matters in GGUF (a rewritten file is only byte-identical if the keys come in the same
/// order), so this is an ordered collection; keys are unique. Assigning to an existing key
/// replaces its value in place, assigning to a new key appends it, assigning nil removes it.
public struct GGUFMetadata: RandomAccessCollection, Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// One key/value pair.
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var value: GGUFValue
        public init(key: String, value: GGUFValue) { self.key = key; self.value = value }
    }

    /// The entries, in order.
    public private(set) var entries: [Entry] = []
    private var index: [String: Int] = [:]

    public init() {}

    /// Metadata from entries in order; a later duplicate key replaces the earlier value.
    public init(_ entries: [Entry]) {
        for e in entries { self[e.key] = e.value }
    }

    public init(dictionaryLiteral elements: (String, GGUFValue)...) {
        for (k, v) in elements { self[k] = v }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { entries.count }
    public subscript(position: Int) -> Entry { entries[position] }

    /// The keys, in order.
    public var keys: [String] { entries.map(\.key) }

    /// Whether `key` is present.
    public func contains(key: String) -> Bool { index[key] != nil }

    /// The position of `key` in the order, if present.
    public func position(of key: String) -> Int? { index[key] }

    /// The value of `key`; setting replaces in place, appends a new key, or removes with nil.
    public subscript(key: String) -> GGUFValue? {
        get { index[key].map { entries[$0].value } }
        set {
            if let i = index[key] {
                if let newValue { entries[i].value = newValue } else { remove(at: i) }
            } else if let newValue {
                index[key] = entries.count
                entries.append(Entry(key: key, value: newValue))
            }
        }
    }

    /// Removes `key`, returning its value.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> GGUFValue? {
        guard let i = index[key] else { return nil }
        let v = entries[i].value
        remove(at: i)
        return v
    }

    private mutating func remove(at i: Int) {
        index[entries[i].key] = nil
        entries.remove(at: i)
        for j in i ..< entries.count { index[entries[j].key] = j }
    }

    /// Appends an entry known to be new (used by the reader; the caller checks uniqueness).
    mutating func appendUnique(_ key: String, _ value: GGUFValue) {
        index[key] = entries.count
        entries.append(Entry(key: key, value: value))
    }

    public static func == (a: GGUFMetadata, b: GGUFMetadata) -> Bool { a.entries == b.entries }
}
