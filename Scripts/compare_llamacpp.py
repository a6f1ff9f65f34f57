#!/usr/bin/env python3
"""The same audit of the same model, in-process and through llama.cpp's server (issue #14 §3).

A Shallot-trained GPT-2 (OpenAI's GPT-2 vocabulary, so that llama.cpp's converter recognises
the pre-tokenizer) is converted to GGUF (F32) with llama.cpp's own `convert_hf_to_gguf.py`,
served by llama-cpp-python's OpenAI-compatible server on 127.0.0.1 (CPU), and audited twice:

    shallot audit --model DIR ...                                    (in-process)
    shallot audit --endpoint http://127.0.0.1:PORT/v1 --served-model NAME ...   (through HTTP)

with the same data, salt, attacks and seeds. The script compares what they found (extracted
values: counts, Jaccard, smallest extracting k; per-value log-likelihoods and exposure;
membership-inference AUCs), per-record log-probabilities straight from the server against
`shallot score` and against PyTorch (transformers) on the same tokens, the time per stage
(prompts/s each way), and the requests and tokens the endpoint audit cost. It also reports
where llama.cpp's server departs from the OpenAI conventions the audit relies on, as measured.

Needs: `pip install 'llama-cpp-python[server]' gguf torch transformers`. llama.cpp's converter is
not part of the wheel: give `--llama-src DIR` (a llama.cpp checkout, or the vendor/llama.cpp
directory of the llama-cpp-python sdist), or the script fetches the sdist of the installed
version with `pip download` into the work directory. Nothing of llama.cpp is committed here.

    python3 Scripts/compare_llamacpp.py --shallot .build/release/shallot --work /tmp/shallot-llamacpp
"""

import argparse
import glob
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request

GPT2_DIR_DEFAULT = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "gpt2")


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, check=True, **kw)


# ---------------------------------------------------------------- model and conversion

def train_model(args, work):
    """A small GPT-2 (2 layers, width 128) on synthetic mail with canaries, GPT-2's vocabulary."""
    S = args.shallot
    data = os.path.join(work, "ft.jsonl")
    model = os.path.join(work, "model")
    if os.path.exists(os.path.join(model, "model.safetensors")):
        return model, os.path.join(work, "members.jsonl"), os.path.join(work, "nonmembers.jsonl"), data + ".canaries.json"
    run([S, "corpus", "synth", "--subjects", str(args.subjects), "--records", str(args.records), "--seed", "3",
         "--canary-repeats", "1,10", "--canaries-per-repeat", "3", "--out", data])
    run([S, "corpus", "split", data, "--fraction", "0.8", "--seed", "1",
         "--out-a", os.path.join(work, "members.jsonl"), "--out-b", os.path.join(work, "nonmembers.jsonl")])
    run([S, "train", "--data", os.path.join(work, "members.jsonl"), "--tokenizer", args.gpt2, "--out", model,
         "--layers", "2", "--heads", "4", "--dim", "128", "--context", "128", "--batch", "8",
         "--epochs", str(args.epochs), "--lr", "4e-3", "--dropout", "0", "--json"], stdout=subprocess.DEVNULL)
    return model, os.path.join(work, "members.jsonl"), os.path.join(work, "nonmembers.jsonl"), data + ".canaries.json"


def llama_source(args, work):
    """Directory holding llama.cpp's convert_hf_to_gguf.py (given, or from the installed version's sdist)."""
    if args.llama_src:
        if not os.path.exists(os.path.join(args.llama_src, "convert_hf_to_gguf.py")):
            sys.exit(f"{args.llama_src}: no convert_hf_to_gguf.py there")
        return args.llama_src
    import llama_cpp
    ver = llama_cpp.__version__
    found = glob.glob(os.path.join(work, "sdist", f"llama_cpp_python-{ver}", "vendor", "llama.cpp"))
    if found:
        return found[0]
    os.makedirs(os.path.join(work, "sdist"), exist_ok=True)
    # --no-binary for this package only (":all:" would also build its build tools from source)
    run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", "llama-cpp-python",
         f"llama-cpp-python=={ver}", "-d", os.path.join(work, "sdist")])
    tars = glob.glob(os.path.join(work, "sdist", f"llama_cpp_python-{ver}.tar.gz"))
    if not tars:
        sys.exit("pip download gave no llama-cpp-python sdist; give --llama-src")
    with tarfile.open(tars[0]) as t:
        t.extractall(os.path.join(work, "sdist"), filter="data")
    return os.path.join(work, "sdist", f"llama_cpp_python-{ver}", "vendor", "llama.cpp")


