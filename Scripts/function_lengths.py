#!/usr/bin/env python3
"""Lists Swift functions longer than a limit (issue #13: orchestration functions stay short).

Usage: Scripts/function_lengths.py [--limit 60] [DIR...]   (default: the orchestration targets;
FunctionLengthTests enforces the same in `swift test`)
Counts the lines from a `func`/`init` declaration to its closing brace (braces in strings and
comments are skipped). Exit status 1 when any function is over the limit.
"""
import re, sys, pathlib

def strip(line, in_block):
    """The line without comments and string contents; whether a block comment is still open."""
    out, i = [], 0
    while i < len(line):
        if in_block:
            j = line.find("*/", i)
            if j < 0: return "".join(out), True
            i, in_block = j + 2, False
        elif line.startswith("//", i): break
        elif line.startswith("/*", i): in_block = True; i += 2
        elif line[i] == '"':
            j = i + 1
            while j < len(line) and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            out.append('""'); i = j + 1
        else: out.append(line[i]); i += 1
    return "".join(out), in_block

DECL = re.compile(r"\b(func\s+[^\s(<]+|init\??|subscript)\s*[(<]")

def functions(path):
    lines = pathlib.Path(path).read_text().split("\n")
    code, in_block = [], False
    for l in lines:
        c, in_block = strip(l, in_block); code.append(c)
    for n, c in enumerate(code):
        m = DECL.search(c)
        if not m: continue
        depth, opened = 0, False
        for k in range(n, len(code)):
            for ch in code[k]:
                if ch == "{": depth += 1; opened = True
                elif ch == "}": depth -= 1
            if opened and depth <= 0:
                yield m.group(1), n + 1, k - n + 1
                break
            if not opened and k > n + 8: break   # a protocol requirement: no body

def main():
    args = sys.argv[1:]; limit = 60
    if not args or args[:1] == ["--limit"] and len(args) == 2:
        args += [f"Sources/{t}" for t in ("Audit", "Study", "Unlearning", "Ledger", "shallot")]
    if args[:1] == ["--limit"]: limit = int(args[1]); args = args[2:]
    over = []
    for d in args:
        for p in sorted(pathlib.Path(d).rglob("*.swift")):
            for name, line, length in functions(p):
                if length > limit: over.append((length, f"{p}:{line}", name))
    for length, where, name in sorted(over, reverse=True):
        print(f"{length:5d}  {where}  {name}")
    print(f"{len(over)} function(s) over {limit} lines", file=sys.stderr)
    return 1 if over else 0

if __name__ == "__main__": sys.exit(main())
