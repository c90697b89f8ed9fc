#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Atomics

/// One persistent pool of worker threads shared by quantization and inference. Pools live for
/// the whole process (their threads keep them alive); use `ThreadPool.shared` or a few long-lived ones.
///
/// `parallelFor` hands out work items from an atomic counter; the calling thread works too,
/// so a pool of N threads uses N-1 workers plus the caller. Nested calls from inside a job
/// run serially on the calling thread instead of deadlocking.
public final class ThreadPool: @unchecked Sendable {
    /// The process-wide pool, sized to the machine's cores.
    nonisolated(unsafe) public static var shared = ThreadPool(threads: ThreadPool.coreCount)

    /// Number of online CPU cores.
    public static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Threads that take part in a job, the caller included.
    public let threadCount: Int

    private var mutex = pthread_mutex_t()
    private var startCond = pthread_cond_t()
    private var doneCond = pthread_cond_t()
    private let callerLock = PthreadLock()
    private var generation: UInt64 = 0
    private var pending = 0
    private var participants = 0
    private var shuttingDown = false
    private var job: ((Int) -> Void)?
    private var jobCount = 0
    private let next = ManagedAtomic<Int>(0)
    private var threads: [pthread_t] = []

    public init(threads: Int) {
        threadCount = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&startCond, nil)
        pthread_cond_init(&doneCond, nil)
        for index in 0..<(threadCount - 1) {
            let box = Unmanaged.passRetained(WorkerStart(pool: self, index: index))
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { raw in
                let start = Unmanaged<WorkerStart>.fromOpaque(raw!).takeRetainedValue()
                start.pool.workerLoop(index: start.index)
                return nil
            }, box.toOpaque())
            if rc == 0 { self.threads.append(tid) } else { box.release() }
        }
    }

    deinit {
        pthread_mutex_lock(&mutex)
        shuttingDown = true
        pthread_cond_broadcast(&startCond)
        pthread_mutex_unlock(&mutex)
        for t in threads { pthread_join(t, nil) }
    }

    private final class WorkerStart {
        unowned let pool: ThreadPool
        let index: Int
        init(pool: ThreadPool, index: Int) { self.pool = pool; self.index = index }
    }

    nonisolated(unsafe) private static var insideJob = pthread_key_t()
    private static let keyCreated: Bool = {
        pthread_key_create(&insideJob, nil)
        return true
    }()

    private static var isInsideJob: Bool {
        _ = keyCreated
        return pthread_getspecific(insideJob) != nil
    }

    private static func setInsideJob(_ on: Bool) {
        _ = keyCreated
        pthread_setspecific(insideJob, on ? UnsafeRawPointer(bitPattern: 1) : nil)
    }

    private func workerLoop(index: Int) {
        Self.setInsideJob(true)
        var seen: UInt64 = 0
        while true {
            pthread_mutex_lock(&mutex)
            while generation == seen && !shuttingDown { pthread_cond_wait(&startCond, &mutex) }
            if shuttingDown { pthread_mutex_unlock(&mutex); return }
            seen = generation
            // Only participants take a reference to the job, and they drop it before reporting
            // done: the caller's closure must not outlive its `withoutActuallyEscaping` scope.
            var body = index < participants ? job : nil
            pthread_mutex_unlock(&mutex)
            guard body != nil else { continue }
            drain(body!)
            body = nil
            pthread_mutex_lock(&mutex)
            pending -= 1
            if pending == 0 { pthread_cond_signal(&doneCond) }
            pthread_mutex_unlock(&mutex)
        }
    }

    private func drain(_ body: (Int) -> Void) {
        while true {
            let i = next.loadThenWrappingIncrement(ordering: .relaxed)
            if i >= jobCount { return }
            body(i)
        }
    }

    /// Runs `body(i)` for every i in 0..<count, spread over at most `threads` threads
    /// (default: the whole pool). Returns when all items are done.
    public func parallelFor(_ count: Int, threads: Int? = nil, _ body: (Int) -> Void) {
        guard count > 0 else { return }
        let want = min(threads ?? threadCount, threadCount, count)
        if want <= 1 || Self.isInsideJob {
            for i in 0..<count { body(i) }
            return
        }
        callerLock.lock()
        defer { callerLock.unlock() }
        withoutActuallyEscaping(body) { escapable in
            pthread_mutex_lock(&mutex)
            job = escapable
            jobCount = count
            next.store(0, ordering: .relaxed)
            participants = want - 1
            pending = want - 1
            generation &+= 1
            pthread_cond_broadcast(&startCond)
            pthread_mutex_unlock(&mutex)

            Self.setInsideJob(true)
            drain(escapable)
            Self.setInsideJob(false)

            pthread_mutex_lock(&mutex)
            while pending > 0 { pthread_cond_wait(&doneCond, &mutex) }
            job = nil
            pthread_mutex_unlock(&mutex)
        }
    }
}
