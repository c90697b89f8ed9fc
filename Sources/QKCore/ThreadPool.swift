#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Atomics

/// One persistent pool of worker threads shared by quantization and inference.
///
/// `parallelFor` hands out work items from an atomic counter; the calling thread works too,
/// so a pool of N threads uses N-1 workers plus the caller. Nested calls from inside a job
/// run serially on the calling thread instead of deadlocking. Callers from several threads
/// are served one job at a time.
public final class ThreadPool: @unchecked Sendable {
    /// The process-wide pool, sized to the machine's cores.
    nonisolated(unsafe) public static var shared = ThreadPool(threads: ThreadPool.coreCount)

    /// Number of online CPU cores.
    public static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Threads that take part in a job, the caller included.
    public let threadCount: Int

    private let state: State
    private var threads: [pthread_t] = []
    private let callerLock = PthreadLock()

    public init(threads: Int) {
        threadCount = max(1, threads)
        state = State()
        for index in 0 ..< (threadCount - 1) {
            // Workers hold the state, never the pool, so the pool can be released and joined.
            let box = Unmanaged.passRetained(WorkerStart(state: state, index: index))
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.state.workerLoop(index: start.index)
                return nil
            }, box.toOpaque())
            if rc == 0 { self.threads.append(tid) } else { box.release() }
        }
    }

    deinit {
        state.shutDown()
        for t in threads { pthread_join(t, nil) }
    }

    /// Runs `body(i)` for every i in 0..<count, spread over at most `threads` threads
    /// (default: the whole pool). Returns when all items are done.
    public func parallelFor(_ count: Int, threads: Int? = nil, _ body: (Int) -> Void) {
        guard count > 0 else { return }
        let want = min(threads ?? threadCount, threadCount, count, self.threads.count + 1)
        if want <= 1 || State.isInsideJob {
            for i in 0 ..< count { body(i) }
            return
        }
        callerLock.lock()
        defer { callerLock.unlock() }
        withoutActuallyEscaping(body) { state.run($0, count: count, workers: want - 1) }
    }

    private final class WorkerStart {
        let state: State
        let index: Int
        init(state: State, index: Int) { self.state = state; self.index = index }
    }

    /// What the workers share with the pool: the current job and its bookkeeping.
    private final class State: @unchecked Sendable {
        private var mutex = pthread_mutex_t()
        private var startCond = pthread_cond_t()
        private var doneCond = pthread_cond_t()
        private var generation: UInt64 = 0
        private var participants = 0
        private var shuttingDown = false
        private var job: ((Int) -> Void)?
        private var jobCount = 0
        private let next = ManagedAtomic<Int>(0)
        /// Mirrors of `generation` and the count of busy workers, polled before sleeping:
        /// back-to-back small jobs (one per matmul when generating text) then start and finish
        /// without a futex round trip.
        private let publishedGeneration = ManagedAtomic<UInt64>(0)
        private let busy = ManagedAtomic<Int>(0)
        /// Polls before sleeping (a few tens of microseconds).
        private static let spins = 20_000

        init() {
            pthread_mutex_init(&mutex, nil)
            pthread_cond_init(&startCond, nil)
            pthread_cond_init(&doneCond, nil)
        }

        func shutDown() {
            pthread_mutex_lock(&mutex)
            shuttingDown = true
            pthread_cond_broadcast(&startCond)
            pthread_mutex_unlock(&mutex)
        }

        nonisolated(unsafe) private static var insideKey = pthread_key_t()
        private static let keyCreated: Bool = {
            pthread_key_create(&insideKey, nil)
            return true
        }()

        static var isInsideJob: Bool {
            _ = keyCreated
            return pthread_getspecific(insideKey) != nil
        }

        static func setInsideJob(_ on: Bool) {
            _ = keyCreated
            pthread_setspecific(insideKey, on ? UnsafeRawPointer(bitPattern: 1) : nil)
        }

        func workerLoop(index: Int) {
            Self.setInsideJob(true)
            var seen: UInt64 = 0
            while true {
                var polls = 0
                while publishedGeneration.load(ordering: .acquiring) == seen && polls < Self.spins { polls += 1 }
                pthread_mutex_lock(&mutex)
                while generation == seen && !shuttingDown { pthread_cond_wait(&startCond, &mutex) }
                if shuttingDown { pthread_mutex_unlock(&mutex); return }
                seen = generation
                // Only participants take a reference to the job, and only while the caller has
                // not withdrawn it: a worker that wakes after the caller finished every item
                // skips the job instead of making the caller wait for it.
                var body = index < participants ? job : nil
                if body != nil { busy.wrappingIncrement(ordering: .acquiringAndReleasing) }
                pthread_mutex_unlock(&mutex)
                guard body != nil else { continue }
                drain(body!)
                body = nil
                if busy.wrappingDecrementThenLoad(ordering: .acquiringAndReleasing) == 0 {
                    pthread_mutex_lock(&mutex)
                    pthread_cond_signal(&doneCond)
                    pthread_mutex_unlock(&mutex)
                }
            }
        }

        private func drain(_ body: (Int) -> Void) {
            while true {
                let i = next.loadThenWrappingIncrement(ordering: .relaxed)
                if i >= jobCount { return }
                body(i)
            }
        }

        func run(_ body: @escaping (Int) -> Void, count: Int, workers: Int) {
            pthread_mutex_lock(&mutex)
            job = body
            jobCount = count
            next.store(0, ordering: .relaxed)
            participants = workers
            generation &+= 1
            publishedGeneration.store(generation, ordering: .releasing)
            pthread_cond_broadcast(&startCond)
            pthread_mutex_unlock(&mutex)

            Self.setInsideJob(true)
            drain(body)
            Self.setInsideJob(false)

            // Withdraw the job, then wait for the workers that took it.
            pthread_mutex_lock(&mutex)
            job = nil
            pthread_mutex_unlock(&mutex)
            var polls = 0
            while busy.load(ordering: .acquiring) > 0 && polls < Self.spins { polls += 1 }
            pthread_mutex_lock(&mutex)
            while busy.load(ordering: .acquiring) > 0 { pthread_cond_wait(&doneCond, &mutex) }
            job = nil
            pthread_mutex_unlock(&mutex)
        }
    }
}
