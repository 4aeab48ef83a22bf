#!/usr/bin/env python3
"""Checks the module layering of both Rust crates (stdlib only).

For each crate (the binding in src/, mapshare-core in crates/core/src/) it reads every .rs file,
drops comments and string literals, and collects the paths that name a module of the same crate:
`crate::x::...` (also `$crate::x` in macros and `use crate::{x, y::z}` groups) and `super::...`
(resolved from the file's module, inline `mod name { ... }` blocks included). A `crate::Name` that
lib.rs re-exports (`pub use x::{Name}`) counts as a use of `x`.

The graph of top-level modules (a file `src/x.rs` or a folder `src/x/`) must be acyclic, and:
  - nothing in crates/core/src/sys/ may name a core module outside sys/ (the OS layer is a leaf);
  - no core file outside sys/ uses `cfg` (but `cfg(test)`) or names `libc`;
  - the binding never names `mapshare_core::sys`.

A module loaded with `#[path]` counts as the module its file's place in the tree suggests (sys/ uses
`#[path]` to pick its backend; the checks only need to know that those files are inside sys/).

Prints every cycle and violation and exits 1 if there is any; `--graph` also prints the edges.
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRATES = [("mapshare (binding)", "src"), ("mapshare-core", os.path.join("crates", "core", "src"))]
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def strip(text):
  """The source with comments, string and char literals replaced by spaces (lines kept)."""
  out, i, n = [], 0, len(text)
  while i < n:
    c = text[i]
    if text.startswith("//", i):
      j = text.find("\n", i)
      j = n if j < 0 else j
      out.append(" " * (j - i))
      i = j
    elif text.startswith("/*", i):
      depth, j = 1, i + 2
      while j < n and depth:
        if text.startswith("/*", j):
          depth, j = depth + 1, j + 2
        elif text.startswith("*/", j):
          depth, j = depth - 1, j + 2
        else:
          j += 1
      out.append(re.sub(r"[^\n]", " ", text[i:j]))
      i = j
    elif c == "r" and re.match(r'r#*"', text[i:]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
      hashes = re.match(r"r(#*)\"", text[i:]).group(1)
      end = text.find('"' + hashes, i + 2 + len(hashes))
      j = n if end < 0 else end + 1 + len(hashes)
      out.append(re.sub(r"[^\n]", " ", text[i:j]))
      i = j
    elif c == '"':
      j = i + 1
      while j < n and text[j] != '"':
        j += 2 if text[j] == "\\" else 1
      j = min(j + 1, n)
      out.append(re.sub(r"[^\n]", " ", text[i:j]))
      i = j
    elif c == "'":
      # A char literal ('a', '\n', '\u{..}') or a lifetime ('env): only the former is skipped.
      m = re.match(r"'(\\.|\\u\{[0-9a-fA-F]+\}|[^\\'])'", text[i:])
      if m:
        out.append(" " * len(m.group(0)))
        i += len(m.group(0))
      else:
        out.append(c)
        i += 1
    else:
      out.append(c)
      i += 1
  return "".join(out)


def file_module(rel):
  """The module path of a file relative to the crate's src/ (lib.rs is [])."""
  parts = rel[:-3].split(os.sep)
  if parts[-1] in ("mod", "lib", "main"):
    parts = parts[:-1]
  return parts


def paths_in(code, heads=r"\$?crate|super"):
  """Yields (offset, path segments) for every path that starts with one of `heads` (by default
  `crate::`, `$crate::` and `super::`), expanding `{a, b::c}` groups into one path each."""

  def group(start, prefix):
    # Parses a `{ ... }` group starting at `start` (the brace); returns (paths, end).
    out, i, current, depth = [], start + 1, "", 0
    while i < len(code):
      ch = code[i]
      if ch == "{":
        sub, i = group(i, prefix + [s for s in current.replace(" ", "").replace("\n", "").split("::") if s])
        out.extend(sub)
        current = ""
        continue
      if ch == "}":
        if current.strip():
          out.append(prefix + [s for s in re.sub(r"\s+", "", current).split("::") if s])
        return out, i + 1
      if ch == ",":
        if current.strip():
          out.append(prefix + [s for s in re.sub(r"\s+", "", current).split("::") if s])
        current = ""
      else:
        current += ch
      i += 1
    return out, i

  for m in re.finditer(r"(?<![A-Za-z0-9_])(" + heads + r")\s*::", code):
    if m.start() > 0 and code[m.start() - 1] == ":":
      continue  # part of a longer path (`x::super::`, handled with its start)
    head = m.group(1).lstrip("$")
    segs, i = [head], m.end()
    while True:
      while i < len(code) and code[i] in " \t\n":
        i += 1
      if i < len(code) and code[i] == "{":
        subs, _ = group(i, [])
        for sub in subs:
          yield m.start(), segs + sub
        segs = []
        break
      w = IDENT.match(code, i)
      if not w:
        break
      segs.append(w.group(0))
      i = w.end()
      nxt = re.match(r"\s*::", code[i:])
      if not nxt:
        break
      i += nxt.end()
    if len(segs) > 1 or segs[:1] == ["super"]:
      yield m.start(), segs


