#!/usr/bin/env python3
"""Writes ~N MB of deterministic mail-like lines dense in PII (headers with names and addresses,
signatures with phone numbers in several formats, URLs, the odd card or IP) for the PII scan
benchmark. Usage: make_bench_mail.py OUT [--mb 5]"""
import argparse, random
ap = argparse.ArgumentParser(); ap.add_argument("out"); ap.add_argument("--mb", type=float, default=5); a = ap.parse_args()
rng = random.Random(11)
first = "james mary john patricia robert jennifer michael linda david elizabeth william barbara richard susan joseph jessica thomas sarah priya wei".split()
last = "smith johnson williams brown jones garcia miller davis rodriguez martinez lee walker hall allen young king wright lopez hill scott".split()
words = ("the please meeting schedule pipeline contract review attached report call tomorrow trading desk volumes price gas power "
         "deal confirm update team market customer account invoice credit risk approval legal draft").split()
domains = ["enron.com", "example.com", "mail.example.org", "corp.example.net", "ect.enron.com"]
def phone():
    a, b, c = rng.randint(201, 989), rng.randint(201, 989), rng.randint(0, 9999)
    return rng.choice([f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"{a}.{b}.{c:04d}", f"+1 {a} {b} {c:04d}", f"+44 20 {rng.randint(7000,7999)} {rng.randint(1000,9999)}"])
out, size = [], 0
while size < a.mb * 1e6:
    f, l = rng.choice(first), rng.choice(last)
    f2, l2 = rng.choice(first), rng.choice(last)
    d = rng.choice(domains)
    lines = [f"From: {f.title()} {l.title()} <{f}.{l}@{d}>", f"To: {f2}.{l2}@{rng.choice(domains)}", f"Subject: {' '.join(rng.choices(words, k=4))}", "",
             f"Hi {f2.title()},", ""]
    for _ in range(rng.randint(2, 6)):
        s = " ".join(rng.choices(words, k=rng.randint(8, 20)))
        if rng.random() < 0.1: s += f" see http://www.{d}/docs/{rng.randint(1, 999)}"
        if rng.random() < 0.05: s += f" ref {rng.randint(2000, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if rng.random() < 0.05: s += f" v{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}"
        lines.append(s.capitalize() + ".")
    lines += ["", "Thanks,", f"{f.title()} {l.title()}", rng.choice(["Manager", "Analyst", "Trader"]), f"{phone()}", ""]
    block = "\n".join(lines) + "\n"
    out.append(block); size += len(block.encode())
open(a.out, "w").write("".join(out))
print(f"wrote {size / 1e6:.1f} MB to {a.out}")
