#!/usr/bin/env python3
"""Builds Tests/PIITests/Fixtures/pii_world_dev.jsonl and pii_world_heldout.jsonl: labelled
snippets of PII in the formats real data uses around the world, with hard negatives.

Values come from the public specifications, never from the detectors: card numbers from issuer
ranges (IIN prefixes and lengths) completed with a Luhn digit; SSNs under the SSA's rules; phone
numbers of ~45 regions generated and *labelled* by the `phonenumbers` package (libphonenumber's
metadata; a number is a positive only when it says the number is valid for its region) and
written in its national and international formats plus the variants people type (dots, dashes,
00 prefix, (0) trunk, glued to a word, extensions); IBANs with ISO 7064 check digits; IPv4 and
every RFC 5952 / RFC 4291 form of IPv6; URLs with real TLDs (bare domains, paths, ports, IDN
xn-- hosts) and e-mail addresses on IDN domains. Hard negatives: order, invoice and ticket
numbers, dates and times, version strings, hex ids and hashes, MAC addresses, tracking numbers,
ISBNs, amounts, file names, code (`self.name`, `std::vector`), `www.microsoft`, Luhn-failing
cards and SSA-invalid SSNs.

Every template belongs to one split only (even index → development, odd → held-out), decided
before any detector was tuned, so the held-out set also measures phrasings never tuned on.
Offsets are Unicode scalar offsets, end exclusive.

    pip install phonenumbers
    python3 Scripts/make_pii_eval_world.py
"""
import json, os, random
import phonenumbers as pn
from phonenumbers import PhoneNumberFormat as F, PhoneNumberType as T

R = random.Random(20261129)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "PIITests", "Fixtures")

def luhn_complete(body):
    s = 0
    for k, ch in enumerate(reversed(body)):
        d = int(ch)
        if k % 2 == 0:
            d *= 2
            if d > 9: d -= 9
        s += d
    return body + str((10 - s % 10) % 10)

def luhn_ok(num):
    s = 0
    for k, ch in enumerate(reversed(num)):
        d = int(ch)
        if k % 2 == 1:
            d *= 2
            if d > 9: d -= 9
        s += d
    return s % 10 == 0

# issuer: (IIN prefixes, lengths)  — public issuer ranges
ISSUERS = {
    "Visa": (["4"], [13, 16, 19]), "Mastercard": (["51", "52", "53", "54", "55", "2221", "2500", "2720"], [16]),
    "Amex": (["34", "37"], [15]), "Discover": (["6011", "644", "649", "65"], [16, 19]),
    "JCB": (["3528", "3530", "3566", "3589"], [16, 17, 18, 19]), "Diners": (["300", "305", "36", "38", "39"], [14, 16]),
    "UnionPay": (["62", "6221", "6282", "81"], [16, 17, 18, 19]), "Maestro": (["5018", "5020", "5038", "6304", "6759", "6761", "6763"], [12, 13, 16, 19]),
    "Mir": (["2200", "2204"], [16]), "RuPay": (["60", "6521", "508"], [16]), "Troy": (["9792"], [16]),
}

def card():
    name = R.choice(list(ISSUERS))
    pre, lens = ISSUERS[name]
    p, n = R.choice(pre), R.choice(lens)
    num = luhn_complete(p + "".join(R.choice("0123456789") for _ in range(n - len(p) - 1)))
    return name, num