def convert(args, model, work, src):
    out = os.path.join(work, "model-f32.gguf")
    if os.path.exists(out) and os.path.getmtime(out) > os.path.getmtime(os.path.join(model, "model.safetensors")):
        return out, json.load(open(out + ".convert.json"))
    p = subprocess.run([sys.executable, os.path.join(src, "convert_hf_to_gguf.py"), model, "--outtype", "f32", "--outfile", out],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"convert_hf_to_gguf.py failed:\n{p.stderr[-3000:]}")
    # What the converter recorded (read back with llama.cpp's own gguf-py)
    sys.path.insert(1, os.path.join(src, "gguf-py"))
    import gguf as gguf_py
    r = gguf_py.GGUFReader(out)
    info = {}
    for k in ["tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.bos_token_id",
              "tokenizer.ggml.eos_token_id", "gpt2.context_length", "general.file_type"]:
        f = r.fields.get(k)
        info[k] = None if f is None else f.contents()
    json.dump(info, open(out + ".convert.json", "w"))
    return out, info


# ---------------------------------------------------------------- the server

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(url, body=None, timeout=600):
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"null")
        except Exception:
            return e.code, None


def start_server(args, gguf, n_ctx, name, work):
    port = args.port or free_port()
    logf = open(os.path.join(work, "llama-server.log"), "w")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--model_alias", name, "--n_ctx", str(n_ctx),
           "--n_threads", str(args.threads), "--n_threads_batch", str(args.threads), "--logits_all", "true",
           "--type_k", "0", "--type_v", "0",          # F32 KV cache (GGML_TYPE_F32; the default is F16)
           "--host", "127.0.0.1", "--port", str(port)]
    log("$ " + " ".join(cmd))
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(240):
        if proc.poll() is not None:
            sys.exit(f"llama_cpp.server exited ({proc.returncode}); see {work}/llama-server.log")
        try:
            st, _ = http(base + "/v1/models", timeout=5)
            if st == 200:
                return proc, base
        except Exception:
            pass
        time.sleep(0.5)
    proc.terminate()
    sys.exit("llama_cpp.server did not answer within 120 s")


def stop_server(proc):
    if proc and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


# ---------------------------------------------------------------- what the server does, measured

def read_jsonl(path):
    return [json.loads(l) for l in open(path) if l.strip()]


def shallot_ids(args, model, texts):
    p = subprocess.run([args.shallot, "tokenizer", "encode", "--tokenizer", model, "--jsonl"],
                       input="".join(json.dumps({"text": t}) + "\n" for t in texts), capture_output=True, text=True, check=True)
    return [json.loads(l)["ids"] for l in p.stdout.splitlines() if l.strip()]


def conventions(base, name, model, args, records):
    """Where llama-cpp-python's server departs from what the audit assumes (each measured here)."""
    out = {}
    ids = shallot_ids(args, model, ["Hello, this is a short test of the server."])[0]
    st, _ = http(base + "/v1/completions", {"model": name, "prompt": ids, "max_tokens": 1, "temperature": 0})
    out["token_id_prompts"] = f"HTTP {st}" + (" (refused: the audit sends text)" if st >= 400 else "")
    st, r = http(base + "/v1/completions", {"model": name, "prompt": "Hello, this is a short test of the server.", "max_tokens": 1,
                                            "temperature": 0, "echo": True, "logprobs": 1})
    lp = r["choices"][0]["logprobs"]
    out["echo_first_token_logprob"] = lp["token_logprobs"][0]
    out["echo_entries_for_prompt_tokens"] = f"{len(lp['token_logprobs'])} entries for {r['usage']['prompt_tokens']} prompt tokens + {r['usage']['completion_tokens']} generated"
    st, m = http(base + "/v1/models")
    out["models_entry_has_context_length"] = any(k in json.dumps(m) for k in ("max_model_len", "n_ctx"))
    st, _ = http(base + "/tokenize", {"content": "x"})
    st2, t = http(base + "/extras/tokenize", {"model": name, "input": "Hello"})
    out["tokenize_route"] = f"/tokenize HTTP {st}; /extras/tokenize HTTP {st2}"
    # Tokenisation: the server's ids vs Shallot's, every record.
    texts = [r["text"] for r in records]
    ours = shallot_ids(args, model, texts)
    diff = 0
    for text, o in zip(texts, ours):
        st, t = http(base + "/extras/tokenize", {"model": name, "input": text})
        if t["tokens"] != o:
            diff += 1
    out["records_tokenised_differently"] = f"{diff} of {len(texts)}"
    return out


