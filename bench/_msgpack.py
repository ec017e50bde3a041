"""Minimal MessagePack codec (stdlib only) for talking to Serf's RPC port.

Covers what Serf's RPC uses: nil, bool, ints, floats, str/raw, bin, arrays
and maps. Extension types are decoded to (code, bytes) tuples.
"""
import struct


def packb(obj):
    out = bytearray()
    _pack(obj, out)
    return bytes(out)


def _pack(o, out):
    if o is None:
        out.append(0xC0)
    elif o is True:
        out.append(0xC3)
    elif o is False:
        out.append(0xC2)
    elif isinstance(o, int):
        if 0 <= o < 0x80:
            out.append(o)
        elif -32 <= o < 0:
            out.append(o & 0xFF)
        elif 0 <= o <= 0xFF:
            out += b"\xcc" + struct.pack(">B", o)
        elif 0 <= o <= 0xFFFF:
            out += b"\xcd" + struct.pack(">H", o)
        elif 0 <= o <= 0xFFFFFFFF:
            out += b"\xce" + struct.pack(">I", o)
        elif o >= 0:
            out += b"\xcf" + struct.pack(">Q", o)
        else:
            out += b"\xd3" + struct.pack(">q", o)
    elif isinstance(o, float):
        out += b"\xcb" + struct.pack(">d", o)
    elif isinstance(o, str):
        b = o.encode()
        n = len(b)
        # Serf's codec (ugorji, old spec) reads raw/str; fixstr/str16/str32
        # are valid in both the old and the new spec, str8 only in the new.
        if n < 32:
            out.append(0xA0 | n)
        elif n <= 0xFFFF:
            out += b"\xda" + struct.pack(">H", n)
        else:
            out += b"\xdb" + struct.pack(">I", n)
        out += b
    elif isinstance(o, (bytes, bytearray)):
        n = len(o)
        if n <= 0xFF:
            out += b"\xc4" + struct.pack(">B", n)
        elif n <= 0xFFFF:
            out += b"\xc5" + struct.pack(">H", n)
        else:
            out += b"\xc6" + struct.pack(">I", n)
        out += o
    elif isinstance(o, (list, tuple)):
        n = len(o)
        if n < 16:
            out.append(0x90 | n)
        elif n <= 0xFFFF:
            out += b"\xdc" + struct.pack(">H", n)
        else:
            out += b"\xdd" + struct.pack(">I", n)
        for x in o:
            _pack(x, out)
    elif isinstance(o, dict):
        n = len(o)
        if n < 16:
            out.append(0x80 | n)
        elif n <= 0xFFFF:
            out += b"\xde" + struct.pack(">H", n)
        else:
            out += b"\xdf" + struct.pack(">I", n)
        for k, v in o.items():
            _pack(k, out)
            _pack(v, out)
    else:
        raise TypeError("cannot msgpack %r" % type(o))


class Incomplete(Exception):
    """The buffer ends before the object does; read more and retry."""


_FIXED = {
    0xCC: (1, ">B"), 0xCD: (2, ">H"), 0xCE: (4, ">I"), 0xCF: (8, ">Q"),
    0xD0: (1, ">b"), 0xD1: (2, ">h"), 0xD2: (4, ">i"), 0xD3: (8, ">q"),
    0xCA: (4, ">f"), 0xCB: (8, ">d"),
}


def unpack_from(buf, pos=0):
    """Decode one object from buf at pos; return (obj, new_pos).

    Raises Incomplete if buf holds only part of the object."""
    try:
        return _unpack(buf, pos)
    except (IndexError, struct.error):
        raise Incomplete()


def _need(buf, pos, n):
    if pos + n > len(buf):
        raise Incomplete()


def _raw(buf, pos, n, as_str):
    _need(buf, pos, n)
    b = bytes(buf[pos:pos + n])
    if as_str:
        try:
            return b.decode(), pos + n
        except UnicodeDecodeError:
            return b, pos + n
    return b, pos + n


def _unpack(buf, pos):
    t = buf[pos]
    pos += 1
    if t < 0x80:
        return t, pos
    if t >= 0xE0:
        return t - 0x100, pos
    if 0xA0 <= t <= 0xBF:
        return _raw(buf, pos, t & 0x1F, True)
    if 0x90 <= t <= 0x9F:
        return _array(buf, pos, t & 0x0F)
    if 0x80 <= t <= 0x8F:
        return _map(buf, pos, t & 0x0F)
    if t == 0xC0:
        return None, pos
    if t == 0xC2:
        return False, pos
    if t == 0xC3:
        return True, pos
    if t in _FIXED:
        size, fmt = _FIXED[t]
        _need(buf, pos, size)
        return struct.unpack_from(fmt, buf, pos)[0], pos + size
    if t in (0xD9, 0xC4):
        n = buf[pos]
        return _raw(buf, pos + 1, n, t == 0xD9)
    if t in (0xDA, 0xC5):
        _need(buf, pos, 2)
        n = struct.unpack_from(">H", buf, pos)[0]
        return _raw(buf, pos + 2, n, t == 0xDA)
    if t in (0xDB, 0xC6):
        _need(buf, pos, 4)
        n = struct.unpack_from(">I", buf, pos)[0]
        return _raw(buf, pos + 4, n, t == 0xDB)
    if t == 0xDC:
        _need(buf, pos, 2)
        return _array(buf, pos + 2, struct.unpack_from(">H", buf, pos)[0])
    if t == 0xDD:
        _need(buf, pos, 4)
        return _array(buf, pos + 4, struct.unpack_from(">I", buf, pos)[0])
    if t == 0xDE:
        _need(buf, pos, 2)
        return _map(buf, pos + 2, struct.unpack_from(">H", buf, pos)[0])
    if t == 0xDF:
        _need(buf, pos, 4)
        return _map(buf, pos + 4, struct.unpack_from(">I", buf, pos)[0])
    ext = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}
    if t in ext:
        n = ext[t]
        _need(buf, pos, 1 + n)
        return (struct.unpack_from(">b", buf, pos)[0], bytes(buf[pos + 1:pos + 1 + n])), pos + 1 + n
    if t in (0xC7, 0xC8, 0xC9):
        size = {0xC7: 1, 0xC8: 2, 0xC9: 4}[t]
        fmt = {1: ">B", 2: ">H", 4: ">I"}[size]
        _need(buf, pos, size + 1)
        n = struct.unpack_from(fmt, buf, pos)[0]
        pos += size
        code = struct.unpack_from(">b", buf, pos)[0]
        pos += 1
        _need(buf, pos, n)
        return (code, bytes(buf[pos:pos + n])), pos + n
    raise ValueError("msgpack: unknown type byte 0x%02x" % t)


def _array(buf, pos, n):
    out = []
    for _ in range(n):
        v, pos = _unpack(buf, pos)
        out.append(v)
    return out, pos


def _map(buf, pos, n):
    out = {}
    for _ in range(n):
        k, pos = _unpack(buf, pos)
        v, pos = _unpack(buf, pos)
        if isinstance(k, (bytes, bytearray)):
            k = bytes(k).decode(errors="replace")
        out[k] = v
    return out, pos
