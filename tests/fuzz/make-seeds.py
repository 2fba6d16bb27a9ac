#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/{npy,idx}/). The files are
committed; this script says where each came from and rewrites them identically
(gzip with mtime 0). Headers are built as numpy.lib.format writes them."""
import gzip
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def npy(descr, shape, data, version=(1, 0), fortran=False, quote="'"):
    q = quote
    shape_txt = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    header = ("{" + f"{q}descr{q}: {q}{descr}{q}, {q}fortran_order{q}: {fortran}, "
              f"{q}shape{q}: {shape_txt}, " + "}")
    len_bytes = 2 if version[0] == 1 else 4
    unpadded = 6 + 2 + len_bytes + len(header) + 1
    header += " " * ((64 - unpadded % 64) % 64) + "\n"
    out = b"\x93NUMPY" + bytes(version)
    out += struct.pack("<H" if len_bytes == 2 else "<I", len(header))
    return out + header.encode("latin1") + data


def floats(n, fmt="<f"):
    return b"".join(struct.pack(fmt, 0.5 * i - 1.0) for i in range(n))


def idx(dims, data):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + data


def write(kind, name, data):
    d = os.path.join(here, "corpus", kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, mtime=0)


seeds_npy = {
    "f4_3x4.npy": npy("<f4", (3, 4), floats(12)),
    "f4_2x3.npy": npy("<f4", (2, 3), floats(6)),
    "f8_4.npy": npy("<f8", (4,), floats(4, "<d")),
    "u1_scalar.npy": npy("|u1", (), b"\x07"),
    "i8_0x3.npy": npy("<i8", (0, 3), b""),
    "i4_5.npy": npy("<i4", (5,), struct.pack("<5i", 1, -2, 3, -4, 5)),
    "v2_f4_3x4.npy": npy("<f4", (3, 4), floats(12), version=(2, 0)),
    "v3_f4_3x4.npy": npy("<f4", (3, 4), floats(12), version=(3, 0)),
    "dq_f4_3x4.npy": npy("<f4", (3, 4), floats(12), quote='"'),
    "fortran_f4_1x5.npy": npy("<f4", (1, 5), floats(5), fortran=True),
    "fortran_f4_2x2.npy": npy("<f4", (2, 2), floats(4), fortran=True),
    "bigendian_f4_3.npy": npy(">f4", (3,), floats(3, ">f")),
    "trailing_f4_2.npy": npy("<f4", (2,), floats(2)) + b"junk",
    "truncated_f4_3x4.npy": npy("<f4", (3, 4), floats(12))[:-7],
    # The hostile inputs of issue 15: a v2.0 header length of 0xffffffff in 12 bytes, a 10-byte
    # v1.0 file claiming a 65535-byte header, an empty header, a cut length field.
    "hostile_v2_len_ffffffff.npy": b"\x93NUMPY\x02\x00\xff\xff\xff\xff",
    "hostile_v1_len_ffff.npy": b"\x93NUMPY\x01\x00\xff\xff",
    "hostile_empty_header.npy": b"\x93NUMPY\x01\x00\x00\x00",
    "hostile_cut_length.npy": b"\x93NUMPY\x02\x00\x10",
    "hostile_huge_shape.npy": npy("<f4", (1 << 40, 1 << 40), b""),
}
for k, v in seeds_npy.items():
    write("npy", k, v)

images = idx((2, 3, 3), bytes(range(18)))
labels = idx((2,), b"\x01\x09")
seeds_idx = {
    "images_2x3x3.idx": images,
    "labels_2.idx": labels,
    "images_2x3x3.idx.gz": gz(images),
    "labels_2.idx.gz": gz(labels),
    "truncated_images.idx": images[:-5],
    "truncated_images.idx.gz": gz(images)[:-6],
    "bad_magic.idx": b"\x00\x00\x09\x01" + images[4:],
    "huge_dims.idx": idx((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), b"\x00" * 8),
    "extra_byte.idx": labels + b"\x00",
}
for k, v in seeds_idx.items():
    write("idx", k, v)
