"""The load generator for the gRPC comparison (the bench's own speaks no HTTP/2): N threads,
each keeping one call outstanding, like pyrpc-bench's closed loop.

    python client.py 127.0.0.1:PORT add|total persistent|one-shot --concurrency 8
        (--duration SECONDS | --calls N) [--warmup N] [--tls-ca FILE] [--wait]

persistent: one channel per thread for the whole run; one-shot: a new channel for every
call, closed after it. Every channel has a subchannel pool of its own, so that each holds
its own TCP connection (by default grpcio shares one connection among channels to the same
target, which would make one-shot calls reuse a connection and persistent threads multiplex
on one). With --wait it runs the warm-up, prints "ready", and starts when a line arrives on
standard input: the bench reads the server's CPU time in between. It then prints one line of
JSON: calls, failures, seconds, p50 and p99 (seconds), latencies, first_answer.
"""
import argparse
import json
import math
import sys
import threading
import time

import grpc

sys.dont_write_bytecode = True  # no __pycache__ left in benchmarks/grpc
from messages import SERVICE, encode_add, decode_number, encode_total, decode_float

OPTIONS = [("grpc.use_local_subchannel_pool", 1), ("grpc.max_receive_message_length", 64 << 20),
           ("grpc.max_send_message_length", 64 << 20)]


def workload(name):
    """The method, its request and its answer's decoder: the same calls pyrpc-bench makes."""
    if name == "add":
        return "add", encode_add((2, 3)), decode_number
    # The bench's 100,000 doubles: square roots, the same in every run.
    values = [math.sqrt(index + 0.5) * 3.7 for index in range(100_000)]
    return "total", encode_total(values), decode_float


class Budget:
    """Calls left to make, shared by the threads; None: no limit (the deadline ends the run)."""

    def __init__(self, calls):
        self.remaining = calls
        self.lock = threading.Lock()

    def take(self):
        if self.remaining is None:
            return True
        with self.lock:
            if self.remaining <= 0:
                return False
            self.remaining -= 1
            return True


def run(arguments, budget, deadline):
    method, request, decode = workload(arguments.workload)
    path = "/%s/%s" % (SERVICE, method)
    credentials = None
    if arguments.tls_ca:
        with open(arguments.tls_ca, "rb") as ca:
            credentials = grpc.ssl_channel_credentials(root_certificates=ca.read())

    def open_channel():
        if credentials is None:
            return grpc.insecure_channel(arguments.target, options=OPTIONS)
        return grpc.secure_channel(arguments.target, credentials, options=OPTIONS)

    results = []

    def worker():
        calls, failures, latencies, first = 0, 0, [], None
        channel, stub = None, None
        while budget.take():
            if deadline is not None and time.monotonic() >= deadline:
                break
            start = time.perf_counter()
            try:
                if channel is None:
                    channel = open_channel()
                    stub = channel.unary_unary(path, request_serializer=lambda data: data, response_deserializer=decode)
                answer = stub(request)
                # Every call of a run is the same call: an answer unlike the first is a failure.
                ok = first is None or repr(answer) == first
            except grpc.RpcError:
                ok = False
            end = time.perf_counter()
            if ok:
                calls += 1
                latencies.append(end - start)
                if first is None:
                    first = repr(answer)
            else:
                failures += 1
            if arguments.mode == "one-shot" or not ok:
                channel.close()
                channel, stub = None, None
        if channel is not None:
            channel.close()
        results.append((calls, failures, latencies, first))

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(arguments.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    calls = sum(result[0] for result in results)
    failures = sum(result[1] for result in results)
    latencies = sorted(latency for result in results for latency in result[2])
    first = next((result[3] for result in results if result[3] is not None), "")
    return calls, failures, seconds, latencies, first


def percentile(latencies, p):
    return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("target")
    parser.add_argument("workload", choices=["add", "total"])
    parser.add_argument("mode", choices=["persistent", "one-shot"])
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--duration", type=float)
    parser.add_argument("--calls", type=int)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--tls-ca")
    parser.add_argument("--wait", action="store_true")
    arguments = parser.parse_args()

    if arguments.warmup > 0:
        run(arguments, Budget(arguments.warmup), None)
    if arguments.wait:
        print("ready", flush=True)
        sys.stdin.readline()
    deadline = time.monotonic() + arguments.duration if arguments.duration is not None else None
    calls, failures, seconds, latencies, first = run(arguments, Budget(arguments.calls), deadline)
    print(json.dumps({
        "calls": calls, "failures": failures, "seconds": seconds,
        "p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99),
        "latencies": [round(latency, 7) for latency in latencies], "first_answer": first,
    }), flush=True)


if __name__ == "__main__":
    main()
