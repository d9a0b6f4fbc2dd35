#!/usr/bin/env python3
"""Check the module dependency rules of src/ (ARCHITECTURE.md, "Dependency rules"): the core
(`src/pure`) names no browser crate and no module of the shell (`src/web`), and no two modules
import each other, directly or through others. Imports are read from `crate::` and `super::`
paths outside comments and test modules; the children of a few folders count as one module.
Exits 1 and names each offence. `--graph` prints every module's imports first.

Run from the repository root: python3 scripts/check_layers.py [--graph]"""
import re, sys, pathlib
from collections import defaultdict

ROOT = pathlib.Path.cwd()
SRC = ROOT / "src"
# A unit is a file module, except that the children of these folders count as one unit with it.
GROUPED = {"pure::chart", "pure::export", "pure::views", "pure::source::plan", "web::workers::bridge"}
BROWSER_CRATES = ("web_sys", "js_sys", "wasm_bindgen", "wasm_bindgen_futures", "leptos", "leptos_router", "gloo_net", "gloo_timers", "serde_wasm_bindgen")

def module_of(path):
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts

def unit_of(parts):
    for n in range(len(parts), 0, -1):
        if "::".join(parts[:n]) in GROUPED:
            return "::".join(parts[:n])
    return "::".join(parts)

def strip(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)

def test_start(text):
    m = re.search(r"#\[cfg\(test\)\]\s*mod\s+tests", text)
    return m.start() if m else len(text)

units = {}
for f in sorted(SRC.rglob("*.rs")):
    parts = module_of(f)
    if parts and parts[0] == "bin":
        continue
    units[f] = parts
known = {unit_of(p) for p in units.values()}

edges = defaultdict(set)
offences = []
for f, parts in units.items():
    text = strip(f.read_text())
    body = text[: test_start(text)]
    me = unit_of(parts)
    if me.startswith("pure"):
        for crate in BROWSER_CRATES:
            if re.search(rf"\b{crate}::", body):
                offences.append(f"{f.relative_to(ROOT)}: the core imports the browser crate `{crate}`")
    refs = []
    for m in re.finditer(r"\bcrate((?:::[a-z_][a-z0-9_]*)+)", body):
        refs.append(m.group(1).strip(":").split("::"))
    for m in re.finditer(r"\b((?:super::)+)([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)", body):
        ups = m.group(1).count("super")
        is_mod_file = f.name in ("mod.rs",)
        base = parts if is_mod_file else parts[:-1]
        base = base[: len(base) - (ups - 1)] if ups > 1 else base
        refs.append(base + m.group(2).split("::"))
    for ref in refs:
        target = None
        for n in range(len(ref), 0, -1):
            cand = unit_of(ref[:n])
            if cand in known:
                target = cand
                break
        if target and target != me and target not in ("", "pure", "web"):
            edges[me].add(target)

RULES = [  # (from-prefix, forbidden-prefix, why)
    ("pure", "web", "the core never depends on the browser shell"),
]
# Layers, lowest first (ARCHITECTURE.md, "Dependency rules"). A module may import from a lower
# layer, and from its own layer only inside the same group (the first two path segments, e.g.
# `pure::source`). The longest matching prefix gives a module's layer.
LAYERS = {
    "pure::common": 0,
    "pure::linalg": 1, "pure::chart": 1, "pure::source": 1,
    "pure::analysis": 2,
    "pure::source::offline": 3, "pure::source::plan": 3, "pure::url_state": 3, "pure::views": 3, "pure::export": 3,
    "pure::protocol": 3,
    "web::platform": 10,
    "web::io": 11, "web::workers": 11,
    "web::run": 12,
    "web::ui": 13,
}
def layer_of(unit):
    best = None
    for prefix, rank in LAYERS.items():
        if (unit == prefix or unit.startswith(prefix + "::")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, rank)
    return best
def group_of(unit):
    return "::".join(unit.split("::")[:2])
for a, targets in edges.items():
    la = layer_of(a)
    for b in targets:
        lb = layer_of(b)
        if la is None or lb is None:
            offences.append(f"{a} -> {b}: a module outside the layer table (add it to LAYERS)")
        elif lb[1] > la[1] or (lb[1] == la[1] and group_of(a) != group_of(b)):
            offences.append(f"{a} -> {b}: {la[0]} (layer {la[1]}) may not import {lb[0]} (layer {lb[1]})")
for a, targets in edges.items():
    for b in targets:
        for src, dst, why in RULES:
            if (a == src or a.startswith(src + "::")) and (b == dst or b.startswith(dst + "::")):
                offences.append(f"{a} -> {b}: {why}")

# The protocol (pure::protocol, its envelope web::workers::protocol) is the only page<->worker
# surface: the worker side uses of the shell only the envelope, platform::js and itself, and only
# the bridge spawns the analysis workers and posts to them (besides the worker side's replies and
# the platform's own channels: the service worker, the yield port).
WORKER_SIDE = {"web::workers::worker", "web::workers::stream"}
WORKER_SIDE_USES = WORKER_SIDE | {"web::workers::protocol", "web::platform::js"}
for a in sorted(WORKER_SIDE):
    for b in sorted(edges.get(a, ())):
        if b.startswith("web::") and b not in WORKER_SIDE_USES:
            offences.append(f"{a} -> {b}: the worker side uses of the shell only web::workers::protocol and web::platform::js")
POSTERS = {"web::workers::bridge", "web::workers::worker", "web::run::offline", "web::platform::js"}
for f, parts in units.items():
    me = unit_of(parts)
    if not me.startswith("web"):
        continue
    text = strip(f.read_text())
    body = text[: test_start(text)]
    if me not in POSTERS and re.search(r"\.post_message(?:_with_transfer)?\s*\(", body):
        offences.append(f"{f.relative_to(ROOT)}: only web::workers::bridge posts to the analysis workers (post_message)")
    if me != "web::workers::bridge" and re.search(r"web_sys::(?:Worker\b|\{[^}]*\bWorker\b)|\bWorker::new\s*\(", body):
        offences.append(f"{f.relative_to(ROOT)}: only web::workers::bridge spawns and holds the analysis workers (web_sys::Worker)")

# Cycles: strongly connected components of more than one unit.
index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]
sys.setrecursionlimit(10000)
def visit(v):
    index[v] = low[v] = counter[0]; counter[0] += 1; stack.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in index:
            visit(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(sorted(comp))
for v in sorted(known):
    if v not in index: visit(v)
# No cycle is allowed.
for comp in sccs:
    offences.append("import cycle between: " + ", ".join(comp))
if "--graph" in sys.argv:
    for a in sorted(edges):
        print(a, "->", ", ".join(sorted(edges[a])))
for o in offences:
    print("!!", o)
print(f"layers: {len(known)} modules, {sum(len(t) for t in edges.values())} imports, {len(offences)} offences")
sys.exit(1 if offences else 0)
