import Atomics
import QKCore
import Testing

struct ThreadPoolTests {
    @Test func runsEveryItemExactlyOnce() {
        let pool = ThreadPool(threads: 4)
        let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: 10_000)
        hits.initialize(repeating: 0)
        defer { hits.deallocate() }
        for _ in 0 ..< 20 {
            pool.parallelFor(hits.count) { i in hits[i] += 1 }
        }
        #expect(hits.allSatisfy { $0 == 20 })
    }

    @Test func usesSeveralThreads() {
        let pool = ThreadPool(threads: 2)
        let distinct = ManagedAtomic<Int>(0)
        let lock = PthreadLock()
        nonisolated(unsafe) var seen = Set<UInt>()
        pool.parallelFor(64) { _ in
            let me = UInt(bitPattern: pthreadSelfID())
            lock.locked { if seen.insert(me).inserted { distinct.wrappingIncrement(ordering: .relaxed) } }
            var x = 0.0
            for k in 0 ..< 200_000 { x += Double(k) }
            #expect(x > 0)
        }
        #expect(distinct.load(ordering: .relaxed) == 2)
    }

    @Test func nestedCallsRunSeriallyInsteadOfDeadlocking() {
        let pool = ThreadPool(threads: 2)
        let total = ManagedAtomic<Int>(0)
        pool.parallelFor(8) { _ in
            pool.parallelFor(8) { _ in total.wrappingIncrement(ordering: .relaxed) }
        }
        #expect(total.load(ordering: .relaxed) == 64)
    }

    @Test func limitsThreads() {
        let pool = ThreadPool(threads: 2)
        var order: [Int] = []
        pool.parallelFor(100, threads: 1) { i in order.append(i) }
        #expect(order == Array(0 ..< 100))
    }
}

#if canImport(Glibc)
import Glibc
private func pthreadSelfID() -> Int { Int(bitPattern: UInt(pthread_self())) }
#else
import Darwin
private func pthreadSelfID() -> Int { Int(bitPattern: pthread_self()) }
#endif
