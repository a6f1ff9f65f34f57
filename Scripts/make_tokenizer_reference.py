#!/usr/bin/env python3
"""Writes Tests/TokenizerTests/Fixtures/gpt2_cases.json: texts and their GPT-2 token ids, produced
by tiktoken and by HF tokenizers from the local GPT-2 files (no network), asserting both agree.
Also writes trained_cases.json: ids of a Shallot-trained tokenizer (Fixtures/trained/) in HF
tokenizers, when that directory exists.

    pip install tiktoken tokenizers
    python3 Scripts/make_tokenizer_reference.py [--gpt2 ../shared/data/gpt2]
"""
import argparse, json, os, random

import tiktoken
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "Tests", "TokenizerTests", "Fixtures")
ap = argparse.ArgumentParser()
ap.add_argument("--gpt2", default=os.path.join(FIX, "gpt2"))
a = ap.parse_args()

vocab = json.load(open(os.path.join(a.gpt2, "vocab.json"), encoding="utf-8"))
merge_lines = open(os.path.join(a.gpt2, "merges.txt"), encoding="utf-8").read().split("\n")
merges = [tuple(l.split(" ")) for l in merge_lines[1:] if l]

# HF tokenizers, built from the dicts (the transformers-5 vocab_file= trap is avoided this way).
hf = Tokenizer(models.BPE(vocab=vocab, merges=merges))
hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
hf.decoder = decoders.ByteLevel()
assert hf.encode("Hello world").ids == [15496, 995]

# tiktoken from the same files: ranks keyed by raw bytes.
bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
cs = bs[:]
n = 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
byte_of = {chr(c): b for b, c in zip(bs, cs)}
ranks = {bytes(byte_of[ch] for ch in tok): i for tok, i in vocab.items() if tok != "<|endoftext|>"}
tt = tiktoken.Encoding("gpt2-local", pat_str=r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
                       mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 50256})
assert tt.encode("Hello world") == [15496, 995]

fixed = [
    "", " ", "  ", "\n", "\n\n\n", "\t", " \t \n ", "Hello world", "Hello  world", "Hello   world ",
    "hello\n\nworld", "a\tb\t\tc", "   leading", "trailing   ", "mixed \t\n whitespace  \n\n end",
    "don't", "I'm", "you're", "we've", "she'll", "he'd", "it's", "IT'S", "DON'T", "'s", " 's", "rock 'n' roll",
    "''", "'''ll", "o'clock", "l'été", "can't won't shouldn't", "y'all'd've",
    "12345", "3.14159", "1,000,000", "$1.99", "2026-11-29", "(713) 853-7107", "+1 713 853 7107", "713.853.7107",
    "phone: 555-0100 ext. 42", "١٢٣ ٤٥٦", "Ⅻ ⅷ", "½ ¾ ²",
    "Hello, world! How's it going?", "...", "?!?!", "--- ---", "a.b.c", "e.g. i.e.", "#hashtag @mention",
    "😀", "👍🏽 ok", "family: 👨‍👩‍👧‍👦", "🇺🇸🇫🇷", "emoji😀inside", "日本語のテキスト", "中文字符测试，标点。", "한국어 텍스트",
    "café naïve résumé", "Zürich Straße", "ÅÄÖ åäö", "Ελληνικά κείμενο", "Русский текст", "עברית", "العربية",
    "From: John Doe <john.doe@enron.com>\nTo: jane@example.org\nSubject: Re: meeting\n\nHi Jane,",
    "-----Original Message-----\nFrom: \tAllen, Phillip K.  \nSent:\tMonday, October 23, 2000 3:45 PM",
    "mailto:someone@company.co.uk", "http://www.example.com/path?q=1&r=2", "C:\\Users\\name\\file.txt",
    "<|endoftext|>", "before<|endoftext|>after", "x" * 300, "ab" * 150, " " * 50 + "x", "\u00a0nbsp\u00a0", "zero\u200bwidth",
    "tab\tand\u3000ideographic space", "line\r\nbreaks\r\n", "\u2028sep\u2029",
]
rng = random.Random(1234)
frags = ["the", " The", " quick", " brown", "fox", "'s", "'t", "'re", " 're", "'LL", "  ", "   ", "\n", "\n\n", "\t", " \t", "2026",
         " 42", "3.5", ",", ".", "!", "?", "...", " --", "—", "“quoted”", "(", ")", "@", "enron.com", "jeff.skilling",
         "😀", "👍", "日本", "語", "é", "ñ", "ü", "Straße", " Δ", "ж", " ", "\u00a0", "1", "0", "-", "_", "=", "+",
         "Subject:", "From:", " Re:", ">", "> >", "\r\n", "'", "\"", "/", "\\"]
generated = []
for i in range(400):
    k = rng.randint(1, 25)
    generated.append("".join(rng.choice(frags) for _ in range(k)))
# a long document
doc_words = ["energy", "trading", "desk", "pipeline", "meeting", "Friday", "contract", "gas", "power", "price"]
long_doc = "\n\n".join(" ".join(rng.choice(doc_words) for _ in range(rng.randint(5, 40))) + "." for _ in range(60))
cases = []
for text in fixed + generated + [long_doc]:
    ids_tt = tt.encode_ordinary(text)
    ids_hf = hf.encode(text).ids if "<|endoftext|>" not in text else ids_tt
    assert ids_tt == ids_hf, (text, ids_tt, ids_hf)
    assert tt.decode(ids_tt) == text
    cases.append({"text": text, "ids": ids_tt})
# special tokens allowed
specials = [{"text": t, "ids": tt.encode(t, allowed_special={"<|endoftext|>"})} for t in ["<|endoftext|>", "a<|endoftext|>b", "x <|endoftext|>\n y"]]
json.dump({"ordinary": cases, "allowed_special": specials}, open(os.path.join(FIX, "gpt2_cases.json"), "w"), ensure_ascii=False, indent=0)
print(f"wrote {len(cases)} ordinary and {len(specials)} special cases")

trained = os.path.join(FIX, "trained")
if os.path.isdir(trained):
    tok = Tokenizer.from_file(os.path.join(trained, "tokenizer.json"))
    texts = [json.loads(l)["text"] for l in open(os.path.join(FIX, "train_corpus.jsonl"), encoding="utf-8")][:200] + fixed
    out = [{"text": t, "ids": tok.encode(t).ids} for t in texts if "<|endoftext|>" not in t]
    json.dump(out, open(os.path.join(FIX, "trained_cases.json"), "w"), ensure_ascii=False, indent=0)
    print(f"wrote {len(out)} cases of the trained tokenizer (HF tokenizers {tok.get_vocab_size()} tokens)")
