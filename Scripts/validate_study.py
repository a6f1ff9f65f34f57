#!/usr/bin/env python3
"""Does the onion study see a planted onion effect, and only that? (docs/methods.md, "Validation")

Runs `shallot study` R times on corpora with a planted onion mechanism (`--namesakes G`: groups of
namesakes whose heavy member's phone number shadows the light members' behind the same signature
prefix) and R times on their null twins (`--namesake-null`: the same people and mail, unique
names), with a fresh corpus per run (`--seed`), deletion targets chosen by the study itself (blind
to the plant), and prints the rate of each verdict with Clopper–Pearson 95% intervals:

    planted → `exceeds` in ≥ 80% of runs;  null → `exceeds` in ≤ 5% (and `fewer` in ≤ 5%).

`--groups 2,4,8` is the dial of the planted effect's size (the share of subjects the plant can make
newly vulnerable grows with G), so the detection rate is shown near Δ, not only far above it.
Resumable: a run whose study.json exists is read, not run again. Only the standard library.

    python3 Scripts/validate_study.py --shallot .build/release/shallot --runs 10 --groups 4 --out runs/validation
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time


def betainc(a, b, x):
    """Regularised incomplete beta I_x(a, b) (continued fraction, Numerical Recipes' betacf)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)
    if x > (a + 1) / (a + b + 2):
        return 1 - betainc(b, a, 1 - x)
    tiny, qab, qap, qam = 1e-300, a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)), -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1 + aa * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1) < 1e-14:
            break
    return math.exp(lbeta) * h / a


def clopper_pearson(k, n, level=0.95):
    """Exact binomial interval by bisection on the beta CDF."""
    if n == 0:
        return (0.0, 1.0)
    alpha = 1 - level

    def solve(f):
        lo, hi = 0.0, 1.0
        for _ in range(100):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if f(mid) else (lo, mid)
        return (lo + hi) / 2
    low = 0.0 if k == 0 else solve(lambda p: betainc(k, n - k + 1, p) < alpha / 2)
    high = 1.0 if k == n else solve(lambda p: betainc(k + 1, n - k, p) < 1 - alpha / 2)
    return (low, high)


def run_study(args, out, seed, groups, null):
    path = os.path.join(out, "study.json")
    if os.path.exists(path):
        return json.load(open(path)), 0.0
    cmd = [args.shallot, "study", "--preset", args.preset, "--seed", str(seed), "--namesakes", str(groups),
           "--salt-file", os.path.join(args.out, "salt"), "--reveal-pii", "--jobs", str(args.jobs), "--out", out]
    if null:
        cmd.append("--namesake-null")
    cmd += args.extra
    t0 = time.time()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit(f"study failed ({' '.join(cmd)}):\n{r.stderr[-3000:]}")
    return json.load(open(path)), time.time() - t0


def plant_size(j, groups):
    """Per run: heavy members the study deleted, and light members newly vulnerable per arm (mean
    over evaluation seeds) — read from OUT/namesakes.json (the study wrote it and never read it)."""
    heavy = {g["heavy"]["subject"] for g in groups}
    light = {m["subject"] for g in groups for m in g["light"]}
    rd = (j.get("rounds") or [None])[0]
    if rd is None:
        return None
    arms = {}
    for arm, a in rd["arms"].items():
        seeds = a["seeds"]
        arms[arm] = sum(len(light & set(s["newly_vulnerable"])) for s in seeds) / max(1, len(seeds))
    return {"heavy_deleted": len(heavy & set(rd["deletion_targets"])), "heavy": len(heavy), "light_newly": arms}


