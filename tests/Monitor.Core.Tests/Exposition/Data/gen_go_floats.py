#!/usr/bin/env python3
"""Writes go-floats.txt: IEEE bits (hex) and the string Go's expfmt.writeFloat prints for them.

Independent of the C# code: digits come from Python's repr (David Gay's shortest round-trip), and the
layout follows Go's strconv/ftoa.go for FormatFloat(f, 'g', -1, 64): %e when exp < -4 || exp >= 6
(eprec is fixed at 6 for shortest), at least two exponent digits; expfmt special-cases 0, 1, -1, NaN, +-Inf.
Run: python3 gen_go_floats.py > go-floats.txt
"""
import math
import random
import struct
from decimal import Decimal


def go_g(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    if x == 1:
        return "1"
    if x == -1:
        return "-1"
    sign, digits, exp = Decimal(repr(abs(x))).as_tuple()
    digits = list(digits)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    while len(digits) > 1 and digits[0] == 0:
        digits.pop(0)
    nd = len(digits)
    dp = nd + exp
    ds = "".join(str(d) for d in digits)
    e = dp - 1
    neg = "-" if x < 0 else ""
    if e < -4 or e >= 6:
        mant = ds[0] + ("." + ds[1:] if nd > 1 else "")
        return f"{neg}{mant}e{'-' if e < 0 else '+'}{abs(e):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{ds}"
    if dp >= nd:
        return f"{neg}{ds}{'0' * (dp - nd)}"
    return f"{neg}{ds[:dp]}.{ds[dp:]}"


def bits(x: float) -> str:
    return struct.pack(">d", x).hex()


rng = random.Random(20240611)
values = [0.0, 1.0, -1.0, 0.1, 1e-05, 0.0001, 123456789.0, 1e21, 1.7976931348623157e308, 5e-324,
          12345.678, 100000.0, 1e6, 999999.0, 1234567.0, 0.5, -2.5, 1e-4, 9.999999e-5, 1.5e300,
          2.2250738585072014e-308, 3.0e-310, 608863452348.1149, 14933760.0, 1e15, 1e16, 1e17, 123.456e-20,
          4294967296.0, 0.30000000000000004, 1/3, 2/3, -1e-7, 65536.0, 1e5 + 0.5]
for _ in range(400):
    values.append(rng.uniform(-1, 1) * 10 ** rng.randint(-12, 22))
for _ in range(200):
    values.append(struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0])
for _ in range(100):
    values.append(float(rng.randint(0, 10**12)))
for v in values:
    if math.isnan(v):
        continue
    print(bits(v), go_g(v))
