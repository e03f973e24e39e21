import Foundation

/// Runs work that blocks (waiting on a `WorkerSet` change) on a thread of its own, so that an
/// async caller waits for it without holding one of the concurrency pool's few threads.
enum Blocking {
    static func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }
}