def summarise(runs, plants):
    """Verdict counts of round 1, and the plant's realised size (light namesakes newly vulnerable)."""
    out = {"runs": len(runs), "outcomes": {}}
    sizes = [p for p in plants if p]
    if sizes:
        out["heavy_deleted_mean"] = sum(p["heavy_deleted"] for p in sizes) / len(sizes)
        out["light_newly_mean"] = {a: sum(p["light_newly"].get(a, 0) for p in sizes) / len(sizes) for a in ("deletion", "random_removal", "reseed")}
    for j in runs:
        rounds = j.get("rounds") or []
        o = rounds[0]["verdict"]["outcome"] if rounds else "stopped"
        out["outcomes"][o] = out["outcomes"].get(o, 0) + 1
    for o in ("exceeds", "fewer", "does_not_exceed", "inconclusive", "stopped"):
        k = out["outcomes"].get(o, 0)
        out[o] = {"count": k, "rate": k / max(1, len(runs)), "ci_95": clopper_pearson(k, len(runs))}
    diffs = [c["difference"] for j in runs for c in ((j.get("rounds") or [{}])[0].get("verdict", {}).get("comparisons", []))
             if c["control"] == "random_removal"]
    out["mean_difference_vs_random"] = sum(diffs) / len(diffs) if diffs else None
    mdes = [j["rounds"][0]["verdict"].get("minimum_detectable_effect") for j in runs if j.get("rounds")]
    mdes = [m for m in mdes if m is not None]
    out["median_mde"] = sorted(mdes)[len(mdes) // 2] if mdes else None
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shallot", default=".build/release/shallot")
    ap.add_argument("--preset", default="validation")
    ap.add_argument("--runs", type=int, default=10, help="runs per corpus kind and group count")
    ap.add_argument("--groups", default="4", help="comma-separated namesake group counts (the dial)")
    ap.add_argument("--first-seed", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="runs/validation")
    ap.add_argument("extra", nargs="*", help="after --: more `shallot study` options")
    args = ap.parse_args()
    os.makedirs(args.out, mode=0o700, exist_ok=True)
    salt = os.path.join(args.out, "salt")
    if not os.path.exists(salt):
        fd = os.open(salt, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, os.urandom(32))
        os.close(fd)
    report = {"preset": args.preset, "runs": args.runs, "groups": {}}
    for g in [int(x) for x in args.groups.split(",")]:
        kinds = {}
        for kind in ("planted", "null"):
            runs, plants = [], []
            for r in range(args.runs):
                seed = args.first_seed + r
                out = os.path.join(args.out, f"g{g}", f"{kind}-{seed}")
                j, secs = run_study(args, out, seed, g, kind == "null")
                sidecar = os.path.join(out, "namesakes.json")
                plants.append(plant_size(j, json.load(open(sidecar))) if os.path.exists(sidecar) else None)
                o = (j.get("rounds") or [{"verdict": {"outcome": "stopped"}}])[0]["verdict"]["outcome"]
                print(f"G={g} {kind:7s} seed {seed}: {o}" + (f" ({secs:.0f} s)" if secs else " (read)"), flush=True)
                runs.append(j)
            kinds[kind] = summarise(runs, plants)
        report["groups"][str(g)] = kinds
    path = os.path.join(args.out, "validation.json")
    with open(path + ".tmp", "w") as f:
        json.dump(report, f, indent=2)
    os.replace(path + ".tmp", path)
    print("\n| G | corpus | runs | exceeds | fewer | does_not_exceed | inconclusive | mean diff vs random | median MDE | heavy deleted | light newly (del / rand / reseed) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for g, kinds in report["groups"].items():
        for kind, s in kinds.items():
            cell = lambda o: f"{s[o]['count']}/{s['runs']} [{s[o]['ci_95'][0]:.2f}, {s[o]['ci_95'][1]:.2f}]"
            md = s["mean_difference_vs_random"]
            mde = s["median_mde"]
            print(f"| {g} | {kind} | {s['runs']} | {cell('exceeds')} | {cell('fewer')} | {cell('does_not_exceed')} | {cell('inconclusive')} | "
                  f"{'n/a' if md is None else f'{md:+.3f}'} | {'n/a' if mde is None else f'{mde:.3f}'} | "
                  f"{s.get('heavy_deleted_mean', float('nan')):.1f} | "
                  + " / ".join(f"{s.get('light_newly_mean', {}).get(a, float('nan')):.2f}" for a in ("deletion", "random_removal", "reseed")) + " |")
    print(f"\n{path}")


if __name__ == "__main__":
    main()
