import CPython
import PyRPCWire

/// Results for `List[float]`, `List[List[float]]`... and `List[int]`... written straight from
/// the memory of an object with the buffer protocol (numpy arrays), as nested lists. Iterating
/// such an array instead makes a Python scalar object per element, which costs more than
/// writing the element. A view with strides is read in place, so slices and transposes need
/// no copy.
///
/// Only what converts exactly as the general path would is taken: numbers in this machine's
/// byte order, as many dimensions as the declared type has lists, from an iterable type
/// written in C (`numpy.ndarray`, `memoryview`). Everything else is left to `PythonToJSON`'s
/// iteration, so what is accepted and every message stay the same: object and bool arrays,
/// big-endian data, float16, another number of dimensions, and subclasses written in Python,
/// whose iteration may differ from their memory (a masked array's masked elements are nan,
/// `numpy.matrix` iterates as 1×n matrices); also `mmap`, which iterates as bytes objects.
enum BufferResults {
    /// Writes `object` as `type` from its buffer and returns true, or returns false having
    /// written nothing (no Python error left set).
    static func write<Writer: ValueWriter>(
        _ object: UnsafeMutablePointer<PyObject>, as type: RPCType, into writer: inout Writer, _ gil: borrowing GIL
    ) -> Bool {
        guard let (depth, leaf) = nesting(of: type), PyObject_CheckBuffer(object) != 0 else { return false }
        // A type written in C and iterable (see above): not a heap type, and has tp_iter.
        let objectType = Py_TYPE(object)!
        guard PyType_HasFeature(objectType, Py_TPFLAGS_HEAPTYPE) == 0, objectType.pointee.tp_iter != nil else { return false }
        var view = Py_buffer()
        // Strides without suboffsets: an exporter that needs more (PIL-style arrays) refuses.
        guard PyObject_GetBuffer(object, &view, PyBUF_STRIDES | PyBUF_FORMAT) == 0 else {
            PyErr_Clear()
            return false
        }
        defer { PyBuffer_Release(&view) }
        guard Int(view.ndim) == depth, view.suboffsets == nil,
              let base = view.buf, let shape = view.shape, let strides = view.strides,
              let number = BufferNumber(format: view.format, itemSize: view.itemsize), number.converts(to: leaf)
        else { return false }
        let layout = Layout(shape: shape, strides: strides, depth: depth, number: number, asFloats: leaf == .float)
        let size = layout.size
        writer.reserve(numbers: size.numbers, longestText: number.longestText(asFloat: layout.asFloats), lists: size.lists)
        layout.write(dimension: 0, at: UnsafeRawPointer(base), into: &writer)
        return true
    }

    /// How many lists deep `type` is and the type at the bottom, when that is a number.
    private static func nesting(of type: RPCType) -> (depth: Int, leaf: RPCType)? {
        var depth = 0
        var inner = type
        while case .list(let element) = inner {
            depth += 1
            inner = element
        }
        return depth > 0 && (inner == .float || inner == .int) ? (depth, inner) : nil
    }

    /// Where a buffer's elements are: one stride per dimension, in bytes (negative ones too).
    private struct Layout {
        let shape: UnsafeMutablePointer<Py_ssize_t>
        let strides: UnsafeMutablePointer<Py_ssize_t>
        let depth: Int
        let number: BufferNumber
        /// `float` declared at the bottom (else `int`).
        let asFloats: Bool

        /// How many numbers and lists the array holds, saturating: a view broadcast with zero
        /// strides can claim more elements than memory holds.
        var size: (numbers: Int, lists: Int) {
            var lists = 0
            var numbers = 1
            for dimension in 0..<depth {
                lists = ByteCount.sum(lists, numbers)
                numbers = ByteCount.product(numbers, shape[dimension])
            }
            return (numbers, lists)
        }

        func write<Writer: ValueWriter>(dimension: Int, at start: UnsafeRawPointer, into writer: inout Writer) {
            let count = shape[dimension]
            let stride = strides[dimension]
            if dimension == depth - 1, number == .float64, asFloats {
                writer.doubleList(at: start, count: count, stride: stride)
                return
            }
            writer.beginList(count: count)
            for index in 0..<count {
                if index > 0 { writer.listSeparator() }
                let element = start.advanced(by: index * stride)
                if dimension < depth - 1 {
                    write(dimension: dimension + 1, at: element, into: &writer)
                } else if asFloats {
                    writer.double(number.double(at: element))
                } else {
                    number.writeInteger(at: element, into: &writer)
                }
            }
            writer.endList()
        }
    }
}