def echo_logprobs(base, name, text, prefix):
    st, r = http(base + "/v1/completions", {"model": name, "prompt": ("<|endoftext|>" if prefix else "") + text, "max_tokens": 1,
                                            "temperature": 0, "echo": True, "logprobs": 1})
    if st != 200:
        raise RuntimeError(f"HTTP {st}: {r}")
    return r["choices"][0]["logprobs"]["token_logprobs"], r["usage"]


def pearson(a, b):
    n = len(a)
    if n < 2:
        return float("nan")
    ma, mb = sum(a) / n, sum(b) / n
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    if va == 0 or vb == 0:
        return float("nan")
    return sum((x - ma) * (y - mb) for x, y in zip(a, b)) / math.sqrt(va * vb)


def ranks(a):
    order = sorted(range(len(a)), key=lambda i: a[i])
    r = [0.0] * len(a)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and a[order[j + 1]] == a[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r


def spearman(a, b):
    return pearson(ranks(a), ranks(b))


def record_scores(args, base, name, model, records, n_ctx):
    """Per-record log-probabilities: server (as is / after <|endoftext|>) vs `shallot score` vs PyTorch."""
    path = os.path.join(args.work, "score-records.jsonl")
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps({"id": r["id"], "text": r["text"]}) + "\n")
    p = subprocess.run([args.shallot, "score", "--model", model, "--data", path, "--tokens", "--json"], capture_output=True, text=True, check=True)
    local = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    import torch
    from transformers import GPT2LMHeadModel
    hf = GPT2LMHeadModel.from_pretrained(model, torch_dtype=torch.float32).eval()
    eot = hf.config.eos_token_id
    ids_all = shallot_ids(args, model, [r["text"] for r in records])
    rows = {"shallot_loss": [], "server_loss_as_is": [], "server_loss_eot": [], "torch_loss_eot": []}
    d_eot_vs_torch = 0.0
    d_eot_vs_shallot = 0.0
    d_asis_vs_shallot = 0.0
    used = 0
    from transformers import AutoTokenizer
    hf_tok = AutoTokenizer.from_pretrained(model)
    cut = 0
    for r, loc, ids in zip(records, local, ids_all):
        if len(ids) < 3:
            continue
        # the server needs room for <|endoftext|> before and one generated token after: the first n_ctx - 2 tokens
        if len(ids) > n_ctx - 2:
            ids, cut = ids[:n_ctx - 2], cut + 1
        text = hf_tok.decode(ids)
        used += 1
        lp_local = loc["logprobs"][:len(ids) - 1]      # causal: the truncated record's values are a prefix of the full one's
        a, ua = echo_logprobs(base, name, text, prefix=False)
        b, ub = echo_logprobs(base, name, text, prefix=True)
        if ua["prompt_tokens"] != len(ids) or ub["prompt_tokens"] != len(ids) + 1:
            raise RuntimeError(f"{r['id']}: the server tokenised the prompt into {ua['prompt_tokens']} tokens, Shallot into {len(ids)}")
        a, b = a[1:len(ids)], b[1:len(ids)]          # the prompt's own positions 1..n-1
        with torch.no_grad():
            x = torch.tensor([[eot] + ids])
            logp = torch.log_softmax(hf(x).logits[0].double(), -1)
            t = [logp[i, x[0, i + 1]].item() for i in range(len(ids))][1:]   # log p(x_t | eot, x_<t), t >= 1
        d_eot_vs_torch = max(d_eot_vs_torch, max(abs(u - v) for u, v in zip(b, t)))
        d_eot_vs_shallot = max(d_eot_vs_shallot, max(abs(u - v) for u, v in zip(b, lp_local)))
        d_asis_vs_shallot = max(d_asis_vs_shallot, max(abs(u - v) for u, v in zip(a, lp_local)))
        rows["shallot_loss"].append(-sum(lp_local) / len(lp_local))
        rows["server_loss_as_is"].append(-sum(a) / len(a))
        rows["server_loss_eot"].append(-sum(b) / len(b))
        rows["torch_loss_eot"].append(-sum(t) / len(t))
    s = rows["shallot_loss"]
    return {
        "records": used, "records_cut_to_n_ctx_minus_2": cut,
        "server_after_eot_vs_torch_same_tokens": {"max_abs_diff_logprob": d_eot_vs_torch,
                                                  "pearson_loss": pearson(rows["server_loss_eot"], rows["torch_loss_eot"])},
        "server_after_eot_vs_shallot_score": {"max_abs_diff_logprob": d_eot_vs_shallot,
                                              "max_abs_diff_loss": max(abs(u - v) for u, v in zip(rows["server_loss_eot"], s)),
                                              "pearson_loss": pearson(rows["server_loss_eot"], s), "spearman_loss": spearman(rows["server_loss_eot"], s)},
        "server_as_is_vs_shallot_score": {"max_abs_diff_logprob": d_asis_vs_shallot,
                                          "pearson_loss": pearson(rows["server_loss_as_is"], s), "spearman_loss": spearman(rows["server_loss_as_is"], s)},
    }


