import CYAML

/// Turns YAML text into a `YAMLNode` tree using libyaml's document API.
///
/// All libyaml memory is owned and released here; nothing returned points into it.
enum YAMLDocument {
    /// Deeper nesting than this is not a config file (and guards against alias cycles,
    /// which libyaml's loader can build, e.g. `&a [*a]`).
    static let maximumDepth = 64

    /// Parses the single document in `bytes` (UTF-8, or UTF-16 with a BOM); nil when there is none.
    ///
    /// A file that fails only because of unquoted `List[int]` types in flow lists is loaded as
    /// if they were quoted (see `BracketTypes`); any other failure reports the original error.
    static func parse(_ bytes: [UInt8], file: String) throws(ConfigError) -> YAMLNode? {
        do throws(ConfigError) {
            return try load(bytes, file: file, restoringBrackets: false)
        } catch {
            guard let protected = BracketTypes.protect(bytes),
                  let tree = try? load(protected, file: file, restoringBrackets: true) else { throw error }
            return tree
        }
    }

    private static func load(_ bytes: [UInt8], file: String, restoringBrackets: Bool) throws(ConfigError) -> YAMLNode? {
        // libyaml reads from this buffer until loading is done, so it must outlive the parser.
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        defer { input.deallocate() }
        input.initialize(from: bytes, count: bytes.count)

        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else {
            throw ConfigError(file: file, line: 0, column: 0, message: "cannot start the YAML parser (out of memory)")
        }
        defer { yaml_parser_delete(&parser) }
        yaml_parser_set_input_string(&parser, input, bytes.count)

        var document = yaml_document_t()
        guard yaml_parser_load(&parser, &document) != 0 else {
            throw SyntaxError.make(from: parser, text: bytes, file: file)
        }
        defer { yaml_document_delete(&document) }
        guard let root = yaml_document_get_root_node(&document) else { return nil }
        let tree = try convert(root, in: &document, depth: 0, file: file, restoringBrackets: restoringBrackets)

        // A second `---` document would be silently ignored by a naive loader; say so instead.
        var next = yaml_document_t()
        guard yaml_parser_load(&parser, &next) != 0 else {
            throw SyntaxError.make(from: parser, text: bytes, file: file)
        }
        defer { yaml_document_delete(&next) }
        if let extra = yaml_document_get_root_node(&next) {
            throw ConfigError(
                file: file, line: Int(extra.pointee.start_mark.line) + 1, column: Int(extra.pointee.start_mark.column) + 1,
                message: "found a second YAML document; init.yaml must hold exactly one (remove the extra '---')")
        }
        return tree
    }

    private static func convert(
        _ node: UnsafeMutablePointer<yaml_node_t>, in document: inout yaml_document_t, depth: Int, file: String,
        restoringBrackets: Bool
    ) throws(ConfigError) -> YAMLNode {
        let line = Int(node.pointee.start_mark.line) + 1
        let column = Int(node.pointee.start_mark.column) + 1
        guard depth < maximumDepth else {
            throw ConfigError(file: file, line: line, column: column,
                              message: "values are nested more than \(maximumDepth) levels deep (or an alias refers to itself)")
        }
        switch node.pointee.type {
        case YAML_SCALAR_NODE:
            let scalar = node.pointee.data.scalar
            var text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            if restoringBrackets { text = BracketTypes.restore(text) }
            return YAMLNode(content: .scalar(text, plain: scalar.style == YAML_PLAIN_SCALAR_STYLE), line: line, column: column)

        case YAML_SEQUENCE_NODE:
            var items: [YAMLNode] = []
            var item = node.pointee.data.sequence.items.start
            while let current = item, current != node.pointee.data.sequence.items.top {
                items.append(try child(current.pointee, in: &document, depth: depth, file: file, restoringBrackets: restoringBrackets))
                item = current + 1
            }
            return YAMLNode(content: .sequence(items), line: line, column: column)

        case YAML_MAPPING_NODE:
            var pairs: [YAMLNode.Pair] = []
            var pair = node.pointee.data.mapping.pairs.start
            while let current = pair, current != node.pointee.data.mapping.pairs.top {
                let key = try child(current.pointee.key, in: &document, depth: depth, file: file, restoringBrackets: restoringBrackets)
                let value = try child(current.pointee.value, in: &document, depth: depth, file: file, restoringBrackets: restoringBrackets)
                pairs.append(YAMLNode.Pair(key: key, value: value))
                pair = current + 1
            }
            return YAMLNode(content: .mapping(pairs), line: line, column: column)

        default:
            throw ConfigError(file: file, line: line, column: column, message: "unsupported YAML node")
        }
    }

    private static func child(
        _ id: Int32, in document: inout yaml_document_t, depth: Int, file: String, restoringBrackets: Bool
    ) throws(ConfigError) -> YAMLNode {
        guard let node = yaml_document_get_node(&document, id) else {
            throw ConfigError(file: file, line: 0, column: 0, message: "libyaml returned a dangling node reference")
        }
        return try convert(node, in: &document, depth: depth + 1, file: file, restoringBrackets: restoringBrackets)
    }
}
