#!/usr/bin/env python3
"""Builds Sources/PII/PhonePlans.swift and Sources/PII/TLDs.swift from public data shipped on PyPI.

Phone numbering plans come from the `phonenumbers` package (the Python port of Google's
libphonenumber; its metadata is public). For each country calling code the script takes the
national prefix (trunk) and the union of the number-type patterns that decide validity (fixed
line, mobile, toll free, premium, shared cost, VoIP, personal, pager, UAN, voicemail) of every
region sharing the code, and turns them into a prefix table: national-significant-number prefixes
of up to DEPTH digits → the lengths a valid number with that prefix can have. The table is
computed exactly from the patterns (a small regex → NFA over digits; a length is allowed for a
prefix when some completion of that length matches), never typed by hand.

TLDs come from the Public Suffix List snapshot that `tldextract` ships: the one-label entries of
its ICANN section (internationalised ones as their xn-- form), with the list's version date.

    pip install phonenumbers tldextract
    python3 Scripts/make_pii_data.py
"""
import os, re, sys
import phonenumbers
from phonenumbers import PhoneMetadata
import tldextract

DEPTH = 4
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "PII")

# ---- a regex subset (digits, \d, [classes], (?:…), |, ?, {n}, {n,m}) → NFA over digits

def parse(p):
    pos = 0
    def alt():
        nonlocal pos
        branches = [seq()]
        while pos < len(p) and p[pos] == "|":
            pos += 1; branches.append(seq())
        return ("alt", branches)
    def seq():
        nonlocal pos
        items = []
        while pos < len(p) and p[pos] not in "|)":
            a = atom()
            while pos < len(p) and p[pos] in "?{":
                if p[pos] == "?":
                    pos += 1; a = ("rep", a, 0, 1)
                else:
                    m = re.match(r"\{(\d+)(?:,(\d+))?\}", p[pos:])
                    lo = int(m.group(1)); hi = int(m.group(2)) if m.group(2) else lo
                    pos += m.end(); a = ("rep", a, lo, hi)
            items.append(a)
        return ("seq", items)
    def atom():
        nonlocal pos
        c = p[pos]
        if p.startswith("(?:", pos):
            pos += 3; a = alt(); assert p[pos] == ")"; pos += 1; return a
        if c == "(":
            pos += 1; a = alt(); assert p[pos] == ")"; pos += 1; return a
        if p.startswith("\\d", pos):
            pos += 2; return ("set", frozenset("0123456789"))
        if c == "[":
            end = p.index("]", pos); body = p[pos + 1:end]; pos = end + 1
            s, k = set(), 0
            while k < len(body):
                if k + 2 < len(body) and body[k + 1] == "-":
                    s |= {str(d) for d in range(int(body[k]), int(body[k + 2]) + 1)}; k += 3
                else:
                    s.add(body[k]); k += 1
            return ("set", frozenset(s))
        if c.isdigit():
            pos += 1; return ("set", frozenset(c))
        raise ValueError(f"unsupported {c!r} in {p}")
    tree = alt()
    assert pos == len(p), p
    return tree

class NFA:
    def __init__(self):
        self.eps, self.edges = [], []
    def state(self):
        self.eps.append([]); self.edges.append([]); return len(self.eps) - 1
    def build(self, t, s):
        """Adds t starting at state s; returns its end state."""
        kind = t[0]
        if kind == "set":
            e = self.state(); self.edges[s].append((t[1], e)); return e
        if kind == "seq":
            for x in t[1]: s = self.build(x, s)
            return s
        if kind == "alt":
            e = self.state()
            for b in t[1]: self.eps[self.build(b, s)].append(e)
            return e
        if kind == "rep":
            _, x, lo, hi = t
            ends = []
            for k in range(hi):
                if k >= lo: ends.append(s)
                s = self.build(x, s)
            ends.append(s)
            e = self.state()
            for x_ in ends: self.eps[x_].append(e)
            return e
    def closure(self, states):
        out, stack = set(states), list(states)
        while stack:
            for y in self.eps[stack.pop()]:
                if y not in out: out.add(y); stack.append(y)
        return frozenset(out)
    def step(self, states, digit):
        return self.closure({e for s in states for (cs, e) in self.edges[s] if digit is None or digit in cs})

def lengths_after(nfa, states, accept, cache, limit=17):
    """Lengths k such that some k more digits lead from `states` to `accept`."""
    if states in cache: return cache[states]
    out, cur = set(), states
    for k in range(limit + 1):
        if accept in cur: out.add(k)
        if not cur: break
        cur = nfa.step(cur, None)
    cache[states] = out
    return out

