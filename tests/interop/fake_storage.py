#!/usr/bin/env python3
"""An independent fake storage server (pyzmq + PyNaCl, not our libzmq binding).

Speaks the OxenMQ subset of PROTOCOL §7.4 over CURVE: HI -> HELLO; monitor.messages is
validated as §8.1 (canonical key order, MONITOR signature) and answered per item; after a
successful item it sends notify.message for that account (with ~ if d=1). Prints one JSON line
{"endpoint": ..., "pubkey": <hex>} on start, then serves until killed (at most 60 s).
"""
import json
import sys
import time

import nacl.bindings
import nacl.public
import nacl.signing
import zmq


def bdecode(data, i=0):
    c = data[i:i + 1]
    if c == b"i":
        end = data.index(b"e", i)
        return int(data[i + 1:end]), end + 1
    if c == b"l":
        out, i = [], i + 1
        while data[i:i + 1] != b"e":
            v, i = bdecode(data, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        out, i, last = {}, i + 1, None
        while data[i:i + 1] != b"e":
            k, i = bdecode(data, i)
            if last is not None and k <= last:
                raise ValueError("dict keys out of order")
            last = k
            out[k], i = bdecode(data, i)
        return out, i + 1
    colon = data.index(b":", i)
    n = int(data[i:colon])
    return data[colon + 1:colon + 1 + n], colon + 1 + n


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    return b"d" + b"".join(bencode(k) + bencode(v[k]) for k in sorted(v)) + b"e"


def check(item):
    ed = item[b"P"]
    account = b"\x05" + nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(ed)
    ns = ",".join(str(n) for n in item[b"n"])
    msg = "MONITOR%s%d%s%s" % (account.hex(), item[b"t"], "1" if item.get(b"d") else "0", ns)
    nacl.signing.VerifyKey(ed).verify(msg.encode(), item[b"s"])
    return account


def main():
    secret = nacl.public.PrivateKey.generate()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_SECRETKEY, bytes(secret))
    sock.bind("tcp://127.0.0.1:0")
    endpoint = sock.getsockopt(zmq.LAST_ENDPOINT).decode()
    print(json.dumps({"endpoint": endpoint, "pubkey": bytes(secret.public_key).hex()}), flush=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if not sock.poll(500):
            continue
        frames = sock.recv_multipart()
        route, cmd = frames[0], frames[1]
        if cmd == b"HI":
            sock.send_multipart([route, b"HELLO"])
        elif cmd == b"monitor.messages" and len(frames) == 4:
            tag, body = frames[2], frames[3]
            items, end = bdecode(body)
            replies, accepted = [], []
            for raw_item in items:
                try:
                    if bencode(raw_item) not in body or end != len(body):
                        raise ValueError("not canonical")
                    accepted.append((check(raw_item), raw_item.get(b"d") == 1, raw_item[b"n"][0]))
                    replies.append({b"success": 1})
                except Exception as e:  # noqa: BLE001 - any failure is an item error
                    replies.append({b"errcode": 5, b"error": str(e).encode()})
            sock.send_multipart([route, b"REPLY", tag, bencode(replies)])
            for account, data, ns in accepted:
                note = {b"@": account, b"h": b"H" * 43, b"n": ns, b"t": 1700000000000, b"z": 1700000100000}
                if data:
                    note[b"~"] = b"interop-data"
                sock.send_multipart([route, b"notify.message", bencode(note)])
        else:
            sock.send_multipart([route, b"UNKNOWNCOMMAND", cmd])
    return 0


if __name__ == "__main__":
    sys.exit(main())
