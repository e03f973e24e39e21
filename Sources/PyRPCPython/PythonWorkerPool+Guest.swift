import CPython

extension PythonWorkerPool {
    /// A thread that is not one of the pool's workers but runs queued jobs itself: an I/O
    /// thread that runs the calls it just read, so a quick call never changes threads.
    /// Make it on the thread that will use it; `retire` it on the same thread.
    public final class Guest: @unchecked Sendable {
        let slot: Int
        let ident: UInt
        let outer: PyGILState_STATE
        let threadState: UnsafeMutablePointer<PyThreadState>

        init(slot: Int) {
            self.slot = slot
            outer = PyGILState_Ensure()
            ident = UInt(PyThread_get_thread_ident())
            threadState = PyEval_SaveThread()!
        }
    }
}
