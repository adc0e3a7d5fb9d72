#!/usr/bin/python3
"""A pulsing client in another language, with no pulsing code: Debian's python3-zmq for the
connection (CURVE on) and Cap'n Proto's own `capnp` tool for the envelopes, following
docs/protocol.md ("Calls").

    python_client.py ENDPOINT CLIENT_KEY_FILE SCHEMA_DIR NAME METHOD INT

asks NAME.METHOD(INT) on the node at ENDPOINT with the client key in CLIENT_KEY_FILE (as
`pulsing keygen --client` writes it), and prints the reply envelope as `capnp decode` shows it.
Exits 1 when no reply comes within 10 s.
"""
import os
import struct
import subprocess
import sys

import zmq
from zmq.utils import z85


def read_client_key(path):
    secret, servers = None, []
    with open(path) as f:
        for line in f:
            words = line.split()
            if not words or words[0].startswith("#"):
                continue
            if words[0] == "secret":
                secret = bytes.fromhex(words[1])
            elif words[0] == "server":
                servers.append(bytes.fromhex(words[1]))
    return secret, servers


def capnp(schema_dir, verb, data):
    schema = os.path.join(schema_dir, "messaging", "envelope.capnp")
    done = subprocess.run(["capnp", verb, "-I", "/usr/include", schema, "Envelope"],
                          input=data, capture_output=True, check=True)
    return done.stdout


def main():
    endpoint, key_file, schema_dir, name, method, arg = sys.argv[1:7]
    secret, servers = read_client_key(key_file)
    text = ('(version = 1, kind = ask, correlation = 42, target = (name = "%s"), method = "%s", '
            'payload = (list = [(int = %d)]), deadlineMs = 10000)' % (name, method, int(arg)))
    message = capnp(schema_dir, "encode", text.encode())

    socket = zmq.Context.instance().socket(zmq.DEALER)
    socket.linger = 0
    socket.rcvtimeo = 10000
    socket.routing_id = b"tcp://127.0.0.1:1#%016x.1" % int.from_bytes(os.urandom(8), "little")
    socket.curve_serverkey = servers[0]
    socket.curve_secretkey = secret
    socket.curve_publickey = z85.decode(zmq.curve_public(z85.encode(secret)))
    socket.connect(endpoint)
    socket.send(struct.pack("<Q", len(message)) + message)
    try:
        frame = socket.recv()
    except zmq.Again:
        print("no reply within 10 s", file=sys.stderr)
        return 1
    (length,) = struct.unpack_from("<Q", frame)
    sys.stdout.write(capnp(schema_dir, "decode", frame[8:8 + length]).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
