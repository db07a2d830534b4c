"""A minimal Thrift compact-protocol codec, enough to rewrite a Parquet footer.

pyarrow cannot write the legacy two-level list layout that parquet-avro, Hive and
old Spark jobs produce (``repeated double array`` directly inside the LIST group).
make_lakes.py writes a three-level list whose repetition and definition levels are
the same as the two-level one, then rewrites the footer's schema with this codec:
the data pages stay byte for byte as they are.

A struct decodes to a list of ``[field_id, type, value]`` triples, in wire order, so
that re-encoding an untouched footer gives the same bytes.
"""

import struct

STOP, TRUE, FALSE, BYTE, I16, I32, I64, DOUBLE, BINARY, LIST, SET, MAP, STRUCT = range(13)


class Reader:
    """Decodes compact-protocol values from a bytes object."""

    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def byte(self):
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self):
        shift, out = 0, 0
        while True:
            b = self.byte()
            out |= (b & 0x7F) << shift
            if not b & 0x80:
                return out
            shift += 7

    def zigzag(self):
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, t):
        if t in (TRUE, FALSE):
            return t == TRUE
        if t == BYTE:
            return struct.unpack("b", bytes([self.byte()]))[0]
        if t in (I16, I32, I64):
            return self.zigzag()
        if t == DOUBLE:
            v = struct.unpack("<d", self.data[self.pos:self.pos + 8])[0]
            self.pos += 8
            return v
        if t == BINARY:
            n = self.varint()
            v = bytes(self.data[self.pos:self.pos + n])
            self.pos += n
            return v
        if t in (LIST, SET):
            h = self.byte()
            size, et = h >> 4, h & 0x0F
            if size == 15:
                size = self.varint()
            if et in (TRUE, FALSE):
                return [et, [self.byte() == TRUE for _ in range(size)]]
            return [et, [self.value(et) for _ in range(size)]]
        if t == MAP:
            size = self.varint()
            if size == 0:
                return [0, 0, []]
            h = self.byte()
            kt, vt = h >> 4, h & 0x0F
            return [kt, vt, [(self.value(kt), self.value(vt)) for _ in range(size)]]
        if t == STRUCT:
            return self.struct()
        raise ValueError(f"thrift compact: unknown type {t} at offset {self.pos}")

    def struct(self):
        fields, last = [], 0
        while True:
            h = self.byte()
            t = h & 0x0F
            if t == STOP:
                return fields
            delta = h >> 4
            fid = last + delta if delta else self.zigzag()
            fields.append([fid, t, self.value(t)])
            last = fid


class Writer:
    """Encodes compact-protocol values into a bytearray."""

    def __init__(self):
        self.out = bytearray()

    def varint(self, n):
        while True:
            b = n & 0x7F
            n >>= 7
            if n:
                self.out.append(b | 0x80)
            else:
                self.out.append(b)
                return

    def zigzag(self, n):
        self.varint((n << 1) ^ (n >> 63))

    def value(self, t, v):
        if t in (TRUE, FALSE):
            return  # carried by the field header
        if t == BYTE:
            self.out += struct.pack("b", v)
        elif t in (I16, I32, I64):
            self.zigzag(v)
        elif t == DOUBLE:
            self.out += struct.pack("<d", v)
        elif t == BINARY:
            self.varint(len(v))
            self.out += v
        elif t in (LIST, SET):
            et, items = v
            if len(items) < 15:
                self.out.append(len(items) << 4 | et)
            else:
                self.out.append(0xF0 | et)
                self.varint(len(items))
            for it in items:
                if et in (TRUE, FALSE):
                    self.out.append(TRUE if it else FALSE)
                else:
                    self.value(et, it)
        elif t == MAP:
            kt, vt, items = v
            self.varint(len(items))
            if items:
                self.out.append(kt << 4 | vt)
                for k, x in items:
                    self.value(kt, k)
                    self.value(vt, x)
        elif t == STRUCT:
            self.struct(v)
        else:
            raise ValueError(f"thrift compact: unknown type {t}")

    def struct(self, fields):
        last = 0
        for fid, t, v in fields:
            if t in (TRUE, FALSE):
                t = TRUE if v else FALSE
            delta = fid - last
            if 0 < delta <= 15:
                self.out.append(delta << 4 | t)
            else:
                self.out.append(t)
                self.zigzag(fid)
            self.value(t, v)
            last = fid
        self.out.append(STOP)


def get(fields, fid):
    """The value of field fid of a decoded struct, or None."""
    for f in fields:
        if f[0] == fid:
            return f[2]
    return None


def put(fields, fid, t, v):
    """Sets field fid of a decoded struct, keeping fields in id order."""
    for f in fields:
        if f[0] == fid:
            f[1], f[2] = t, v
            return
    fields.append([fid, t, v])
    fields.sort(key=lambda f: f[0])


def drop(fields, fid):
    """Removes field fid of a decoded struct."""
    fields[:] = [f for f in fields if f[0] != fid]
