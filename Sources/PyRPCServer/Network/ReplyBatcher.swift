import NIOCore
import Synchronization

/// Answers computed on Python workers, handed to the event loops in batches.
///
/// Completing a promise from a worker wakes its event loop; on a busy core the woken loop
/// preempts the worker, writes one answer and sleeps again, so every call paid two context
/// switches. Workers add answers here instead and the pool calls `flush` when a worker runs
/// out of queued jobs (or after a bounded batch, or on the pool monitor's tick): one task per
/// event loop then writes all of them.
final class ReplyBatcher: Sendable {
    private struct Pending {
        let promise: EventLoopPromise<[UInt8]>
        let reply: [UInt8]
    }

    private let pending = Mutex<[Pending]>([])

    func add(_ reply: [UInt8], for promise: EventLoopPromise<[UInt8]>) {
        pending.withLock { $0.append(Pending(promise: promise, reply: reply)) }
    }

    func flush() {
        let batch = pending.withLock { pending -> [Pending] in
            defer { pending = [] }
            return pending
        }
        guard !batch.isEmpty else { return }
        var byLoop: [(loop: EventLoop, items: [Pending])] = []
        for item in batch {
            let loop = item.promise.futureResult.eventLoop
            if let index = byLoop.firstIndex(where: { $0.loop === loop }) {
                byLoop[index].items.append(item)
            } else {
                byLoop.append((loop, [item]))
            }
        }
        for (loop, items) in byLoop {
            loop.execute {
                for item in items { item.promise.succeed(item.reply) }
            }
        }
    }
}
