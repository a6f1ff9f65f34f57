#!/usr/bin/env python3
"""Checks that models move both ways between Shallot and transformers (needs torch + transformers).

1. Trains a small model with `shallot train`, loads it with GPT2LMHeadModel.from_pretrained and
   compares its logits with `shallot score --tokens` (per-token log-probs) on a few records.
2. Saves a seeded HF GPT-2 with save_pretrained and checks that Shallot's greedy generation from
   it equals transformers' generate.

    python3 Scripts/check_hf_interop.py --shallot .build/release/shallot
"""
import argparse, json, os, subprocess, sys, tempfile
import torch, transformers

ap = argparse.ArgumentParser()
ap.add_argument("--shallot", default=".build/release/shallot")
a = ap.parse_args()
tmp = tempfile.mkdtemp()
data = os.path.join(tmp, "data.jsonl")
with open(data, "w") as f:
    for i in range(60):
        f.write(json.dumps({"id": f"r{i}", "text": f"Ticket {i}: please call Dana at (555) 010-{2200 + i} about invoice {i * 37 % 101}."}) + "\n")

# 1. Shallot → transformers
out = os.path.join(tmp, "m")
subprocess.run([a.shallot, "train", "--data", data, "--out", out, "--layers", "2", "--heads", "2", "--dim", "64",
                "--context", "64", "--batch", "4", "--steps", "30", "--json"], check=True, capture_output=True)
model = transformers.GPT2LMHeadModel.from_pretrained(out, attn_implementation="eager").eval()
rows = [json.loads(l) for l in subprocess.run([a.shallot, "score", "--model", out, "--data", data, "--tokens", "--json"],
                                               check=True, capture_output=True, text=True).stdout.splitlines()]
worst = 0.0
for r, line in zip(rows[:10], open(data)):
    ids = torch.tensor([list(json.loads(line)["text"].encode())])
    with torch.no_grad():
        lp = torch.log_softmax(model(ids).logits[0, :-1], -1).gather(-1, ids[0, 1:, None]).squeeze(-1)
    worst = max(worst, (lp - torch.tensor(r["logprobs"])).abs().max().item())
print(f"shallot-saved model in transformers: max |log-prob difference| over 10 records = {worst:.2e}")
assert worst < 1e-4, worst

# 2. transformers → Shallot
torch.manual_seed(0)
cfg = transformers.GPT2Config(vocab_size=257, n_positions=128, n_embd=64, n_layer=2, n_head=4, eos_token_id=256, bos_token_id=256)
hf = transformers.GPT2LMHeadModel(cfg).eval()
hf_dir = os.path.join(tmp, "hf")
hf.save_pretrained(hf_dir, safe_serialization=True)
subprocess.run([a.shallot, "train", "--embedded-sample", "--out", os.path.join(tmp, "tok"), "--steps", "1", "--layers", "1",
                "--heads", "1", "--dim", "8", "--context", "16", "--batch", "1"], check=True, capture_output=True)
for f in ["vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json"]:
    os.replace(os.path.join(tmp, "tok", f), os.path.join(hf_dir, f))
prompt = "Dear Marcus,"
g = json.loads(subprocess.run([a.shallot, "generate", "--model", hf_dir, "--prompt", prompt, "--max-new", "20", "--greedy",
                               "--ignore-eos", "--json"], check=True, capture_output=True, text=True).stdout)
ids = torch.tensor([list(prompt.encode())])
ref = hf.generate(ids, max_new_tokens=20, do_sample=False, pad_token_id=0, eos_token_id=None)[0, ids.shape[1]:].tolist()
print("transformers-saved model in Shallot: greedy tokens equal:", g["tokens"] == ref)
assert g["tokens"] == ref, (g["tokens"], ref)
print("ok")