# ---------------------------------------------------------------- the two audits

def audit(args, extra, out, request_log=None):
    """Runs one audit, timing each stage (stage events arrive as JSON lines on stdout)."""
    if os.path.exists(out):
        shutil.rmtree(out)
    cmd = [args.shallot, "audit", "--data", args.audit_members, "--nonmembers", args.audit_nonmembers,
           "--attacks", "extraction,exposure,mia", "--k", args.k, "--exposure-values", str(args.exposure_values),
           "--candidates", str(args.candidates), "--limit", str(args.limit), "--bootstrap", "200", "--seed", "1",
           "--salt-file", args.salt, "--json", "--out", out] + extra
    log("$ " + " ".join(cmd))
    t0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stages = []
    for line in p.stdout:
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "stage":
            n = sum(1 for _ in open(request_log)) if request_log and os.path.exists(request_log) else None
            stages.append({"stage": ev["stage"], "t": time.time() - t0, "log_lines": n})
    err = p.stderr.read()
    p.wait()
    wall = time.time() - t0
    if p.returncode != 0:
        sys.exit(f"audit failed ({p.returncode}):\n{err[-3000:]}")
    n = sum(1 for _ in open(request_log)) if request_log and os.path.exists(request_log) else None
    stages.append({"stage": "end", "t": wall, "log_lines": n})
    return json.load(open(os.path.join(out, "audit.json"))), stages, wall


def stage_times(stages, request_log=None):
    """Seconds per stage, and (endpoint) the completions requests made in it."""
    kinds = [r.get("kind") for r in read_jsonl(request_log)] if request_log else None
    def completions(a, b):
        if kinds is None or a["log_lines"] is None:
            return None
        return sum(1 for k in kinds[a["log_lines"]:b["log_lines"]] if k == "completions")
    return {a["stage"]: {"seconds": b["t"] - a["t"], "log_lines": completions(a, b)} for a, b in zip(stages, stages[1:])}


def compare(loc, ep):
    lv = {v["id"]: v for v in loc["values"]}
    ev = {v["id"]: v for v in ep["values"]}
    assert set(lv) == set(ev), "the two audits saw different values"
    a = {i for i, v in lv.items() if v.get("extracted")}
    b = {i for i, v in ev.items() if v.get("extracted")}
    same_k = sum(1 for i in lv if lv[i].get("smallest_extracting_k") == ev[i].get("smallest_extracting_k"))
    ll = [(lv[i]["log_likelihood_per_token"], ev[i]["log_likelihood_per_token"]) for i in lv
          if lv[i].get("log_likelihood_per_token") is not None and ev[i].get("log_likelihood_per_token") is not None]
    ex = [(lv[i]["exposure"]["log_likelihood"], ev[i]["exposure"]["log_likelihood"]) for i in lv
          if lv[i].get("exposure") and ev[i].get("exposure")]
    exp_bits = [(lv[i]["exposure"]["exposure"], ev[i]["exposure"]["exposure"]) for i in lv if lv[i].get("exposure") and ev[i].get("exposure")]
    res = {
        "values": len(lv),
        "extracted_in_process": len(a), "extracted_endpoint": len(b), "extracted_both": len(a & b),
        "only_in_process": sorted(lv[i]["masked"] for i in a - b), "only_endpoint": sorted(ev[i]["masked"] for i in b - a),
        "jaccard": len(a & b) / len(a | b) if a | b else 1.0,
        "same_smallest_extracting_k": f"{same_k} of {len(lv)}",
        "vulnerable_subjects": [loc["summary"]["vulnerable_subjects"], ep["summary"]["vulnerable_subjects"]],
        "value_log_likelihood": {"n": len(ll), "pearson": pearson([x for x, _ in ll], [y for _, y in ll]),
                                 "spearman": spearman([x for x, _ in ll], [y for _, y in ll]),
                                 "max_abs_diff": max((abs(x - y) for x, y in ll), default=None)},
        "exposure_log_likelihood": {"n": len(ex), "pearson": pearson([x for x, _ in ex], [y for _, y in ex]),
                                    "max_abs_diff": max((abs(x - y) for x, y in ex), default=None)},
        "exposure_bits_equal": f"{sum(1 for x, y in exp_bits if abs(x - y) < 1e-9)} of {len(exp_bits)}",
        "mia_auc": {k: [loc["membership_inference"][k]["auc"], ep.get("membership_inference", {}).get(k, {}).get("auc")]
                    for k in sorted(loc.get("membership_inference") or {})},
        "unavailable_endpoint": ep.get("unavailable"),
        "endpoint_model_info": {k: v for k, v in ep["model"].items() if k.startswith("endpoint") or k in ("context_length", "served_model")},
    }
    return res


