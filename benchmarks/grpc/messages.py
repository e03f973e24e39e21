"""The bench's gRPC messages, shared by server.py and client.py: binary, little-endian,
what protobuf's fixed64 and packed double fields carry, without the field tags."""
import struct
from array import array

SERVICE = "bench.Bench"

_PAIR = struct.Struct("<qq")
_INT = struct.Struct("<q")
_FLOAT = struct.Struct("<d")


def encode_add(pair):
    return _PAIR.pack(*pair)


def decode_add(data):
    return _PAIR.unpack(data)


def encode_number(value):
    return _INT.pack(value)


def decode_number(data):
    return _INT.unpack(data)[0]


def encode_total(values):
    return array("d", values).tobytes()


def decode_total(data):
    values = array("d")
    values.frombytes(data)
    return values


def encode_float(value):
    return _FLOAT.pack(value)


def decode_float(data):
    return _FLOAT.unpack(data)[0]