def inline_modules(code):
  """(start, end, name) of every inline `mod name { ... }` block."""
  out = []
  for m in re.finditer(r"(?<![A-Za-z0-9_])mod\s+([A-Za-z_][A-Za-z0-9_]*)\s*\{", code):
    depth, i = 1, m.end()
    while i < len(code) and depth:
      depth += {"{": 1, "}": -1}.get(code[i], 0)
      i += 1
    out.append((m.start(), i, m.group(1)))
  return out


def lib_reexports(code):
  """Names lib.rs re-exports from a module: {name: module}."""
  names = {}
  for m in re.finditer(r"pub\s+use\s+(?:crate::|self::)?([A-Za-z_][A-Za-z0-9_]*)\s*::\s*(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)", code):
    items = m.group(2).strip("{}")
    for item in items.split(","):
      item = item.strip()
      if not item:
        continue
      alias = re.search(r"\bas\s+([A-Za-z_][A-Za-z0-9_]*)", item)
      names[alias.group(1) if alias else item.split("::")[-1].strip()] = m.group(1)
  return names


def check_crate(label, src, show_graph):
  problems = []
  top = set()
  files = []
  for dirpath, _, filenames in os.walk(src):
    for f in filenames:
      if f.endswith(".rs"):
        rel = os.path.relpath(os.path.join(dirpath, f), src)
        files.append(rel)
        parts = file_module(rel)
        if parts:
          top.add(parts[0])
  files.sort()
  lib = os.path.join(src, "lib.rs")
  reexports = lib_reexports(strip(open(lib, encoding="utf-8").read())) if os.path.exists(lib) else {}
  edges = {}
  is_core = src.endswith(os.path.join("core", "src"))
  for rel in files:
    code = strip(open(os.path.join(src, rel), encoding="utf-8").read())
    base = file_module(rel)
    blocks = inline_modules(code)
    if is_core and base[:1] != ["sys"]:
      for m in re.finditer(r"\bcfg(?:_attr)?\s*\((?!\s*test\s*\))|\bcfg!\s*\(|\blibc\s*::", code):
        line = code.count("\n", 0, m.start()) + 1
        problems.append(f"{label}: crates/core/src/{rel}:{line} uses `{m.group(0).strip()}` above sys/ (platform code lives in sys/)")
    if not is_core:
      for at, segs in paths_in(code, "mapshare_core"):
        if segs[1:2] == ["sys"]:
          line = code.count("\n", 0, at) + 1
          problems.append(f"{label}: src/{rel}:{line} names `{'::'.join(segs)}` (the binding uses the core's public API)")
    for at, segs in paths_in(code):
      here = base + [name for (s, e, name) in blocks if s < at < e]
      if segs[0] == "crate":
        target = segs[1:]
      else:
        target, rest = list(here), list(segs)
        while rest and rest[0] == "super":
          if not target:
            problems.append(f"{label}: src/{rel}: `super` goes above the crate root")
            break
          target.pop()
          rest.pop(0)
        target += rest
      if not target:
        continue
      first = target[0]
      if first not in top:
        if first in reexports:
          first = reexports[first]
        else:
          first = "(crate root)"
      line = code.count("\n", 0, at) + 1
      if is_core and base[:1] == ["sys"] and first != "sys":
        problems.append(
          f"{label}: crates/core/src/{rel}:{line} names `{'::'.join(segs)}`, outside sys/ (sys/ must be a leaf)"
        )
      if base and first != base[0]:
        edges.setdefault(base[0], {}).setdefault(first, []).append(f"{rel}:{line}")
  if show_graph:
    print(f"== {label}")
    for a in sorted(edges):
      print(f"  {a} -> {', '.join(sorted(edges[a]))}")
  # Strongly connected components (Tarjan); any with more than one module is a cycle.
  index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

  def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges.get(v, {}):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      comp = []
      while True:
        w = stack.pop()
        on.discard(w)
        comp.append(w)
        if w == v:
          break
      sccs.append(comp)

  sys.setrecursionlimit(10000)
  for v in sorted(set(edges) | {w for e in edges.values() for w in e}):
    if v not in index:
      visit(v)
  for comp in sccs:
    if len(comp) < 2:
      continue
    members = set(comp)
    # One concrete cycle through the component, with where each edge comes from.
    start = sorted(comp)[0]
    path, seen = [start], {start}
    while True:
      nexts = sorted(w for w in edges.get(path[-1], {}) if w in members)
      back = [w for w in nexts if w == start]
      if back and len(path) > 1:
        break
      fresh = [w for w in nexts if w not in seen]
      if not fresh:
        break
      path.append(fresh[0])
      seen.add(fresh[0])
    path.append(start)
    steps = [f"{a} -> {b} ({edges[a][b][0]})" for a, b in zip(path, path[1:]) if b in edges.get(a, {})]
    problems.append(f"{label}: import cycle among {', '.join(sorted(comp))}: " + "; ".join(steps))
  return problems


def main():
  show = "--graph" in sys.argv[1:]
  problems = []
  for label, rel in CRATES:
    problems += check_crate(label, os.path.join(ROOT, rel), show)
  for p in problems:
    print(p)
  if problems:
    print(f"check-module-cycles: {len(problems)} problem(s)")
    return 1
  print("check-module-cycles: no cycles; sys/ is a leaf and the core's only cfg/libc; the binding never names mapshare_core::sys")
  return 0


if __name__ == "__main__":
  sys.exit(main())
