import Planning
import Testing

@Suite struct ByteSizeTests {
    @Test func parsesDecimalAndBinaryUnits() throws {
        #expect(try ByteSize(parsing: "8GB").bytes == 8_000_000_000)
        #expect(try ByteSize(parsing: "24GiB").bytes == 24 << 30)
        #expect(try ByteSize(parsing: "1.5 GB").bytes == 1_500_000_000)
        #expect(try ByteSize(parsing: "512MiB").bytes == 512 << 20)
        #expect(try ByteSize(parsing: "1000B").bytes == 1000)
        #expect(try ByteSize(parsing: "4096").bytes == 4096)
        #expect(try ByteSize(parsing: "2kb").bytes == 2000)
        #expect(try ByteSize(parsing: "0.5TiB").bytes == 1 << 39)
    }

    @Test func rejectsGarbage() {
        for s in ["", "GB", "-1GB", "8XB", "1e3GB", "8 G B"] {
            #expect(throws: (any Error).self) { try ByteSize(parsing: s) }
        }
    }

    @Test func printsDecimalUnits() {
        #expect(ByteSize(bytes: 4_920_000_000).description == "4.92 GB")
        #expect(ByteSize(bytes: 812_300_000).description == "812 MB")
        #expect(ByteSize(bytes: 999).description == "999 B")
    }
}
