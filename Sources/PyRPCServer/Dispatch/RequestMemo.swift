import PyRPCWire

/// What a connection remembers of its last small request, so that the next one like it is
/// read by difference (`RequestTemplate`) and dispatched without looking anything up again.
/// Used by the connection's I/O loop leader only (no run-time exclusivity check: see `IOLoop`).
final class RequestMemo {
    @exclusivity(unchecked) var template: RequestTemplate?
    /// The dispatch of the template's request: valid while its generation is the current
    /// one, for any arguments and id (the values are checked as they are parsed into Python).
    @exclusivity(unchecked) var call: Dispatcher.Call?
}
