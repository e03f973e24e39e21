import PyRPCWire

/// Why a CLI call could not be put together (a usage error, exit code 2).
public struct CallPlanError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Turns command-line literals into typed arguments, choosing the overload the literals
/// fit when types are not given: `pyrpc call calc add 2 3` picks `(int, int) -> (int)`,
/// `pyrpc call calc add 2.5 1` picks `(float, float) -> (float)`.
public enum CallPlanner {
    public struct Plan: Sendable, Equatable {
        public var arguments: [JSONValue]
        public var signature: Signature
    }

    /// A literal as typed on the command line: JSON (or Python-style) if it parses, else text.
    public static func literal(_ text: String) -> JSONValue {
        (try? JSONParser.parse(text, lenient: true)) ?? .string(text)
    }

    /// - Parameters:
    ///   - argumentTypes/returnTypes: given with `--arg-types`/`--return-types`, or nil.
    ///   - overloads: the signatures init.yaml declares for the rpc (may be empty).
    public static func plan(
        literals: [String], argumentTypes: [RPCType]?, returnTypes: [RPCType]?, overloads: [Signature], rpcLabel: String
    ) throws(CallPlanError) -> Plan {
        var candidates = overloads.filter { $0.arguments.count == literals.count }
        if let argumentTypes { candidates = candidates.filter { $0.arguments == argumentTypes } }
        if let returnTypes { candidates = candidates.filter { $0.returns == returnTypes } }

        if let argumentTypes {
            guard argumentTypes.count == literals.count else {
                throw CallPlanError(message: "\(literals.count) argument\(literals.count == 1 ? "" : "s") given for \(argumentTypes.count) argument types")
            }
            guard let returns = returnTypes ?? candidates.first?.returns else {
                throw CallPlanError(message: "cannot tell what \(rpcLabel) returns: pass --return-types (init.yaml declares no overload with those argument types)")
            }
            let values = try convert(literals, to: argumentTypes)
            return Plan(arguments: values, signature: Signature(arguments: argumentTypes, returns: returns))
        }

        var best: (score: Int, plan: Plan)?
        for signature in candidates {
            guard let (score, values) = fit(literals, to: signature.arguments) else { continue }
            if best == nil || score > best!.score {
                best = (score, Plan(arguments: values, signature: signature))
            }
        }
        if let best { return best.plan }
        if overloads.isEmpty {
            throw CallPlanError(message: "init.yaml declares no rpc \(rpcLabel): pass --arg-types and --return-types (e.g. --arg-types int,int --return-types int)")
        }
        let accepted = overloads.map(\.description).joined(separator: " or ")
        throw CallPlanError(message: "the arguments \(literals.joined(separator: " ")) fit no overload: \(rpcLabel) accepts \(accepted)")
    }

    /// Parses `int,List[float]` (commas inside brackets belong to the type).
    public static func parseTypeList(_ text: String) throws(CallPlanError) -> [RPCType] {
        var parts: [String] = []
        var depth = 0
        var current = ""
        for character in text {
            switch character {
            case "[": depth += 1; current.append(character)
            case "]": depth -= 1; current.append(character)
            case "," where depth == 0: parts.append(current); current = ""
            default: current.append(character)
            }
        }
        if !current.isEmpty || !parts.isEmpty { parts.append(current) }
        let names = parts.map { $0.trimmingCharacters(in: " ") }.filter { !$0.isEmpty }
        do {
            return try RPCType.parseAll(names)
        } catch {
            throw CallPlanError(message: error.description)
        }
    }

    private static func convert(_ literals: [String], to types: [RPCType]) throws(CallPlanError) -> [JSONValue] {
        var values: [JSONValue] = []
        for (index, (text, type)) in zip(literals, types).enumerated() {
            guard let (_, value) = fitOne(text, type) else {
                throw CallPlanError(message: "argument \(index + 1) '\(text)' is not a valid \(type)")
            }
            values.append(value)
        }
        return values
    }

    /// How well literals fit types (higher is better), or nil if one does not fit at all.
    private static func fit(_ literals: [String], to types: [RPCType]) -> (Int, [JSONValue])? {
        var score = 0
        var values: [JSONValue] = []
        for (text, type) in zip(literals, types) {
            guard let (points, value) = fitOne(text, type) else { return nil }
            score += points
            values.append(value)
        }
        return (score, values)
    }

    /// 2 points when the literal is naturally of that type, 1 when it converts (int → float,
    /// bare text → str).
    private static func fitOne(_ text: String, _ type: RPCType) -> (Int, JSONValue)? {
        let parsed = literal(text)
        if type == .str {
            if case .string(let value) = parsed { return (2, .string(value)) }
            return (1, .string(text))
        }
        guard let value = try? ValueCoercion.coerce(parsed, to: type) else { return nil }
        return (naturalKind(parsed, type) ? 2 : 1, value)
    }

    private static func naturalKind(_ value: JSONValue, _ type: RPCType) -> Bool {
        switch (type, value) {
        case (.int, .int), (.int, .bigInt), (.float, .float), (.bool, .bool), (.str, .string): return true
        case (.list(let element), .array(let items)): return items.allSatisfy { naturalKind($0, element) }
        default: return false
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var text = Substring(self)
        while text.first == set { text.removeFirst() }
        while text.last == set { text.removeLast() }
        return String(text)
    }
}
