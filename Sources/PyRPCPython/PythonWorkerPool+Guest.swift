import CPython

extension PythonWorkerPool {
    /// A thread that is not one of the pool's workers but runs queued jobs itself: an I/O
    /// thread that runs the calls it just read, so a quick call never changes threads.
    /// Make it on the thread that will use it; `retire` it on the same thread.
    public final class Guest: @unchecked Sendable {
        let slot: Int
        let ident: UInt
        let threadState: UnsafeMutablePointer<PyThreadState>

        /// Without the GIL (`PyThreadState_New` needs none, and binds the thread state to this
        /// thread for `PyGILState_Ensure`): a thread made while a call holds the GIL — or a
        /// crashed call holds it for good (`CrashRescue`) — does not wait for it here.
        init(slot: Int) {
            self.slot = slot
            threadState = PyThreadState_New(PyInterpreterState_Main())!
            ident = UInt(PyThread_get_thread_ident())
        }
    }
}
