#!/usr/bin/env python3
"""Writes the reference fixture the Swift tests compare against (Tests/GPTTests/Fixtures/).

A tiny seeded HF GPT2LMHeadModel (torch, fp32, eager attention, dropout off) gives:
inputs, targets (with ignored positions), logits, loss, the gradient of every parameter,
per-token log-probabilities, greedy generation with the KV cache, and the losses and final
weights of 10 AdamW steps (decay on 2-D weights only, global-norm clipping at 1.0, nanoGPT
style). The model itself is saved with save_pretrained (safetensors) so the tests also load a
checkpoint written by transformers.

    pip install torch transformers safetensors
    python3 Scripts/make_reference.py
"""
import json, os, shutil, sys
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "GPTTests", "Fixtures")
torch.manual_seed(1234)
torch.set_num_threads(1)

cfg = transformers.GPT2Config(vocab_size=97, n_positions=16, n_embd=32, n_layer=2, n_head=4,
                              resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                              bos_token_id=96, eos_token_id=96)
cfg._attn_implementation = "eager"
model = transformers.GPT2LMHeadModel(cfg).float()
# Perturb biases and layer norms so that every parameter matters in the comparison.
with torch.no_grad():
    for n, p in model.named_parameters():
        if p.dim() == 1:
            p.add_(0.05 * torch.randn_like(p))
model.eval()

model_dir = os.path.join(OUT, "tiny-hf")
shutil.rmtree(model_dir, ignore_errors=True)
model.save_pretrained(model_dir, safe_serialization=True)

B, T = 2, 11
inputs = torch.randint(0, cfg.vocab_size, (B, T))
targets = torch.randint(0, cfg.vocab_size, (B, T))
targets[0, 3] = -100
targets[1, 0] = -100

logits = model(inputs).logits
loss = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), targets.reshape(-1), ignore_index=-100)
loss.backward()

t = {
    "inputs": inputs.to(torch.int32).contiguous(),
    "targets": targets.to(torch.int32).contiguous(),
    "logits": logits.detach().contiguous(),
    "loss": loss.detach().reshape(1),
    "logprobs": torch.log_softmax(logits.detach(), -1)[:, :-1].gather(-1, inputs[:, 1:, None]).squeeze(-1).contiguous(),
}
for n, p in model.named_parameters():
    t["grad." + n] = p.grad.detach().clone().contiguous()

# Greedy generation with the KV cache from two prompts of different lengths (run one by one).
prompts = [inputs[0, :5], inputs[1, :3]]
for i, p in enumerate(prompts):
    out = model.generate(p[None], max_new_tokens=8, do_sample=False, eos_token_id=None, pad_token_id=0)
    t[f"greedy.{i}"] = out[0, len(p):].to(torch.int32).contiguous()
    t[f"prompt.{i}"] = p.to(torch.int32).contiguous()

# 10 AdamW steps on the same batch.
model.zero_grad()
decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                        lr=1e-2, betas=(0.9, 0.95), eps=1e-8, foreach=False)
losses = []
for step in range(10):
    opt.zero_grad()
    l = F.cross_entropy(model(inputs).logits.reshape(-1, cfg.vocab_size), targets.reshape(-1), ignore_index=-100)
    l.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    losses.append(l.item())
t["adamw.losses"] = torch.tensor(losses)
for n, p in model.named_parameters():
    t["adamw.final." + n] = p.detach().clone().contiguous()

meta = {"lr": "0.01", "beta1": "0.9", "beta2": "0.95", "eps": "1e-8", "weight_decay": "0.1", "clip": "1.0",
        "torch": torch.__version__, "transformers": transformers.__version__}
save_file(t, os.path.join(OUT, "reference.safetensors"), metadata=meta)
print("wrote", OUT, "loss", loss.item(), "adamw", losses[0], "->", losses[-1])