def request_costs(path):
    rows = read_jsonl(path)
    out = {}
    for r in rows:
        k = r.get("kind")
        c = out.setdefault(k, {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0, "retries": 0})
        c["requests"] += 1
        c["prompt_tokens"] += r.get("prompt_tokens", 0)
        c["completion_tokens"] += r.get("completion_tokens", 0)
        if r.get("attempt", 1) > 1:
            c["retries"] += 1
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shallot", default=".build/release/shallot")
    ap.add_argument("--work", default="/tmp/shallot-llamacpp")
    ap.add_argument("--model", help="a Shallot model directory with GPT-2's vocabulary (default: train one)")
    ap.add_argument("--members"); ap.add_argument("--nonmembers")
    ap.add_argument("--gpt2", default=GPT2_DIR_DEFAULT, help="GPT-2 vocab.json + merges.txt")
    ap.add_argument("--subjects", type=int, default=60); ap.add_argument("--records", type=int, default=320)
    ap.add_argument("--epochs", type=float, default=5)
    ap.add_argument("--llama-src", help="llama.cpp source (with convert_hf_to_gguf.py)")
    ap.add_argument("--port", type=int); ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--k", default="10,30"); ap.add_argument("--concurrency", type=int, default=2)
    # Small by default: llama-cpp-python formats each echoed token's log-probabilities in Python
    # (a sort of the whole vocabulary per token), ~0.1 s a token for GPT-2's 50,257 on this machine.
    ap.add_argument("--audit-records", type=int, default=12, help="training records audited (a seeded sample)")
    ap.add_argument("--audit-nonmembers-n", type=int, default=8, help="held-out records for membership inference")
    ap.add_argument("--limit", type=int, default=20, help="audit the N most frequent values")
    ap.add_argument("--exposure-values", type=int, default=3); ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--score-records", type=int, default=3, help="member records (and half as many non-members) scored straight from the server")
    ap.add_argument("--server-tokenizer", action="store_true", help="tokenize through the server's /extras/tokenize (default: the model's files)")
    ap.add_argument("--name", default="shallot-gpt2")
    ap.add_argument("--json-out", help="write the results here (default WORK/compare.json)")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    args.shallot = os.path.abspath(args.shallot)

    if args.model:
        model = args.model
        if not (args.members and args.nonmembers):
            sys.exit("--model needs --members and --nonmembers (its training records and held-out ones)")
    else:
        model, args.members, args.nonmembers, _ = train_model(args, args.work)
    cfg = json.load(open(os.path.join(model, "config.json")))
    n_ctx = cfg["n_positions"]
    src = llama_source(args, args.work)
    gguf, conv = convert(args, model, args.work, src)
    log(f"GGUF: {gguf} ({os.path.getsize(gguf) / 1e6:.1f} MB), pre-tokenizer {conv.get('tokenizer.ggml.pre')}")
    args.salt = os.path.join(args.work, "salt")
    if not os.path.exists(args.salt):
        with open(args.salt, "wb") as f:
            f.write(os.urandom(32))
        os.chmod(args.salt, 0o600)

    import llama_cpp
    results = {"llama_cpp_python": llama_cpp.__version__, "model": {"dir": model, "layers": cfg["n_layer"], "width": cfg["n_embd"],
               "vocab": cfg["vocab_size"], "context": n_ctx}, "gguf": {"path": gguf, "bytes": os.path.getsize(gguf), **conv},
               "machine": {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()}}
    members, nonmembers = read_jsonl(args.members), read_jsonl(args.nonmembers)
    # The audited records: a seeded sample of the training records (llama-cpp-python's server
    # formats every echoed token's log-probabilities in Python — slow — so the audit is kept small).
    import random
    rnd = random.Random(1)
    sub_m = sorted(rnd.sample(range(len(members)), min(args.audit_records, len(members))))
    sub_n = sorted(rnd.sample(range(len(nonmembers)), min(args.audit_nonmembers_n, len(nonmembers))))
    args.audit_members = os.path.join(args.work, "audit-members.jsonl")
    args.audit_nonmembers = os.path.join(args.work, "audit-nonmembers.jsonl")
    with open(args.audit_members, "w") as f:
        f.writelines(json.dumps(members[i]) + "\n" for i in sub_m)
    with open(args.audit_nonmembers, "w") as f:
        f.writelines(json.dumps(nonmembers[i]) + "\n" for i in sub_n)
    results["audit_inputs"] = {"members": len(sub_m), "non_members": len(sub_n), "of_members": len(members), "of_non_members": len(nonmembers),
                               "k": args.k, "limit": args.limit, "exposure_values": args.exposure_values, "candidates": args.candidates}
    # In-process first (the server is not running: each audit has the cores to itself).
    loc, loc_stages, loc_wall = audit(args, ["--model", model], os.path.join(args.work, "audit-local"))
    proc, base = start_server(args, gguf, n_ctx, args.name, args.work)
    try:
        results["server_conventions"] = conventions(base, args.name, model, args, [members[i] for i in sub_m] + [nonmembers[i] for i in sub_n])
        results["per_record_logprobs"] = record_scores(args, base, args.name, model, [members[i] for i in sub_m[:args.score_records]] +
                                                       [nonmembers[i] for i in sub_n[:max(1, args.score_records // 2)]], n_ctx)
        rlog = os.path.join(args.work, "audit-endpoint-requests.jsonl")
        if os.path.exists(rlog):
            os.remove(rlog)
        extra = ["--endpoint", base + "/v1", "--served-model", args.name, "--context-length", str(n_ctx),
                 "--concurrency", str(args.concurrency), "--request-log", rlog]
        if not args.server_tokenizer:
            extra += ["--tokenizer", model]
        ep, ep_stages, ep_wall = audit(args, extra, os.path.join(args.work, "audit-endpoint"), request_log=rlog)
        # Last, as it may end the server: max_tokens 0 (vLLM: "generate nothing").
        try:
            st, r = http(base + "/v1/completions", {"model": args.name, "prompt": "Hello", "max_tokens": 0, "temperature": 0}, timeout=300)
            results["server_conventions"]["max_tokens_0"] = f"HTTP {st}, {r['usage']['completion_tokens']} tokens generated" if st == 200 else f"HTTP {st}"
        except Exception as e:
            results["server_conventions"]["max_tokens_0"] = f"no answer ({type(e).__name__})"
        time.sleep(1)
        if proc.poll() is not None:
            results["server_conventions"]["max_tokens_0"] += f"; the server process exited ({proc.returncode})"
    finally:
        stop_server(proc)
    results["agreement"] = compare(loc, ep)
    lt, et = stage_times(loc_stages), stage_times(ep_stages, rlog)
    results["time"] = {"in_process_s": loc_wall, "endpoint_s": ep_wall, "stages": {
        s: {"in_process_s": lt.get(s, {}).get("seconds"), "endpoint_s": et[s]["seconds"], "requests": et[s]["log_lines"],
            "in_process_per_s": (et[s]["log_lines"] / lt[s]["seconds"]) if s in lt and et[s]["log_lines"] else None,
            "endpoint_per_s": (et[s]["log_lines"] / et[s]["seconds"]) if et[s]["log_lines"] else None} for s in et}}
    results["requests"] = request_costs(rlog)
    out = args.json_out or os.path.join(args.work, "compare.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results, indent=2))
    log(f"results → {out}")


if __name__ == "__main__":
    main()
