import PyRPCWire

/// Picks the overload whose argument and return types equal the request's (SPEC §4) and
/// checks every value against its type. Any failure is an `Invalid Arguments` that lists
/// every valid signature.
enum OverloadResolver {
    /// `calc.add accepts (int, int) -> (int) or (float, float) -> (float)`.
    static func accepted(service: String, rpc: String, overloads: [Overload]) -> String {
        "\(service).\(rpc) accepts " + overloads.map(\.signature.description).joined(separator: " or ")
    }

    static func resolve(_ request: RPCRequest, service: String, overloads: [Overload]) -> Result<(Overload, [JSONValue]), RPCError> {
        // The common case, checked first and without building any text: raw arguments (checked
        // later, while parsed into Python) and types spelled the way this server spells them.
        if request.rawArguments != nil,
           let overload = overloads.first(where: { $0.isSpelled(arguments: request.argumentTypes, returns: request.returnTypes) }) {
            return .success((overload, []))
        }
        func invalid(_ problem: String) -> Result<(Overload, [JSONValue]), RPCError> {
            .failure(RPCError(.invalidArguments, "\(problem); \(accepted(service: service, rpc: request.rpc, overloads: overloads))", id: request.id))
        }

        let argumentTypes: [RPCType]
        let returnTypes: [RPCType]
        do {
            argumentTypes = try RPCType.parseAll(request.argumentTypes)
            returnTypes = try RPCType.parseAll(request.returnTypes)
        } catch {
            return invalid("\(error)")
        }
        let wanted = Signature(arguments: argumentTypes, returns: returnTypes)
        guard let overload = overloads.first(where: { $0.signature == wanted }) else {
            if request.argumentTypes.isEmpty && request.returnTypes.isEmpty && !request.arguments.isEmpty {
                return invalid("the request has no argument-types or return-types")
            }
            return invalid("no overload of \(service).\(request.rpc) is \(wanted)")
        }
        if request.rawArguments != nil {
            // The values are checked while they are parsed into Python objects, on the worker.
            return .success((overload, []))
        }
        guard request.arguments.count == argumentTypes.count else {
            return invalid(ValueCoercion.countMismatch(sent: request.arguments.count, expected: argumentTypes.count))
        }
        var arguments: [JSONValue] = []
        arguments.reserveCapacity(request.arguments.count)
        for (index, (value, type)) in zip(request.arguments, argumentTypes).enumerated() {
            if ValueCoercion.isCanonical(value, for: type) {
                arguments.append(value)
                continue
            }
            do {
                arguments.append(try ValueCoercion.coerce(value, to: type, path: "argument \(index + 1)"))
            } catch {
                return invalid("\(error)")
            }
        }
        return .success((overload, arguments))
    }
}
