/// The pool's pending jobs, first in, first out, in a ring that doubles when full. Taking a
/// job or emptying the queue moves nothing: an array with a moving head paid a general
/// removal (`replaceSubrange`) each time the queue emptied, which for one-shot calls, whose
/// queue empties every turn, was 2% of the server's user CPU.
struct JobQueue {
    private var slots = [PythonJob?](repeating: nil, count: 16)
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ job: PythonJob) {
        if count == slots.count { grow() }
        slots[(head + count) & (slots.count - 1)] = job
        count += 1
    }

    /// The oldest job, out of its slot at once (a job holds its request: megabytes, for large
    /// arguments).
    mutating func popFirst() -> PythonJob? {
        guard count > 0 else { return nil }
        let job = slots[head].take()
        head = (head + 1) & (slots.count - 1)
        count -= 1
        return job
    }

    /// Every job, oldest first, taken out.
    mutating func takeAll() -> [PythonJob] {
        var jobs: [PythonJob] = []
        jobs.reserveCapacity(count)
        while let job = popFirst() { jobs.append(job) }
        return jobs
    }

    /// Twice the slots (a power of two, so a position wraps with a mask), the jobs in order
    /// from the first.
    private mutating func grow() {
        var bigger = [PythonJob?](repeating: nil, count: slots.count * 2)
        for index in 0..<count { bigger[index] = slots[(head + index) & (slots.count - 1)].take() }
        slots = bigger
        head = 0
    }
}
