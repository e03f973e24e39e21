/// The network most server tests use: a calc service with an overload pair, a types service
/// with an identity function per type, and a demo service with failing and slow functions.
enum Fixtures {
    static let yaml = """
        network:
          servers:
            - s1: {ip: 127.0.0.1, port: 8181}
          clients:
            - c1: {ip: 127.0.0.1, port: 6001}
            - c2: {ip: 127.0.0.1, port: 6002}
            - far: {ip: 127.0.0.2, port: 6003}
        service:
          - calc:
              providers: [s1]
              tenants: [c1, c2, far]
              rpcs: [add]
          - types:
              providers: [s1]
              tenants: [c1]
              rpcs: [same_int, same_float, same_str, same_bool, same_ints, same_floats, same_strs, same_grid, pair, wrong, nothing]
          - demo:
              providers: [s1]
              tenants: [c1]
              rpcs: [divide, leave, interrupt, spin, stubborn, nap, hit, chatty]
        rpc:
          - add: {args: [int, int], returns: [int], src: calc/add.py}
          - add: {args: [float, float], returns: [float], src: calc/add_float.py}
          - same_int: {args: [int], returns: [int], src: types/same.py, function: same}
          - same_float: {args: [float], returns: [float], src: types/same.py, function: same}
          - same_str: {args: [str], returns: [str], src: types/same.py, function: same}
          - same_bool: {args: [bool], returns: [bool], src: types/same.py, function: same}
          - same_ints: {args: ["List[int]"], returns: ["List[int]"], src: types/same.py, function: same}
          - same_floats: {args: ["List[float]"], returns: ["List[float]"], src: types/same.py, function: same}
          - same_strs: {args: ["List[str]"], returns: ["List[str]"], src: types/same.py, function: same}
          - same_grid: {args: ["List[List[float]]"], returns: ["List[List[float]]"], src: types/same.py, function: same}
          - pair: {args: [int], returns: [int, str], src: types/pair.py}
          - wrong: {args: [], returns: [int], src: types/wrong.py}
          - nothing: {args: [], returns: [], src: types/nothing.py}
          - divide: {args: [float, float], returns: [float], src: demo/divide.py}
          - leave: {args: [int], returns: [int], src: demo/leave.py}
          - interrupt: {args: [], returns: [int], src: demo/interrupt.py}
          - spin: {args: [], returns: [int], src: demo/spin.py, timeout: 1}
          - stubborn: {args: [], returns: [int], src: demo/stubborn.py, timeout: 1}
          - nap: {args: [float], returns: [float], src: demo/nap.py}
          - hit: {args: [], returns: [int], src: demo/hit.py}
          - chatty: {args: [str], returns: [str], src: demo/chatty.py}
        """

    static let scripts: [String: String] = [
        "calc/add.py": "def add(a, b):\n    return a + b\n",
        "calc/add_float.py": "def add(a, b):\n    assert isinstance(a, float) and isinstance(b, float)\n    return a + b\n",
        "types/same.py": "def same(x):\n    return x\n",
        "types/pair.py": "def pair(n):\n    return n * 2, str(n)\n",
        "types/wrong.py": "def wrong():\n    return 'not an int'\n",
        "types/nothing.py": "def nothing():\n    return None\n",
        "demo/divide.py": "def divide(a, b):\n    return a / b\n",
        "demo/leave.py": "import sys\n\ndef leave(code):\n    sys.exit(code)\n",
        "demo/interrupt.py": "def interrupt():\n    raise KeyboardInterrupt()\n",
        "demo/spin.py": "def spin():\n    while True:\n        pass\n",
        "demo/stubborn.py": "def stubborn():\n    n = 0\n    while True:\n        try:\n            n += 1\n        except Exception:\n            pass\n",
        "demo/nap.py": "import time\n\ndef nap(seconds):\n    time.sleep(seconds)\n    return seconds\n",
        "demo/hit.py": "count = 0\n\ndef hit():\n    global count\n    count += 1\n    return count\n",
        "demo/chatty.py": "def chatty(text):\n    print('chatty says', text)\n    return text.upper()\n",
    ]

    static func start(options: ServerOptions = ServerOptions()) async throws -> TestNetwork {
        return try await TestNetwork.start(yaml: yaml, scripts: scripts, options: options)
    }
}

import PyRPCServer
