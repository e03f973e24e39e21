import PyRPCWire

extension RPCSection {
    /// The settings of one rpc entry, checked, before it is attached to a service.
    struct Definition: Sendable {
        var signature: Signature
        var source: String
        var sourceAsWritten: String
        var function: String
        var timeout: Double?
        var explicitService: (name: String, node: YAMLNode)?

        init(_ entry: NamedEntry, baseDirectory: String, reader: NodeReader) throws(ConfigError) {
            let what = "rpc '\(entry.name)'"
            let fields = try Fields(entry.body, keys: RPCSection.keys, what: what,
                                    example: "{args: [int, int], returns: [int], src: services/calc/add.py}", reader: reader)

            guard let argumentsNode = fields["args"] else {
                throw reader.error(at: entry.nameNode, "\(what) needs 'args' (its argument types, e.g. args: [int, int]; args: [] for none)")
            }
            guard let returnsNode = fields["returns"] else {
                throw reader.error(at: entry.nameNode, "\(what) needs 'returns' (its return types, e.g. returns: [int]; returns: [] for none)")
            }
            signature = Signature(
                arguments: try Self.types(argumentsNode, label: "argument types", key: fields.key("args"), of: what, reader: reader),
                returns: try Self.types(returnsNode, label: "return types", key: fields.key("returns"), of: what, reader: reader))

            guard let sourceNode = fields["src"] else {
                throw reader.error(at: entry.nameNode, "\(what) needs 'src' (its Python file, relative to the yaml file's folder, e.g. src: services/\(entry.name).py)")
            }
            sourceAsWritten = try reader.text(sourceNode, expected: "the Python file of \(what) (a path like services/\(entry.name).py)")
            source = FilePaths.resolve(sourceAsWritten, against: baseDirectory)

            if let functionNode = fields["function"] {
                function = try reader.text(functionNode, expected: "the Python function name of \(what)")
                guard Self.isPythonIdentifier(function) else {
                    throw reader.error(at: functionNode, "function '\(function)' of \(what) is not a Python identifier; expected a name like add or add_float")
                }
            } else {
                function = entry.name
                guard Self.isPythonIdentifier(function) else {
                    throw reader.error(at: entry.nameNode, "rpc name '\(entry.name)' is not a Python identifier, so it cannot be the function name; add `function: <python function name>`")
                }
            }

            if let timeoutNode = fields["timeout"], !timeoutNode.isNull {
                timeout = try reader.positiveNumber(timeoutNode, expected: "the timeout of \(what)")
            } else {
                timeout = nil
            }

            if let serviceNode = fields["service"] {
                explicitService = (try reader.text(serviceNode, expected: "the service of \(what)"), serviceNode)
            } else {
                explicitService = nil
            }
        }

        /// A list of types; a single scalar is a one-element list, `[]` means none.
        private static func types(
            _ node: YAMLNode, label: String, key: YAMLNode?, of what: String, reader: NodeReader
        ) throws(ConfigError) -> [RPCType] {
            let keyName = key?.scalar ?? label
            let items: [YAMLNode]
            switch node.content {
            case .sequence(let list):
                items = list
            case .scalar where !node.isNull:
                // `args: int, int` means `args: [int, int]`; type names never contain commas.
                items = try reader.commaSeparated(node, expected: "the \(label) of \(what)").map { part in
                    YAMLNode(content: .scalar(part, plain: false), line: node.line, column: node.column)
                }
            default:
                throw reader.error(at: node, "expected the \(label) of \(what) as a list like \(keyName): [int, \"List[int]\"] (\(keyName): [] for none), found \(node.kindDescription)")
            }
            var types: [RPCType] = []
            for item in items {
                guard let text = item.scalar, !item.isNull else {
                    throw reader.error(at: item, "expected a type in the \(label) of \(what), like int or \"List[int]\", found \(item.kindDescription); quote types containing brackets")
                }
                do throws(RPCTypeError) {
                    types.append(try RPCType(parsing: text))
                } catch {
                    throw reader.error(at: item, "\(error.description) (in the \(label) of \(what))")
                }
            }
            return types
        }

        static func isPythonIdentifier(_ name: String) -> Bool {
            guard let first = name.first, first == "_" || first.isLetter else { return false }
            return name.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber }
        }
    }
}
