#if canImport(Glibc)
import Glibc
#endif

/// What an I/O loop remembers of the clients it served, so that a client that opens a
/// connection per call (one-shot mode) costs less each time: the text of its address, and
/// the request memory its last connection left behind (`RequestMemo`), which the next
/// connection from the same address takes over. A one-shot client's request is then read by
/// difference and dispatched without a lookup, as on a connection that stays open.
///
/// Used by the loop's leader only. A memory is taken by one connection at a time (it leaves
/// the table while in use), so connections never share one. Each address keeps several: a
/// client that opens its connections several at a time (a pool of threads, each calling
/// one-shot) has one for each of them, where one memory per address served only the first
/// of a batch, and the rest (three in four at 8 at once) were read and dispatched afresh.
struct PeerMemory {
    /// The address last named (the port is not part of a peer).
    private var lastAddress: Address?
    private var lastName = ""
    private var memos: [String: [RequestMemo]] = [:]
    /// The memories of the address whose connection came last, kept out of the table while
    /// that address keeps coming: a client calling one-shot again and again (the usual case)
    /// has its address hashed only when another address comes in between. Hashing it twice
    /// per connection (take and keep) was 3.5% of the server's user CPU for one-shot calls.
    private var recentPeer = ""
    private var recentMemos: [RequestMemo] = []
    /// The generation the memories were left under (`ServerCore.memoEpoch`). A memory holds
    /// its request's dispatch, and that holds its generation: after a deploy they are
    /// dropped, so that clients that never come back do not keep retired generations alive.
    private var epoch = -1
    /// Addresses remembered at most; past it the table starts over (a bound, not a cache
    /// policy: few servers see this many clients at once, and forgetting costs one parse).
    static let capacity = 256
    /// Memories kept for one address at most (a template holds a request of at most
    /// `RequestTemplate.maxBytes`, so the table stays within a few megabytes).
    static let memosPerPeer = 16

    /// The peer's address as authorisation and the logs know it (see `HostAddresses`).
    mutating func name(of storage: sockaddr_storage) -> String {
        let address = Address(storage)
        if let address, address == lastAddress { return lastName }
        let name = Sockets.describe(storage).map { HostAddresses.normalize($0.ip) } ?? "?"
        lastAddress = address
        lastName = name
        return name
    }

    /// The request memory for a new connection from `peer`: the one its last connection
    /// left under generation `current` (a number), or a fresh one.
    mutating func takeMemo(for peer: String, generation current: Int) -> RequestMemo {
        forgetIfDeployed(current)
        if peer != recentPeer {
            if !recentMemos.isEmpty { file(recentMemos, for: recentPeer) }
            recentPeer = peer
            recentMemos = memos.removeValue(forKey: peer) ?? []
        }
        return recentMemos.popLast() ?? RequestMemo()
    }

    /// A closed connection leaves its request memory for the next one from `peer`.
    mutating func keep(_ memo: RequestMemo, for peer: String, generation current: Int) {
        forgetIfDeployed(current)
        guard memo.template != nil else { return }
        // The most recent memory is taken first (`popLast`); past the bound the newest is not kept.
        if peer == recentPeer {
            if recentMemos.count < Self.memosPerPeer { recentMemos.append(memo) }
            return
        }
        // One lookup: through the index, and only for an address that is not the recent one.
        if let slot = memos.index(forKey: peer) {
            if memos.values[slot].count < Self.memosPerPeer { memos.values[slot].append(memo) }
            return
        }
        file([memo], for: peer)
    }

    /// Puts an address's memories in the table, starting the table over when it is full.
    private mutating func file(_ stack: [RequestMemo], for peer: String) {
        if memos.count >= Self.capacity { memos.removeAll(keepingCapacity: true) }
        memos[peer] = stack
    }

    private mutating func forgetIfDeployed(_ current: Int) {
        guard current != epoch else { return }
        memos.removeAll()
        recentMemos.removeAll()
        epoch = current
    }

    /// An IPv4 or IPv6 address as two words to compare.
    private struct Address: Equatable {
        let family: Int32
        let high: UInt64
        let low: UInt64

        init?(_ storage: sockaddr_storage) {
            var storage = storage
            family = Int32(storage.ss_family)
            switch family {
            case AF_INET:
                let address = withUnsafeBytes(of: &storage) { $0.load(fromByteOffset: MemoryLayout<sockaddr_in>.offset(of: \.sin_addr)!, as: UInt32.self) }
                (high, low) = (0, UInt64(address))
            case AF_INET6:
                let offset = MemoryLayout<sockaddr_in6>.offset(of: \.sin6_addr)!
                (high, low) = withUnsafeBytes(of: &storage) {
                    ($0.loadUnaligned(fromByteOffset: offset, as: UInt64.self), $0.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
                }
            default:
                return nil
            }
        }
    }
}