def card_format(num):
    n = len(num)
    style = R.choice(["bare", "bare", "space", "dash"])
    if style == "bare": return num
    sep = " " if style == "space" else "-"
    if n == 15: groups = [4, 6, 5]
    elif n == 14: groups = R.choice([[4, 6, 4], [4, 4, 4, 2]])
    else: groups = [4] * (n // 4) + ([n % 4] if n % 4 else [])
    out, k = [], 0
    for g in groups: out.append(num[k:k + g]); k += g
    return sep.join(out)

def ssn_valid():
    while True:
        area = R.randint(1, 899)
        if area != 666: break
    return f"{area:03d}", f"{R.randint(1, 99):02d}", f"{R.randint(1, 9999):04d}"

def ssn_format(a, g, s):
    return R.choice([f"{a}-{g}-{s}", f"{a}-{g}-{s}", f"{a} {g} {s}", f"{a}.{g}.{s}", f"{a}{g}{s}", f"{a}-{g}{s}", f"{a}{g}-{s}", f"{a}-{g} {s}"])

REGIONS = ["GB", "DE", "FR", "IT", "ES", "NL", "BE", "CH", "AT", "SE", "NO", "DK", "FI", "PL", "CZ", "PT", "IE", "GR", "RO", "HU", "UA", "RU",
           "TR", "IL", "AE", "SA", "EG", "QA", "JO", "IN", "PK", "CN", "JP", "KR", "SG", "HK", "TW", "TH", "VN", "ID", "PH", "MY", "AU", "NZ",
           "BR", "MX", "AR", "CO", "CL", "PE", "ZA", "NG", "KE", "US", "CA"]

def phone_number(region):
    typ = R.choice([T.MOBILE, T.MOBILE, T.FIXED_LINE, T.FIXED_LINE])
    ex = pn.example_number_for_type(region, typ) or pn.example_number(region)
    digits = str(ex.national_number)
    for _ in range(200):
        cand = list(digits)
        for k in range(max(2, len(cand) - 6), len(cand)): cand[k] = R.choice("0123456789")
        num = pn.parse("+" + str(ex.country_code) + "".join(cand))
        if pn.is_valid_number(num) and pn.region_code_for_number(num) == region: return num
    return ex

def phone_format(num, region):
    """The written form and whether it is still a phone number by construction."""
    intl = pn.format_number(num, F.INTERNATIONAL)
    nat = pn.format_number(num, F.NATIONAL)
    style = R.choice(["intl", "intl", "nat", "nat", "nat", "e164", "00", "dots", "dashes", "trunk0"])
    if style == "intl": return intl
    if style == "nat": return nat
    if style == "e164": return pn.format_number(num, F.E164)
    if style == "00": return "00" + intl[1:]
    if style == "dots": return intl.replace(" ", ".").replace("-", ".").replace("+", "+", 1).replace(".", " ", 1)
    if style == "dashes": return intl.replace(" ", "-").replace("-", " ", 1)
    if style == "trunk0":
        meta = pn.PhoneMetadata.metadata_for_region(region)
        if meta.national_prefix == "0" and region not in ("IT",):
            cc, rest = intl.split(" ", 1)
            return f"{cc} (0){rest}"
        return intl
    return intl

PHONE_CTX = ["Call me on {}", "Tel: {}", "Phone {}", "Mobile: {}", "reach me at {} tomorrow", "Fax {}", "Tél. {}", "Telefon: {}", "WhatsApp {}",
             "My number is {}.", "contact: {}", "Teléfono {}", "{} (office)", "Ring {} after 5pm", "Cell {}", "Direct line {}",
             "Please dial {} to confirm", "Office: {} | Fax: {}", "Numero: {}", "You can call {} or write back", "Hotline: {}", "T {}",
             "Call {} anytime.", "{}"]

EXT = [" ext. {}", " x{}", " ext {}", " extension {}"]

def phone_snippet():
    region = R.choice(REGIONS)
    num = phone_number(region)
    s = phone_format(num, region)
    if R.random() < 0.12:
        s = s + R.choice(EXT).format(R.randint(10, 9999))
    return s

URL_TLD_HOSTS = ["example.co.il", "shop.example.com.au", "news.example.co.uk", "example.de", "example.io", "my-site.org", "example.fr",
                 "portal.example.gov", "example.app", "example.dev", "cdn.example.net", "example.com.br", "example.ch", "blog.example.ai",
                 "example.nl", "example.es", "uni-example.edu", "example.jp", "example.co.in", "docs.example.org", "example.tech",
                 "example.online", "example.se", "example.pl", "example.info", "example.biz", "example.ca", "example.com.mx",
                 "xn--bcher-kva.de", "xn--mnchen-3ya.de", "xn--80ak6aa92e.com", "xn--fiqs8s.cn", "example.xn--p1ai", "xn--e1afmkfd.xn--p1ai"]
PATHS = ["", "", "", "/", "/about", "/products/item-42?ref=mail", "/docs/index.html", "/a/b/c", ":8443/login", "/search?q=privacy&lang=en", "#contact"]

def url_value():
    host = R.choice(URL_TLD_HOSTS)
    if R.random() < 0.3 and not host.startswith("www."): host = "www." + host
    form = R.choice(["bare", "bare", "http", "https", "https"])
    path = R.choice(PATHS)
    if form == "bare": return host + path
    return f"{form}://{host}{path}"

LOCALS = ["dana", "j.smith", "m_ortiz", "li.wei", "pat+news", "o'neil", "a.b-c", "info", "s.kumar", "noreply"]
EMAIL_DOMAINS = ["example.com", "example.co.il", "mail.example.de", "xn--bcher-kva.de", "xn--80ak6aa92e.com", "example.xn--p1ai", "example.com.au", "uni.example.edu"]

def email_value():
    return R.choice(LOCALS) + "@" + R.choice(EMAIL_DOMAINS)

def ipv4():
    return ".".join(str(R.randint(0, 255)) for _ in range(4)) if R.random() < 0.5 else f"{R.choice([10, 172, 192, 203, 198, 8])}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"

def ipv6():
    groups = [R.randint(0, 0xffff) if R.random() < 0.6 else 0 for _ in range(8)]
    groups[0] = R.choice([0x2001, 0xfe80, 0x2a00, 0x2607, 0xfd12, 0x2001])
    form = R.choice(["full", "nozeros", "compressed", "compressed", "compressed", "upper", "mapped", "loopback", "short"])
    if form == "loopback": return R.choice(["::1", "::", "fe80::1", "2001:db8::1", "::ffff:192.0.2.128"]) if R.random() < 0.7 else "::1"
    if form == "mapped": return f"::ffff:{R.randint(1, 223)}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"
    if form == "short": return f"{groups[0]:x}:{R.randint(0, 0xfff):x}::{R.randint(1, 0xffff):x}"
    if form == "full": return ":".join(f"{g:04x}" for g in groups)
    if form == "nozeros": return ":".join(f"{g:x}" for g in groups)
    # RFC 5952: compress the longest run of ≥ 2 zero groups
    if form in ("compressed", "upper"):
        for k in R.sample(range(1, 7), 2): groups[k] = 0
        best, bl, cur, cl = -1, 0, -1, 0
        for k, g in enumerate(groups):
            if g == 0:
                if cl == 0: cur = k
                cl += 1
                if cl > bl: best, bl = cur, cl
            else: cl = 0
        hexes = [f"{g:x}" for g in groups]
        if bl >= 2: s = ":".join(hexes[:best]) + "::" + ":".join(hexes[best + bl:])
        else: s = ":".join(hexes)
        return s.upper() if form == "upper" else s
    return ":".join(f"{g:x}" for g in groups)

IBAN_BBAN = {"DE": "370400440532013000", "GB": "WEST12345698765432", "FR": "20041010050500013M02606", "NL": "ABNA0417164300",
             "ES": "21000418450200051332", "IT": "X0542811101000000123456", "CH": "00762011623852957", "BE": "539007547034"}

def iban_value():
    cc = R.choice(list(IBAN_BBAN))
    bban = list(IBAN_BBAN[cc])
    for k in range(len(bban) - 6, len(bban)):
        if bban[k].isdigit(): bban[k] = R.choice("0123456789")
    bban = "".join(bban)
    num = int("".join(str(int(c, 36)) for c in bban + cc + "00"))
    iban = f"{cc}{98 - num % 97:02d}{bban}"
    return " ".join(iban[k:k + 4] for k in range(0, len(iban), 4)) if R.random() < 0.5 else iban

# ---- templates: (text with {} slots, generator per slot); labels come from the generators

def P(kind):
    gen = {"PHONE_NUMBER": phone_snippet, "CREDIT_CARD": lambda: card_format(card()[1]), "US_SSN": lambda: ssn_format(*ssn_valid()),
           "URL": url_value, "EMAIL_ADDRESS": email_value, "IP_ADDRESS": lambda: ipv6() if R.random() < 0.6 else ipv4(),
           "IBAN_CODE": iban_value}[kind]
    return kind, gen

TEMPLATES = [
    # phones
    ("Call me on {} when you land.", [P("PHONE_NUMBER")]),
    ("Tel: {}", [P("PHONE_NUMBER")]),
    ("Best,\n{}\nMobile {}\n{}", [("PERSON", lambda: R.choice(["Anna Kowalska", "Kenji Sato", "Maria Lopez"])), P("PHONE_NUMBER"), P("EMAIL_ADDRESS")]),
    ("Kontakt: {} (Büro), {} (mobil)", [P("PHONE_NUMBER"), P("PHONE_NUMBER")]),
    ("My number is {} — text first please.", [P("PHONE_NUMBER")]),
    ("Office: {} | Fax: {}", [P("PHONE_NUMBER"), P("PHONE_NUMBER")]),
    ("For bookings ring {} or visit {}.", [P("PHONE_NUMBER"), P("URL")]),
    ("Téléphone : {}", [P("PHONE_NUMBER")]),
    ("the hotel number is{} if you need it", [P("PHONE_NUMBER")]),
    ("WhatsApp: {}", [P("PHONE_NUMBER")]),
    ("Support hotline {} is open 24/7.", [P("PHONE_NUMBER")]),
    ("Please phone {} and ask for reception.", [P("PHONE_NUMBER")]),
    ("{} - Maria (Madrid office)", [P("PHONE_NUMBER")]),
    ("reach our Dubai team at {} or {}", [P("PHONE_NUMBER"), P("EMAIL_ADDRESS")]),
    ("Numbers: {}, {}", [P("PHONE_NUMBER"), P("PHONE_NUMBER")]),
    ("contact person: Kenji Sato, phone {}", [P("PHONE_NUMBER")]),
    # cards
    ("Card number: {}", [P("CREDIT_CARD")]),
    ("Charged to {} on 2024-03-02.", [P("CREDIT_CARD")]),
    ("please update the card ({}) before Friday", [P("CREDIT_CARD")]),
    ("Payment method {} exp 08/27", [P("CREDIT_CARD")]),
    ("cc# {} cvv on file", [P("CREDIT_CARD")]),
    ("Refund issued to {}.", [P("CREDIT_CARD")]),
    ("The customer read out {} over the phone.", [P("CREDIT_CARD")]),
    ("{} was declined twice", [P("CREDIT_CARD")]),
    # SSNs
    ("SSN: {}", [P("US_SSN")]),
    ("Social Security Number {} on the W-2.", [P("US_SSN")]),
    ("applicant ssn {} dob 1984-02-11", [P("US_SSN")]),
    ("Her social security no. is {}.", [P("US_SSN")]),
    ("SS# {}", [P("US_SSN")]),
    ("Taxpayer SSN/ITIN: {}", [P("US_SSN")]),
    ("Employee: J. Ortiz, SSN {}, start date 03/04/2021", [P("US_SSN")]),
    ("social security {}", [P("US_SSN")]),
    # URLs and e-mail
    ("See {} for details.", [P("URL")]),
    ("Docs are at {}", [P("URL")]),
    ("Our new site {} goes live Monday.", [P("URL")]),
    ("More: {} and {}", [P("URL"), P("URL")]),
    ("Write to {} or visit {}", [P("EMAIL_ADDRESS"), P("URL")]),
    ("Sign up at {}.", [P("URL")]),
    ("email {} with questions", [P("EMAIL_ADDRESS")]),
    ("Link ({}) expires tomorrow.", [P("URL")]),
    # IPs
    ("Connection from {} refused", [P("IP_ADDRESS")]),
    ("client={} status=403 bytes=512", [P("IP_ADDRESS")]),
    ("Peer {} timed out after 30s.", [P("IP_ADDRESS")]),
    ("Allow {} and {} in the firewall.", [P("IP_ADDRESS"), P("IP_ADDRESS")]),
    ("DNS: {}", [P("IP_ADDRESS")]),
    ("host {} is unreachable", [P("IP_ADDRESS")]),
    # IBANs
    ("IBAN {}", [P("IBAN_CODE")]),
    ("Please transfer to {} (ref. invoice 2024-117).", [P("IBAN_CODE")]),
]

HARD_NEGATIVES = [
    "Order #{o} shipped on {d}.", "Invoice {o} is due on {d}.", "Ticket {o} was closed.", "Tracking number 1Z{h6}{o}", "Version {v} released {d}.",
    "Build {v} (commit {h})", "ref {o}/{y}", "The meeting is on {d} at {t}.", "Timestamp {y}-{m}-{dd}T{t}Z", "MAC {mac}", "SHA-1 {h}{h}",
    "fingerprint {fp}", "ISBN 978-{i1}-{i2}-{i3}-{i4}", "Total: $1,{o3},{o3}.{c2}", "Part no. {o3}-{o4}-{o3}", "Call at {t} on {d}.",
    "Use std::vector<int> and boost::asio here.", "See setup.py and README.md for install.sh usage.", "Open www.microsoft and www.google in the demo config.",
    "self.name = user.email", "Error code 0x{h8} at {t}", "PO {o} / SKU {o3}-{o4}", "between {y} and {y}", "Ratio {r}:{r}:{r}",
    "Room {o3}, building {o4}, floor 3.", "Account id {h}", "zip {zip5}-{o4}", "Score {o3}.{o4}.{o3}.{o4}", "serial {o}-{o4}",
    "uuid {h8}-{h4}-{h4}-{h4}-{h12}", "card ending in {o4}", "file report_{y}{m}{dd}.pdf", "Node.js and ASP.NET apps, e.g. the U.S. ones",
    "chmod 755 run.sh; cat index.html", "order no {o}{o4}", "Call-ID {h8}:{h4}:{h4}", "{y}/{m}/{dd} {t}", "{dd}.{m}.{y}", "v{v}",
    "tracking 9400 {o4} {o4} {o4} {o4} {o4} {c2}", "IMEI {o}{o}", "batch {o}{o3}", "a::b::c and Foo::Bar::baz()", "hash {h8}:{h8}:{h8}",
]

def fill_negative(t):
    rnd = R
    subs = {"o": lambda: str(rnd.randint(100000, 99999999)), "o3": lambda: str(rnd.randint(100, 999)), "o4": lambda: str(rnd.randint(1000, 9999)),
            "d": lambda: rnd.choice([f"{rnd.randint(1, 12)}/{rnd.randint(1, 28)}/{rnd.randint(1990, 2030)}", f"{rnd.randint(1990, 2030)}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}", f"{rnd.randint(1, 28):02d}.{rnd.randint(1, 12):02d}.{rnd.randint(1990, 2030)}"]),
            "t": lambda: f"{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}", "v": lambda: f"{rnd.randint(0, 20)}.{rnd.randint(0, 40)}.{rnd.randint(0, 300)}",
            "h": lambda: "".join(rnd.choice("0123456789abcdef") for _ in range(16)), "h4": lambda: "".join(rnd.choice("0123456789abcdef") for _ in range(4)),
            "h6": lambda: "".join(rnd.choice("0123456789ABCDEF") for _ in range(6)), "h8": lambda: "".join(rnd.choice("0123456789abcdef") for _ in range(8)),
            "h12": lambda: "".join(rnd.choice("0123456789abcdef") for _ in range(12)),
            "mac": lambda: ":".join(f"{rnd.randint(0, 255):02x}" for _ in range(6)), "fp": lambda: ":".join(f"{rnd.randint(0, 255):02X}" for _ in range(16)),
            "y": lambda: str(rnd.randint(1990, 2030)), "m": lambda: f"{rnd.randint(1, 12):02d}", "dd": lambda: f"{rnd.randint(1, 28):02d}",
            "i1": lambda: str(rnd.randint(0, 9)), "i2": lambda: str(rnd.randint(100, 999)), "i3": lambda: str(rnd.randint(10000, 99999)), "i4": lambda: str(rnd.randint(0, 9)),
            "c2": lambda: f"{rnd.randint(0, 99):02d}", "r": lambda: str(rnd.randint(1, 9)), "zip5": lambda: str(rnd.randint(10000, 99999))}
    out, k = "", 0
    while k < len(t):
        if t[k] == "{":
            e = t.index("}", k); out += subs[t[k + 1:e]](); k = e + 1
        else: out += t[k]; k += 1
    return out

def invalid_look_alikes():
    """Values in the shape of PII that the specifications reject."""
    kind = R.choice(["card", "ssn", "ssn", "ip"])
    if kind == "card":
        _, num = card()
        bad = num[:-1] + str((int(num[-1]) + R.randint(1, 9)) % 10)
        return f"Card number: {card_format(bad)} (test)"
    if kind == "ssn":
        a = R.choice(["000", "666", f"{R.randint(900, 999)}"]); g = f"{R.randint(0, 99):02d}"; s = f"{R.randint(1, 9999):04d}"
        return R.choice([f"SSN {a}-{g}-{s} is not valid.", f"ssn {R.randint(100, 665)}-00-{s} rejected", f"SSN {R.randint(100, 665)}-{R.randint(10, 99)}-0000 rejected"])
    return f"Counter {R.randint(256, 999)}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(0, 255)} overflowed"

def render(template, slots):
    text, ents, k = "", [], 0
    parts = template.split("{}")
    for i, part in enumerate(parts):
        text += part
        if i < len(slots):
            kind, gen = slots[i]
            v = gen()
            ents.append({"type": kind, "start": len(text), "end": len(text) + len(v), "text": v})
            text += v
    return {"text": text, "entities": ents}

def main():
    dev, held = [], []
    for ti, (tpl, slots) in enumerate(TEMPLATES):
        target = dev if ti % 2 == 0 else held
        for _ in range(24 if any(k == "PHONE_NUMBER" for k, _ in slots) else 14):
            target.append(render(tpl, slots))
    for ni, t in enumerate(HARD_NEGATIVES):
        target = dev if ni % 2 == 0 else held
        for _ in range(6): target.append({"text": fill_negative(t), "entities": []})
    for k in range(120):
        (dev if k % 2 == 0 else held).append({"text": invalid_look_alikes(), "entities": []})
    for name, rows in (("pii_world_dev.jsonl", dev), ("pii_world_heldout.jsonl", held)):
        R.shuffle(rows)
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            for r in rows:
                for e in r["entities"]: assert r["text"][e["start"]:e["end"]] == e["text"]
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        counts = {}
        for r in rows:
            for e in r["entities"]: counts[e["type"]] = counts.get(e["type"], 0) + 1
        print(name, len(rows), "snippets", dict(sorted(counts.items())))

if __name__ == "__main__":
    main()