def table(patterns):
    nfa = NFA(); start = nfa.state(); accept = nfa.state()
    for p in patterns:
        nfa.eps[nfa.build(parse(p), start)].append(accept)
    cache = {}
    entries = []
    def visit(prefix, states):
        lens = {len(prefix) + k for k in lengths_after(nfa, states, accept, cache)}
        if not lens: return
        kids = [(d, nfa.step(states, d)) for d in "0123456789"]
        kid_lens = [{len(prefix) + 1 + k for k in lengths_after(nfa, st, accept, cache)} for _, st in kids]
        if len(prefix) == DEPTH or all(kl == lens for kl in kid_lens) or (len(prefix) > 0 and len(prefix) in lens):
            entries.append((prefix, lens)); return
        for (d, st) in kids: visit(prefix + d, st)
    visit("", nfa.closure({start}))
    return entries

TYPES = ["fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail"]

def plans():
    by_cc = {}
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        m = PhoneMetadata.metadata_for_region(region)
        d = by_cc.setdefault(m.country_code, {"regions": [], "patterns": [], "trunk": set()})
        d["regions"].append(region)
        if m.national_prefix: d["trunk"].add(m.national_prefix)
        for t in TYPES:
            desc = getattr(m, t)
            if desc is not None and desc.national_number_pattern: d["patterns"].append(desc.national_number_pattern)
    for cc in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        m = PhoneMetadata.metadata_for_nongeo_region(cc)
        d = by_cc.setdefault(cc, {"regions": ["001"], "patterns": [], "trunk": set()})
        for t in TYPES:
            desc = getattr(m, t)
            if desc is not None and desc.national_number_pattern: d["patterns"].append(desc.national_number_pattern)
    return by_cc

def write_phones():
    lines = []
    for cc, d in sorted(plans().items()):
        ents = table(d["patterns"])
        body = ",".join(p + ":" + ".".join(str(x) for x in sorted(l)) for p, l in ents)
        lines.append(f'{cc}|{"/".join(sorted(d["trunk"]))}|{"/".join(d["regions"])}|{body}')
    path = os.path.join(ROOT, "PhonePlans.swift")
    with open(path, "w") as f:
        f.write("// Generated by Scripts/make_pii_data.py — do not edit.\n")
        f.write(f"// Source: phonenumbers {phonenumbers.__version__} (libphonenumber metadata, Apache-2.0), the\n")
        f.write("// patterns that decide validity, as national-significant-number prefix → allowed lengths.\n")
        f.write("// One line a calling code: CC|national prefixes|regions|prefix:len.len,…\n\n")
        f.write("extension PhonePlans {\n    static let source = \"phonenumbers " + phonenumbers.__version__ + "\"\n")
        f.write("    static let raw = \"\"\"\n" + "\n".join(lines) + "\n\"\"\"\n}\n")
    print(f"{path}: {len(lines)} calling codes, {sum(l.count(',') + 1 for l in lines)} prefixes, {os.path.getsize(path)} bytes")

def write_tlds():
    snap = os.path.join(os.path.dirname(tldextract.__file__), ".tld_set_snapshot")
    text = open(snap, encoding="utf-8").read()
    version = re.search(r"// VERSION: (\S+)", text).group(1)
    icann = text.split("// ===BEGIN ICANN DOMAINS===")[1].split("// ===END ICANN DOMAINS===")[0]
    tlds = set()
    for line in icann.splitlines():
        line = line.strip()
        if not line or line.startswith("//") or "." in line or line[0] in "!*": continue
        tlds.add(line.encode("idna").decode("ascii").lower())
    path = os.path.join(ROOT, "TLDs.swift")
    with open(path, "w") as f:
        f.write("// Generated by Scripts/make_pii_data.py — do not edit.\n")
        f.write(f"// Source: the Public Suffix List (ICANN section, one-label entries) as shipped in tldextract\n")
        f.write(f"// {tldextract.__version__}; list version {version}. Internationalised TLDs in their xn-- form.\n\n")
        f.write("extension TopLevelDomains {\n")
        f.write(f'    static let version = "{version}"\n')
        f.write('    static let raw = "' + " ".join(sorted(tlds)) + '"\n}\n')
    print(f"{path}: {len(tlds)} TLDs, list version {version}")

if __name__ == "__main__":
    write_tlds()
    write_phones()