/// How a buffer stores one number, from its `struct`-module format and item size.
enum BufferNumber: Equatable {
    case float64
    case float32
    case signed(bytes: Int)
    case unsigned(bytes: Int)

    /// Formats of one native-order number: `d`, `f`, or an integer letter, optionally after
    /// `@` or `=` (native order), or `<` on a little-endian machine. Anything else is nil:
    /// `?` (a bool is not an int to pyrpc), `e`, `g`, `O`, structs, big-endian data.
    init?(format: UnsafeMutablePointer<CChar>?, itemSize: Int) {
        guard let format else { return nil }
        var letter = UInt8(bitPattern: format[0])
        var next = 1
        if letter == UInt8(ascii: "@") || letter == UInt8(ascii: "=") || (letter == UInt8(ascii: "<") && 1.littleEndian == 1) {
            letter = UInt8(bitPattern: format[1])
            next = 2
        }
        guard letter != 0, format[next] == 0 else { return nil }
        switch (Unicode.Scalar(letter), itemSize) {
        case ("d", 8): self = .float64
        case ("f", 4): self = .float32
        case ("b", 1), ("h", 2), ("i", 4), ("l", 4), ("l", 8), ("q", 8), ("n", 8): self = .signed(bytes: itemSize)
        case ("B", 1), ("H", 2), ("I", 4), ("L", 4), ("L", 8), ("Q", 8), ("N", 8): self = .unsigned(bytes: itemSize)
        default: return nil
        }
    }

    /// Floats are floats only; integers are ints, and floats too (as `float(numpy.int64)` is).
    func converts(to leaf: RPCType) -> Bool {
        switch self {
        case .float64, .float32: return leaf == .float
        case .signed, .unsigned: return true
        }
    }

    /// The longest JSON text of one element: a double's, or the integer's sign and digits.
    func longestText(asFloat: Bool) -> Int {
        switch (self, asFloat) {
        case (_, true), (.float64, _), (.float32, _): return JSONWriter.longestDouble
        case (.signed(1), _): return 4  // -128
        case (.signed(2), _): return 6  // -32768
        case (.signed(4), _): return 11  // -2147483648
        case (.unsigned(1), _): return 3
        case (.unsigned(2), _): return 5
        case (.unsigned(4), _): return 10
        default: return JSONWriter.longestInt
        }
    }

    func double(at element: UnsafeRawPointer) -> Double {
        switch self {
        case .float64: return element.loadUnaligned(as: Double.self)
        case .float32: return Double(element.loadUnaligned(as: Float.self))
        case .signed: return Double(signed(at: element))
        case .unsigned: return Double(unsigned(at: element))
        }
    }

    /// An integer element; an unsigned one beyond `Int.max` as its decimal digits.
    func writeInteger<Writer: ValueWriter>(at element: UnsafeRawPointer, into writer: inout Writer) {
        guard case .unsigned = self else { return writer.int(Int(signed(at: element))) }
        let value = unsigned(at: element)
        if let small = Int(exactly: value) {
            writer.int(small)
        } else {
            var digits = String(value)
            digits.withUTF8 { writer.bigInt(digits: UnsafeRawBufferPointer($0)) }
        }
    }

    private func signed(at element: UnsafeRawPointer) -> Int64 {
        switch self {
        case .signed(1): return Int64(element.load(as: Int8.self))
        case .signed(2): return Int64(element.loadUnaligned(as: Int16.self))
        case .signed(4): return Int64(element.loadUnaligned(as: Int32.self))
        default: return element.loadUnaligned(as: Int64.self)
        }
    }

    private func unsigned(at element: UnsafeRawPointer) -> UInt64 {
        switch self {
        case .unsigned(1): return UInt64(element.load(as: UInt8.self))
        case .unsigned(2): return UInt64(element.loadUnaligned(as: UInt16.self))
        case .unsigned(4): return UInt64(element.loadUnaligned(as: UInt32.self))
        default: return element.loadUnaligned(as: UInt64.self)
        }
    }
}
