import CPython
import FuzzSupport

/// Builds a Python value from fuzz bytes: plain ints (small and huge), floats from raw bits
/// (NaN, infinities, -0.0, subnormals), bools, text (including lone surrogates), lists,
/// tuples, None, dicts, sets, ranges, iterators, generators that raise, Decimal, Fraction,
/// str and int subclasses, `__index__` and `__float__` objects, complex numbers.
public struct ValueBuilder {
    /// Whether the value is made only of exact int, float, str, bool and list objects: what
    /// the server reads back identically.
    public private(set) var isPlain = true
    private let helpers: UnsafeMutablePointer<PyObject>

    public init() {
        helpers = ValueBuilder.makeHelpers()
    }

    /// A new reference, or nil if building raised (error cleared).
    public mutating func build(_ input: inout FuzzInput, depth: Int = 0) -> UnsafeMutablePointer<PyObject>? {
        let tag = input.byte() % 20
        switch tag {
        case 0, 1: return PyLong_FromLong(Int(Int8(bitPattern: input.byte())))
        case 2:
            let digits = Int(input.byte() % 60) + 1
            var text = input.byte() & 1 == 0 ? "" : "-"
            for _ in 0..<digits { text.append(Character(String(input.byte() % 10))) }
            return PyLong_FromString(text, nil, 10)
        case 3, 4:
            var bits: UInt64 = 0
            for _ in 0..<8 { bits = bits << 8 | UInt64(input.byte()) }
            return PyFloat_FromDouble(Double(bitPattern: bits))
        case 5: return pyrpcBool(input.byte() & 1 == 1)
        case 6, 7:
            let length = Int(input.byte() % 12)
            var utf8: [UInt8] = []
            for _ in 0..<length { utf8.append(input.byte()) }
            // surrogatepass: lone surrogates (ED A0 80...) become str that has no UTF-8 form.
            let object = utf8.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { PyUnicode_DecodeUTF8($0.baseAddress, $0.count, "surrogatepass") }
            }
            if object == nil { PyErr_Clear(); return PyUnicode_FromString("") }
            return object
        case 8, 9, 10:
            guard depth < 6 else { return PyLong_FromLong(0) }
            let count = Int(input.byte() % 6)
            guard let list = PyList_New(0) else { return nil }
            for _ in 0..<count {
                guard let item = build(&input, depth: depth + 1) else { Py_DecRef(list); return nil }
                PyList_Append(list, item)
                Py_DecRef(item)
            }
            return list
        default:
            isPlain = false
            return special(tag, &input, depth: depth)
        }
    }

    private mutating func special(_ tag: UInt8, _ input: inout FuzzInput, depth: Int) -> UnsafeMutablePointer<PyObject>? {
        let names = ["tuple", "none", "dict", "set", "range", "iterate", "failing", "decimal", "fraction",
                     "text_subclass", "index", "floaty", "complex", "bool_index", "int_subclass"]
        let name = names[Int(input.byte()) % names.count]
        guard let function = PyObject_GetAttrString(helpers, name) else { PyErr_Clear(); return nil }
        defer { Py_DecRef(function) }
        guard let argument = depth < 6 ? build(&input, depth: depth + 1) : PyLong_FromLong(1) else { return nil }
        defer { Py_DecRef(argument) }
        let result = PyObject_CallOneArg(function, argument)
        if result == nil { PyErr_Clear() }
        _ = tag
        return result
    }

    /// Whether two values are equal, NaN counting as equal to NaN.
    public func same(_ a: UnsafeMutablePointer<PyObject>, _ b: UnsafeMutablePointer<PyObject>) -> Bool {
        guard let function = PyObject_GetAttrString(helpers, "same") else { PyErr_Clear(); return false }
        defer { Py_DecRef(function) }
        guard let arguments = PyTuple_New(2) else { PyErr_Clear(); return false }
        defer { Py_DecRef(arguments) }
        Py_IncRef(a)
        Py_IncRef(b)
        PyTuple_SET_ITEM(arguments, 0, a)
        PyTuple_SET_ITEM(arguments, 1, b)
        guard let result = PyObject_Call(function, arguments, nil) else { PyErr_Clear(); return false }
        defer { Py_DecRef(result) }
        return PyObject_IsTrue(result) == 1
    }

    private func pyrpcBool(_ value: Bool) -> UnsafeMutablePointer<PyObject>? {
        PyBool_FromLong(value ? 1 : 0)
    }

    private static func makeHelpers() -> UnsafeMutablePointer<PyObject> {
        let source = """
            import decimal, fractions
            def tuple_(x): return tuple(x) if isinstance(x, list) else (x,)
            globals()['tuple'] = tuple_
            def none(x): return None
            def dict(x): return {'k': x}
            def set(x): return {x} if x.__hash__ else {1}
            def range(x): return __builtins__['range'](x % 50) if isinstance(x, int) else __builtins__['range'](3)
            def iterate(x): return iter(x if isinstance(x, list) else [x])
            def failing(x):
                def gen():
                    yield x
                    raise ValueError('generator failed')
                return gen()
            def decimal(x): return globals()['_decimal'].Decimal(repr(x)) if isinstance(x, (int, float)) else globals()['_decimal'].Decimal('1.5')
            def fraction(x): return fractions.Fraction(x) if isinstance(x, int) else fractions.Fraction(1, 3)
            class Text(str): pass
            def text_subclass(x): return Text(x) if isinstance(x, str) else Text('t')
            class Index:
                def __init__(self, n): self.n = n
                def __index__(self): return self.n
            def index(x): return Index(x if isinstance(x, int) else 3)
            class Floaty:
                def __init__(self, v): self.v = v
                def __float__(self): return self.v
            def floaty(x): return Floaty(x)
            def complex(x): return __builtins__['complex'](1, 2) if isinstance(x, int) else 1j
            class BoolIndex:
                def __index__(self): return True
            def bool_index(x): return BoolIndex()
            class Count(int):
                def __str__(self): return 'not digits'
            def int_subclass(x): return Count(x) if isinstance(x, int) else Count(5)
            def same(a, b):
                if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
                    return True
                if isinstance(a, int) and not isinstance(a, bool) and isinstance(b, float):
                    return float(a) == b  # an int declared float travels as the nearest float
                if isinstance(a, list) and isinstance(b, list):
                    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
                return a == b
            """
        guard let module = PyModule_New("_fuzz_values"),
              let dict = PyModule_GetDict(module) else { fatalError("module") }
        PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins())
        guard let decimalModule = PyImport_ImportModule("decimal") else { fatalError("decimal") }
        PyDict_SetItemString(dict, "_decimal", decimalModule)
        guard let result = PyRun_String(source, Py_file_input, dict, dict) else {
            PyErr_Print()
            fatalError("helpers")
        }
        Py_DecRef(result)
        return module
    }
}
