import Foundation

extension PythonWorkerPool {
    /// Runs `body` on a worker with the GIL and returns its result (admin work, no deadline).
    public func perform<T: Sendable>(_ body: @escaping @Sendable (borrowing GIL) -> T) async -> T {
        await withCheckedContinuation { continuation in
            let accepted = submit(ClosureJob(deadline: nil, work: { gil in continuation.resume(returning: body(gil)) }), force: true)
            if !accepted {
                // Stopping: run it here rather than never answering.
                continuation.resume(returning: PythonRuntime.shared.withGIL { body($0) })
            }
        }
    }

    /// Blocking variant of `perform`, for code that is not async (never call it on an event loop).
    public func performBlocking<T: Sendable>(_ body: @escaping @Sendable (borrowing GIL) -> T) -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        let accepted = submit(ClosureJob(deadline: nil, work: { gil in
            box.value = body(gil)
            done.signal()
        }), force: true)
        if !accepted { return PythonRuntime.shared.withGIL { body($0) } }
        done.wait()
        return box.value!
    }
}

private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
