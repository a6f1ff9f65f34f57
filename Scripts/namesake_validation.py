#!/usr/bin/env python3
"""Does the namesake plant (`corpus synth --namesakes`, docs/namesakes.md) make an onion effect
the audit can see, and does its null twin not? The study's steps by hand, for both twins:

  fine-tune a base on the corpus (`train --init BASE ...`), audit it (targeted extraction, k 10
  and 50), delete the heavy members (`unlearn --method retrain --budget filler`: the same run,
  their records replaced by masked placeholders), audit again; count light members vulnerable before
  and after, other subjects newly vulnerable, greedy probes of the light members' signature
  blocks (heavy member's number / own / other), and the heavy members' ranks by the study's
  deletion order (vulnerable first, then score).

    python3 Scripts/namesake_validation.py --shallot .build/release/shallot --base runs/base --out runs/ns \\
        --synth "--population 1 --subjects 120 --records 700 --seed 2 --zipf 0.7 --namesakes 12" \\
        --finetune "--batch 8 --epochs 5 --lr 1.5e-3 --seed 1"

BASE is a model trained on another population, e.g. `corpus synth --population 0 --subjects 160
--records 1000 --seed 1 --zipf 0.7` and `train --vocab-size 2048 --layers 2 --heads 4 --dim 128
--context 128 --batch 8 --epochs 3 --lr 2e-3 --dropout 0 --seed 1`. Prints one JSON line per
twin and condition and writes OUT/results.json. Everything it writes holds raw PII (0600 files).
"""
import argparse, json, os, shlex, subprocess, sys


def run(args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {shlex.join(args)}\n{r.stderr[-2000:]}")
    return r.stdout


def digits(s):
    return "".join(c for c in s if c.isdigit())


def audit(shallot, model, data, out):
    run([shallot, "audit", "--model", model, "--data", data, "--attacks", "extraction", "--reveal-pii", "--out", out])
    a = json.load(open(out + "/audit.json"))
    return {v["value"]: v for v in a["values"]}, {s["subject"]: s for s in a["subjects"]}


def probes(shallot, model, plant, records):
    """Greedy continuation of each light member's signature block (name, title line, company)."""
    kinds = {"heavy": 0, "own": 0, "other": 0}
    for g in plant["groups"]:
        for l in g["light"]:
            prompt = f"{l['name']}\n{g['title']}, {g['department']}\n{g['company']}\n"
            o = json.loads(run([shallot, "generate", "--model", model, "--prompt", prompt, "--greedy", "--max-new", "14", "--json"]).splitlines()[-1])
            cont = digits(o["text"])
            kinds["own" if digits(l["phone"]) in cont else "heavy" if digits(g["heavy"]["phone"]) in cont else "other"] += 1
    return kinds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shallot", default=".build/release/shallot")
    ap.add_argument("--base", required=True, help="base model directory (the fine-tunes' parent)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--synth", required=True, help="corpus synth arguments, with --namesakes G (no --out, no --namesake-null)")
    ap.add_argument("--finetune", required=True, help="train arguments of the fine-tune (no --data, --out, --init)")
    o = ap.parse_args()
    os.makedirs(o.out, exist_ok=True)
    results = {}
    for twin, extra in [("planted", []), ("null", ["--namesake-null"])]:
        data = f"{o.out}/{twin}.jsonl"
        run([o.shallot, "corpus", "synth"] + shlex.split(o.synth) + extra + ["--out", data])
        plant = json.load(open(data + ".namesakes.json"))
        records = [json.loads(l) for l in open(data)]
        heavies = sorted(g["heavy"]["subject"] for g in plant["groups"])
        lights = {l["subject"] for g in plant["groups"] for l in g["light"]}
        kept = f"{o.out}/{twin}-kept.jsonl"   # what the retrained model was trained on, for its audit
        with open(kept, "w") as f:
            for r in records:
                if r["subject"] not in heavies:
                    f.write(json.dumps(r) + "\n")
        before, after = f"{o.out}/{twin}-before", f"{o.out}/{twin}-after"
        run([o.shallot, "train", "--data", data, "--init", o.base, "--out", before] + shlex.split(o.finetune))
        run([o.shallot, "unlearn", "--model", before, "--data", data, "--method", "retrain", "--budget", "filler", "--out", after, "--forget"] + heavies)
        vulnerable = {}
        for cond, model, d in [("before", before, data), ("after", after, kept)]:
            vals, subj = audit(o.shallot, model, d, model + "-audit")
            vulnerable[cond] = {s for s, row in subj.items() if row["vulnerable"]}
            row = {"lights": len(lights), "light_vulnerable": len(vulnerable[cond] & lights),
                   "light_phone_extracted": sum(1 for g in plant["groups"] for l in g["light"] if vals.get(l["phone_normalized"], {}).get("extracted")),
                   "heavy_phone_extracted": sum(1 for g in plant["groups"] if vals.get(g["heavy"]["phone_normalized"], {}).get("extracted")),
                   "vulnerable_subjects": len(vulnerable[cond]), "subjects": len(subj), "probes": probes(o.shallot, model, plant, records)}
            if cond == "before":
                order = sorted(subj.values(), key=lambda s: (not s["vulnerable"], -(s["score"] if s["score"] is not None else -1e9), s["subject"]))
                row["heavy_ranks"] = [i + 1 for i, s in enumerate(order) if s["subject"] in heavies]
            else:
                newly = vulnerable["after"] - vulnerable["before"]
                row["newly_vulnerable_lights"] = len(newly & lights)
                row["newly_vulnerable_others"] = len(newly - lights)
            results[f"{twin}/{cond}"] = row
            print(twin, cond, json.dumps(row), flush=True)
    json.dump(results, open(f"{o.out}/results.json", "w"), indent=2)


if __name__ == "__main__":
    main()
