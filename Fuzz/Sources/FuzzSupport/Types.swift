import PyRPCWire

/// The declared type lists a fuzz input picks from with its first byte: every type the
/// grammar allows up to three levels, alone and in pairs.
public let fuzzTypeLists: [[RPCType]] = {
    let scalars: [RPCType] = [.int, .float, .str, .bool]
    let lists = scalars.map { RPCType.list($0) }
    let nested = [RPCType.list(.list(.float)), .list(.list(.int)), .list(.list(.list(.str)))]
    let singles = (scalars + lists + nested).map { [$0] }
    let pairs: [[RPCType]] = [[.int, .int], [.float, .float], [.str, .list(.int)], [.list(.float), .bool], [], [.int, .str, .float]]
    return singles + pairs
}()
