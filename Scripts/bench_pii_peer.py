#!/usr/bin/env python3
"""Side-by-side PII scan benchmark on the same text, single thread: `shallot bench pii` (e-mail +
phone detectors) vs Presidio's e-mail and phone recognisers and a plain Python `re` scan.

Presidio's AnalyzerEngine needs a spaCy model, which is not installable offline here; its
EmailRecognizer (pattern + TLD validation) and PhoneRecognizer (phonenumbers' matcher) are
called directly, which is the recognisers' own work without the NLP pipeline (so this favours
Presidio).

    pip install presidio-analyzer
    python3 Scripts/make_bench_mail.py /tmp/mail.txt --mb 5
    python3 Scripts/bench_pii_peer.py --text /tmp/mail.txt --shallot .build/release/shallot
"""
import argparse, json, re, subprocess, time

ap = argparse.ArgumentParser()
ap.add_argument("--text", required=True)
ap.add_argument("--shallot", default=".build/release/shallot")
ap.add_argument("--presidio-mb", type=float, default=1.0, help="Presidio is slow: time it on this many MB and scale")
a = ap.parse_args()
raw = open(a.text, "rb").read()
text = raw.decode("utf-8")
mb = len(raw) / 1e6

email_re = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
phone_re = re.compile(r"(?:\+?1[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]\d{4}|\+\d{1,3}(?:[ .-]\d{2,8}){2,5}")
t = time.perf_counter()
n_re = sum(1 for _ in email_re.finditer(text)) + sum(1 for _ in phone_re.finditer(text))
s_re = time.perf_counter() - t

from presidio_analyzer.predefined_recognizers import EmailRecognizer, PhoneRecognizer
er, pr = EmailRecognizer(), PhoneRecognizer()
part = text[: int(a.presidio_mb * 1e6)]
part = part[: part.rfind("\n\n") + 1]
t = time.perf_counter()
n_pres = len(er.analyze(part, ["EMAIL_ADDRESS"], None)) + len(pr.analyze(part, ["PHONE_NUMBER"], None))
s_pres = time.perf_counter() - t
pres_rate = len(part.encode()) / 1e6 / s_pres

me = json.loads(subprocess.run([a.shallot, "bench", "pii", "--file", a.text, "--json"], capture_output=True, text=True, check=True).stdout)
r1, r2 = me["email_phone_mb_per_s"], me["email_phone_mb_per_s_all_threads"]
print("| scan (e-mail + phone) | MB/s | Shallot 1 thread vs |")
print("|---|---|---|")
print(f"| Shallot, 1 thread | {r1:.1f} | |")
print(f"| Shallot, {me['threads']} threads | {r2:.1f} | |")
print(f"| Python `re` | {mb / s_re:.1f} | {r1 / (mb / s_re):.1f}× |")
print(f"| Presidio recognisers | {pres_rate:.2f} | {r1 / pres_rate:.0f}× |")
print(f"| Shallot, all 8 types, 1 thread | {me['all_types_mb_per_s']:.1f} | |")
print(f"\n{mb:.1f} MB; entities found: Shallot {me['email_phone_entities']}, re {n_re}, Presidio {n_pres} on {len(part.encode()) / 1e6:.1f} MB")
