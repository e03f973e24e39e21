"""gRPC-Python (grpcio) serving the bench's add and total, for comparison with pyrpc.

    python server.py PORT SERVICES_FOLDER [--tls-cert FILE --tls-key FILE]

No protoc-generated code: the handlers are registered with a generic handler, and the
messages are packed binary, as protobuf would carry them (fixed-size integers, raw doubles):
add takes two int64 and answers one; total takes packed float64s and answers one float64.
The functions are the very scripts pyrpc runs (SERVICES_FOLDER/add.py and total.py).
"""
import argparse
import importlib.util
import os
import sys
from concurrent import futures

import grpc

sys.dont_write_bytecode = True  # no __pycache__ left in benchmarks/grpc
from messages import SERVICE, decode_add, decode_total, encode_number, encode_float


def load(folder, name):
    spec = importlib.util.spec_from_file_location("bench_" + name, os.path.join(folder, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("services")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    arguments = parser.parse_args()

    add = load(arguments.services, "add")
    total = load(arguments.services, "total")
    handlers = {
        "add": grpc.unary_unary_rpc_method_handler(
            lambda pair, context: add(*pair), request_deserializer=decode_add, response_serializer=encode_number),
        # A list, as pyrpc hands the function: the doubles become Python floats either way.
        "total": grpc.unary_unary_rpc_method_handler(
            lambda values, context: total(values.tolist()), request_deserializer=decode_total, response_serializer=encode_float),
    }
    # Eight threads, as pyrpc's serve-child has eight Python workers.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                         options=[("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
    address = "127.0.0.1:%d" % arguments.port
    if arguments.tls_cert:
        with open(arguments.tls_key, "rb") as key, open(arguments.tls_cert, "rb") as certificate:
            credentials = grpc.ssl_server_credentials([(key.read(), certificate.read())])
        server.add_secure_port(address, credentials)
    else:
        server.add_insecure_port(address)
    server.start()
    print("gRPC-Python %s serving on %s%s" % (grpc.__version__, address, " (TLS)" if arguments.tls_cert else ""), flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    sys.exit(main())
