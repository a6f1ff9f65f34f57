#!/usr/bin/env python3
"""Side-by-side tokenizer benchmark on the same text: `shallot bench tokenize` vs HF tokenizers
and tiktoken (GPT-2 vocabulary from the local files), and BPE training of an 8,192 vocabulary.

    pip install tokenizers tiktoken
    python3 Scripts/make_bench_text.py /tmp/text.txt --mb 20
    python3 Scripts/bench_tokenizer_peer.py --text /tmp/text.txt --shallot .build/release/shallot
"""
import argparse, json, os, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--text", required=True)
ap.add_argument("--shallot", default=".build/release/shallot")
ap.add_argument("--gpt2", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "TokenizerTests", "Fixtures", "gpt2"))
ap.add_argument("--_peer", action="store_true")
a = ap.parse_args()

if a._peer:
    # Runs in a child process with RAYON_NUM_THREADS=1 so HF tokenizers stays on one thread.
    import tiktoken
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    vocab = json.load(open(os.path.join(a.gpt2, "vocab.json"), encoding="utf-8"))
    merges = [tuple(l.split(" ")) for l in open(os.path.join(a.gpt2, "merges.txt"), encoding="utf-8").read().split("\n")[1:] if l]
    hf = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    assert hf.encode("Hello world").ids == [15496, 995]
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256)); cs = bs[:]; n = 0
    for b in range(256):
        if b not in bs: bs.append(b); cs.append(256 + n); n += 1
    byte_of = {chr(c): b for b, c in zip(bs, cs)}
    ranks = {bytes(byte_of[ch] for ch in t): i for t, i in vocab.items() if t != "<|endoftext|>"}
    tt = tiktoken.Encoding("gpt2-local", pat_str=r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""",
                           mergeable_ranks=ranks, special_tokens={"<|endoftext|>": 50256})
    assert tt.encode("Hello world") == [15496, 995]
    raw = open(a.text, "rb").read()
    docs = raw.decode("utf-8").split("\n\n")
    mb = len(raw) / 1e6
    hf.encode_batch(docs[:2000])
    t = time.perf_counter(); hf_ids = [e.ids for e in hf.encode_batch(docs)]; s_hf = time.perf_counter() - t
    t = time.perf_counter(); tt_ids = [tt.encode_ordinary(d) for d in docs]; s_tt = time.perf_counter() - t
    assert hf_ids == tt_ids
    tr = trainers.BpeTrainer(vocab_size=8192, special_tokens=["<|endoftext|>"], show_progress=False,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    new = Tokenizer(models.BPE()); new.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    t = time.perf_counter(); new.train_from_iterator(docs, tr); s_train = time.perf_counter() - t
    print(json.dumps(dict(hf=mb / s_hf, tiktoken=mb / s_tt, hf_train=s_train, tokens=sum(map(len, tt_ids)))))
    sys.exit()

env = dict(os.environ, RAYON_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
peer = json.loads(subprocess.run([sys.executable, __file__, "--_peer", "--text", a.text, "--gpt2", a.gpt2], env=env,
                                 capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
me = json.loads(subprocess.run([a.shallot, "bench", "tokenize", "--tokenizer", a.gpt2, "--file", a.text, "--json"],
                               capture_output=True, text=True, check=True).stdout)
assert me["tokens"] == peer["tokens"], (me["tokens"], peer["tokens"])
print(f"| measure | Shallot | HF tokenizers | tiktoken | Shallot / HF | Shallot / tiktoken |")
print(f"|---|---|---|---|---|---|")
print(f"| encode, 1 thread | {me['single_thread_mb_per_s']:.2f} MB/s | {peer['hf']:.2f} MB/s | {peer['tiktoken']:.2f} MB/s | "
      f"{me['single_thread_mb_per_s'] / peer['hf']:.2f}× | {me['single_thread_mb_per_s'] / peer['tiktoken']:.2f}× |")
print(f"| encode, {me['threads']} threads (batch) | {me['batch_mb_per_s']:.2f} MB/s ({me['batch_mb_per_s'] / me['single_thread_mb_per_s']:.2f}× Shallot's 1 thread) | | | | |")
print(f"| BPE training, 8,192 tokens | {me['train_seconds']:.2f} s | {peer['hf_train']:.2f} s | | {peer['hf_train'] / me['train_seconds']:.2f}× faster | |")
print(f"\n{me['megabytes']:.1f} MB, {me['documents']} documents, {me['tokens']} GPT-2 tokens (identical ids in all three)")
