"""The baseline users start from: a plain-Python server of the pyrpc protocol written the
way a course solution is (a thread per connection, a recv loop, json, importlib), with no
optimisation.

    python3 course_server.py PORT RPCS.json
RPCS.json maps "service.rpc(argtypes)" to [script path, function name].
"""
import importlib.util
import json
import socket
import sys
import threading


def load(table):
    registry = {}
    for key, (path, function) in table.items():
        spec = importlib.util.spec_from_file_location("rpc_" + str(len(registry)), path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        registry[key] = getattr(module, function)
    return registry


def handle(connection, registry):
    # Read the way course handouts do: recv into a growing bytes buffer and split off lines.
    # (Each `in` and `split` rescans the buffer, which is what makes big messages slow.)
    with connection:
        buffer = b""
        while True:
            chunk = connection.recv(4096)
            if not chunk:
                if buffer.strip():
                    answer_line(connection, registry, buffer)
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                if line.strip():
                    answer_line(connection, registry, line)


def answer_line(connection, registry, line):
    try:
        request = json.loads(line)
        value = request["value"]
        key = "%s.%s(%s)" % (value["service"], value["rpc"], ",".join(value["argument-types"]))
        function = registry.get(key)
        if function is None:
            answer = {"header": "RPC-EX", "value": {"exception-type": "RPC Not Found", "exception-message": key}}
        else:
            result = function(*value["arguments"])
            answer = {"header": "RPC-RES", "value": {"return-values": [result]}}
    except Exception as error:
        answer = {"header": "RPC-EX", "value": {"exception-type": "Execution Exception", "exception-message": str(error)}}
    connection.sendall((json.dumps(answer) + "\n").encode())


def main():
    port = int(sys.argv[1])
    with open(sys.argv[2]) as table:
        registry = load(json.load(table))
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(512)
    while True:
        connection, _ = server.accept()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=handle, args=(connection, registry), daemon=True).start()


if __name__ == "__main__":
    main()
