#!/usr/bin/env python3
"""Writes ~N MB of deterministic English-like text for the tokenizer benchmarks: Zipf-distributed
words taken from the GPT-2 vocabulary, sentences with capitals, punctuation, numbers, e-mail
style headers and paragraphs. Usage: make_bench_text.py OUT [--mb 20] [--gpt2 DIR]"""
import argparse, json, os, random
ap = argparse.ArgumentParser()
ap.add_argument("out"); ap.add_argument("--mb", type=float, default=20)
ap.add_argument("--gpt2", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "TokenizerTests", "Fixtures", "gpt2"))
a = ap.parse_args()
vocab = json.load(open(os.path.join(a.gpt2, "vocab.json"), encoding="utf-8"))
words = [t[1:] for t, i in sorted(vocab.items(), key=lambda kv: kv[1]) if t.startswith("Ġ") and t[1:].isalpha() and t[1:].islower()]
rng = random.Random(7)
weights = [1.0 / (r + 10) for r in range(len(words))]
out, size = [], 0
while size < a.mb * 1e6:
    para = []
    if rng.random() < 0.2:
        para.append(f"From: {rng.choice(words)}.{rng.choice(words)}@example.com\nSubject: {rng.choice(words).capitalize()} {rng.choice(words)}\n")
    for _ in range(rng.randint(2, 8)):
        n = rng.randint(5, 25)
        ws = rng.choices(words, weights, k=n)
        if rng.random() < 0.2: ws.insert(rng.randrange(n), str(rng.randint(1, 5000)))
        if rng.random() < 0.1: ws.insert(rng.randrange(n), rng.choice(["don't", "it's", "we're", "they'll", "I've"]))
        s = " ".join(ws)
        para.append(s[0].upper() + s[1:] + rng.choice([".", ".", ".", "?", "!", ","]) )
    p = " ".join(para) + "\n\n"
    out.append(p); size += len(p.encode())
open(a.out, "w", encoding="utf-8").write("".join(out))
print(f"wrote {size / 1e6:.1f} MB to {a.out}")
