import Foundation

/// Wakes one sleeping thread; a ring while nobody sleeps is kept for the next `wait`.
final class Doorbell: @unchecked Sendable {  // `rung` is read and written under `condition`
    private let condition = NSCondition()
    private var rung = false

    func ring() {
        condition.lock()
        rung = true
        condition.signal()
        condition.unlock()
    }

    /// Returns once rung (at once if it was rung since the last wait).
    func wait() {
        condition.lock()
        while !rung { condition.wait() }
        rung = false
        condition.unlock()
    }
}
