import PyRPCWire

/// What a connection remembers of its last small request, so that the next one like it is
/// read by difference (`RequestTemplate`) and answered without looking anything up again.
/// Used by the connection's I/O loop leader only (see `IOLoop`).
final class RequestMemo {
    var template: RequestTemplate?
    /// What the server decided for the template's request (its dispatch), kept for the next
    /// request like it. Opaque here: the network layer only carries it.
    var decision: AnyObject?
}
