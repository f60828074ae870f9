#!/usr/bin/env python3
"""The independent reference of bench/accuracy.sh, and the comparison with escape-gate.

Nothing here uses escape-gate's code. The reference is the multiset of the heap messages
the Go compiler prints (`go build -gcflags=-m ./...`), every copy counted:

  extract   write a commit's tree into a directory, raw (no .gitattributes conversion)
  modules   the module directories of a tree (`./...`'s rule)
  collect   parse the compiler's stderr of one version into a TSV of heap findings
  compare   for consecutive versions, compare the reference's new escapes with
            escape-gate's `diff --format json` (with and without --all-packages)
  report    one Markdown table over the modules compared

Reference key (counting): (compiling package, source package, kind, normalised
expression). The compiling package is the `# pkg` header the line comes under; the
source package is derived from the file's directory (module path + directory inside the
module), which is what escape-gate's `package` field means. Reference new escapes of a
pair = sum over keys of max(0, head count - base count).

Comparison key: (source package, message with the expression normalised), the finest
key both sides have. escape-gate's new (+ allowed) findings are counted per comparison
key; per key, caught = min(reference, escape-gate), missed = reference - caught,
extra = escape-gate - caught.

Python 3.8+, standard library only.
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys

HEAP_MOVED = "moved to heap: "
HEAP_ESCAPES = " escapes to heap"
POS = re.compile(r"^(.+?):(\d+):(?:(\d+):)? (.*)$")


# --- Normalisation: the same rule as README "How it works" (src/finding.rs) ------------
def normalise_expr(expr):
    """Removes generic shapes (`go.shape.int` -> `go.shape`, the shape's type text up to
    the `,`/`]`/`)`/`}` closing it at depth 0) and temporaries' numbers (`.autotmp_12`
    -> `.autotmp`)."""
    if "go.shape." not in expr and "autotmp_" not in expr:
        return expr
    out = []
    i, n = 0, len(expr)
    while i < n:
        if expr.startswith("go.shape.", i):
            out.append("go.shape")
            i += len("go.shape.")
            depth = 0
            while i < n:
                c = expr[i]
                if c in "[({":
                    depth += 1
                elif c in "])}" and depth > 0:
                    depth -= 1
                elif c in ",])}" and depth == 0:
                    break
                i += 1
        elif expr.startswith("autotmp_", i):
            out.append("autotmp")
            i += len("autotmp_")
            while i < n and expr[i].isdigit():
                i += 1
        else:
            out.append(expr[i])
            i += 1
    return "".join(out)


def heap_message(msg):
    """(kind, normalised message) for a heap message, else None."""
    if msg.startswith(HEAP_MOVED):
        return "moved", HEAP_MOVED + normalise_expr(msg[len(HEAP_MOVED):])
    if msg.endswith(HEAP_ESCAPES):
        return "escapes", normalise_expr(msg[: -len(HEAP_ESCAPES)]) + HEAP_ESCAPES
    return None


# --- Modules: `./...`'s rule from the root (no go.work in module zips) ------------------
def skipped_dir(name):
    return name.startswith(".") or name.startswith("_") or name in ("testdata", "vendor")


def module_path(go_mod_text):
    for line in go_mod_text.splitlines():
        line = line.split("//")[0].strip()
        if line.startswith("module"):
            rest = line[len("module"):].strip().strip('"').strip("`")
            if rest:
                return rest
    return None


def discover_modules(tree):
    """[(tree-relative dir, module path)], root first."""
    mods = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = sorted(d for d in dirnames if not skipped_dir(d))
        if "go.mod" in filenames:
            with open(os.path.join(dirpath, "go.mod"), encoding="utf-8", errors="replace") as f:
                path = module_path(f.read())
            rel = os.path.relpath(dirpath, tree)
            if path:
                mods.append(("" if rel == "." else rel, path))
    return mods


def source_package(rel_file, mods):
    d = os.path.dirname(rel_file)
    best = None
    for mdir, mpath in mods:
        if mdir == "" or d == mdir or d.startswith(mdir + "/"):
            if best is None or len(mdir) > len(best[0]):
                best = (mdir, mpath)
    if best is None:
        return None
    mdir, mpath = best
    sub = d if mdir == "" else d[len(mdir) + 1:]
    return mpath if sub == "" else mpath + "/" + sub


# --- collect ----------------------------------------------------------------------------
def cmd_collect(args):
    tree = os.path.realpath(args.tree)
    mods = discover_modules(tree)
    rows = []
    stats = collections.Counter()
    for spec in args.stderr:
        mdir, path = spec.split("=", 1)
        cwd = os.path.join(tree, mdir) if mdir else tree
        cpkg = None
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("# "):
                    cpkg = line[2:].split(" ")[0]
                    continue
                m = POS.match(line)
                if not m:
                    continue
                file, ln, col, msg = m.group(1), int(m.group(2)), int(m.group(3) or 0), m.group(4)
                hm = heap_message(msg)
                if hm is None:
                    continue
                stats["heap lines"] += 1
                if file.startswith("<"):
                    stats["skipped <autogenerated>"] += 1
                    continue
                absf = os.path.normpath(file if os.path.isabs(file) else os.path.join(cwd, file))
                if not absf.startswith(tree + os.sep):
                    stats["skipped outside the repository (GOROOT, module cache)"] += 1
                    continue
                rel = os.path.relpath(absf, tree).replace(os.sep, "/")
                base = os.path.basename(rel)
                if base.startswith("_cgo_") or base == "_testmain.go":
                    stats["skipped cgo/testmain"] += 1
                    continue
                spkg = source_package(rel, mods) or "?"
                exists = "1" if os.path.isfile(absf) else "0"
                if exists == "0":
                    stats["in the repository, file does not exist (//line)"] += 1
                kind, nmsg = hm
                rows.append((cpkg or "?", spkg, rel, str(ln), str(col), kind, nmsg, exists))
                stats["counted"] += 1
    rows.sort()
    with open(args.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")
    with open(args.out + ".stats.json", "w", encoding="utf-8") as f:
        json.dump({"modules": mods, "stats": stats}, f, indent=1)


def cmd_extract(args):
    """Writes the tree of a commit into a directory from the object database, raw: no
    .gitattributes conversion (`git archive` and `git checkout` would apply eol, filters,
    export-ignore), as escape-gate writes its checkouts."""
    out = subprocess.run(["git", "-C", args.repo, "ls-tree", "-r", "-z", "--full-tree", args.rev],
                         check=True, capture_output=True).stdout
    entries = []
    for rec in out.split(b"\0"):
        if not rec:
            continue
        meta, path = rec.split(b"\t", 1)
        mode, typ, sha = meta.split(b" ")
        if typ != b"blob":
            continue   # submodules: not in module zips
        entries.append((mode.decode(), sha.decode(), os.fsdecode(path)))
    proc = subprocess.Popen(["git", "-C", args.repo, "cat-file", "--batch"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    for mode, sha, path in entries:
        proc.stdin.write(sha.encode() + b"\n")
        proc.stdin.flush()
        header = proc.stdout.readline().split()
        size = int(header[2])
        data = proc.stdout.read(size)
        proc.stdout.read(1)
        dst = os.path.join(args.dir, path)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if mode == "120000":
            os.symlink(os.fsdecode(data), dst)
            continue
        with open(dst, "wb") as f:
            f.write(data)
        os.chmod(dst, 0o755 if mode == "100755" else 0o644)
    proc.stdin.close()
    proc.wait()


def cmd_modules(args):
    for mdir, _ in discover_modules(os.path.realpath(args.tree)):
        print(mdir if mdir else ".")


def load_ref(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            rows.append({"cpkg": p[0], "spkg": p[1], "file": p[2], "line": int(p[3]),
                         "col": int(p[4]), "kind": p[5], "msg": p[6], "exists": p[7] == "1"})
    return rows


# --- git: line map base -> head, source lines ------------------------------------------
def git(repo, *a):
    return subprocess.run(["git", "-c", "core.quotepath=false", "-C", repo] + list(a),
                          check=True, capture_output=True, text=True, errors="replace").stdout


HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class LineMap:
    """Maps base (file, line) to head (file, line) through `git diff -M -U0`."""

    def __init__(self, repo, a, b):
        self.renamed = {}       # base file -> head file
        self.deleted = set()
        self.hunks = {}         # base file -> [(old_start, old_count, new_start, new_count)]
        out = git(repo, "diff", "-M", "-U0", "--no-color", "--no-ext-diff", a, b)
        cur_old = cur_new = None
        header = False    # between "diff --git" and the first hunk: "--- " is a header
        for line in out.splitlines():
            if line.startswith("diff --git "):
                cur_old = cur_new = None
                header = True
            elif not header:
                if line.startswith("@@") and cur_old is not None:
                    self._hunk(cur_old, line)
            elif line.startswith("--- "):
                cur_old = None if line[4:] == "/dev/null" else line[6:]
            elif line.startswith("+++ "):
                cur_new = None if line[4:] == "/dev/null" else line[6:]
                if cur_old is not None:
                    if cur_new is None:
                        self.deleted.add(cur_old)
                    elif cur_new != cur_old:
                        self.renamed[cur_old] = cur_new
                    self.hunks.setdefault(cur_old, [])
            elif line.startswith("rename from "):
                cur_old = line[len("rename from "):]
            elif line.startswith("rename to "):
                cur_new = line[len("rename to "):]
                self.renamed[cur_old] = cur_new
                self.hunks.setdefault(cur_old, [])
            elif line.startswith("@@"):
                header = False
                if cur_old is not None:
                    self._hunk(cur_old, line)

    def _hunk(self, old, line):
        m = HUNK.match(line)
        if m:
            self.hunks.setdefault(old, []).append(
                (int(m.group(1)), int(m.group(2) or 1), int(m.group(3)), int(m.group(4) or 1)))

    def to_head(self, file, line):
        """(head file, head line), or None when the base line was removed or changed."""
        if file in self.deleted:
            return None
        delta = 0
        for os_, oc, ns, nc in self.hunks.get(file, []):
            if oc == 0:              # pure insertion after old line os_
                if line > os_:
                    delta += nc
                continue
            if line < os_:
                break
            if line < os_ + oc:
                return None
            delta += nc - oc
        return self.renamed.get(file, file), line + delta


class Sources:
    def __init__(self, repo):
        self.repo, self.cache = repo, {}

    def line(self, rev, file, ln):
        k = (rev, file)
        if k not in self.cache:
            try:
                self.cache[k] = git(self.repo, "show", "%s:%s" % (rev, file)).split("\n")
            except subprocess.CalledProcessError:
                self.cache[k] = []
        lines = self.cache[k]
        return lines[ln - 1].strip() if 0 < ln <= len(lines) else ""


FUNC_DECL = re.compile(r"^func\s*(?:\(\s*(?:\w+\s+)?\*?\s*(\w+)[^)]*\)\s*)?(\w+)\s*[\[(]")


class Functions:
    """Names of the functions declared in a package directory at a revision, as
    `T.M` or `F` (from `^func` lines; good enough to tell renamed from kept)."""

    def __init__(self, repo):
        self.repo, self.cache = repo, {}

    def names(self, rev, pkgdir):
        k = (rev, pkgdir)
        if k not in self.cache:
            spec = ":(glob)%s*.go" % (pkgdir + "/" if pkgdir else "")
            try:
                out = git(self.repo, "grep", "-h", "-E", "^func", rev, "--", spec)
            except subprocess.CalledProcessError:
                out = ""
            names = set()
            for line in out.splitlines():
                m = FUNC_DECL.match(line)
                if m:
                    names.add(("%s.%s" % (m.group(1), m.group(2))) if m.group(1) else m.group(2))
            self.cache[k] = names
        return self.cache[k]


def declared_name(function):
    """escape-gate's function name -> the declared function: `(*T[...]).M.func1` -> `T.M`,
    `F.func2.1` -> `F`, `init.func1` -> `init`."""
    parts = re.sub(r"\[[^\]]*\]", "", function).replace("(*", "").replace("(", "").replace(")", "").split(".")
    while len(parts) > 1 and re.fullmatch(r"func\d+|\d+", parts[-1]):
        parts.pop()
    return ".".join(parts)


def refactor_kind(new_f, fixed_f, base, head, fns):
    """What happened between the function of a fixed finding (base) and the function of
    the new finding it was paired with (head)."""
    n = declared_name(new_f.get("function", ""))
    f = declared_name(fixed_f.get("function", ""))
    if n == f:
        if new_f["file"] != fixed_f["file"]:
            return "same function, other file"
        return "same function, another closure"
    n_in_base = n in fns.names(base, os.path.dirname(new_f["file"]))
    f_in_head = f in fns.names(head, os.path.dirname(fixed_f["file"]))
    if not n_in_base and not f_in_head:
        return "function renamed or replaced"
    if not n_in_base:
        return "moved into a new function"
    if not f_in_head:
        return "moved into an existing function from a removed one"
    return "moved between existing functions"


def pair_refactors(news, fixeds, n):
    """The n (new, fixed) pairs of one key most likely to be the same code moved: greedy
    on the similarity of their source lines (escape-gate's `source`), then of their
    functions' names."""
    import difflib
    scored = []
    for i, a in enumerate(news):
        for j, b in enumerate(fixeds):
            sm = difflib.SequenceMatcher(None, a.get("source", ""), b.get("source", ""), autojunk=False)
            fn = difflib.SequenceMatcher(None, a.get("function", ""), b.get("function", ""), autojunk=False)
            scored.append((-sm.ratio(), -fn.ratio(), i, j))
    scored.sort()
    used_i, used_j, out = set(), set(), []
    for _, _, i, j in scored:
        if len(out) == n:
            break
        if i in used_i or j in used_j:
            continue
        used_i.add(i)
        used_j.add(j)
        out.append((i, j))
    return out


# --- identifier-insensitive comparison (renames) ---------------------------------------
# Words of the compiler's messages that are not names of the code: kept as they are.
NOT_NAMES = {
    "func", "literal", "make", "new", "append", "argument", "map", "chan", "struct",
    "interface", "string", "go", "shape", "autotmp", "len", "cap", "copy", "nil",
    "true", "false", "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16",
    "uint32", "uint64", "uintptr", "byte", "rune", "float32", "float64", "complex64",
    "complex128", "bool", "error", "any",
}
TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|`[^`]*`|' + r"'(?:\\.|[^'\\])*'" + r"|[^\W\d]\w*|\d[\w.]*|\S")


def roles(msg):
    """The message with each name of the code replaced by its syntactic role: a
    selected name (after `.`) is SEL, the variable of `moved to heap:` is VAR, a name
    before `{` or `[` is TYPE, any other name is NAME. Renames change no role."""
    if msg.startswith(HEAP_MOVED):
        return HEAP_MOVED + "VAR"
    suffix = HEAP_ESCAPES if msg.endswith(HEAP_ESCAPES) else ""
    toks = TOKEN.findall(msg[: len(msg) - len(suffix)])
    out = []
    for i, t in enumerate(toks):
        if (t[0].isalpha() or t[0] == "_") and t not in NOT_NAMES:
            prev = toks[i - 1] if i else ""
            nxt = toks[i + 1] if i + 1 < len(toks) else ""
            if prev == ".":
                t = "SEL"
            elif nxt in ("{", "["):
                t = "TYPE"
            else:
                t = "NAME"
        out.append(t)
    return " ".join(out) + suffix


FUNC_LINE = re.compile(r"^func\b")


class Decls:
    """The ordinal of the top-level `func` declaration each line of a file is in (0
    before the first): a rename changes no declaration's place."""

    def __init__(self, repo):
        self.repo, self.cache = repo, {}

    def ordinal(self, rev, file, ln):
        k = (rev, file)
        if k not in self.cache:
            try:
                text = git(self.repo, "show", "%s:%s" % (rev, file)).split("\n")
            except subprocess.CalledProcessError:
                text = []
            starts = [i + 1 for i, line in enumerate(text) if FUNC_LINE.match(line)]
            self.cache[k] = starts
        import bisect
        return bisect.bisect_right(self.cache[k], ln)


def cmd_renames(args):
    """A meaning-preserving rewrite (HEAD REV) of a module (BASE REV): the reference's
    new escapes keyed by text and keyed by (source package, file, function ordinal,
    message with names replaced by roles), and escape-gate's verdict against the
    latter."""
    ref_a, ref_b = load_ref(args.base_tsv), load_ref(args.head_tsv)
    decls = Decls(args.repo)

    def new_by(key, rows_a, rows_b):
        ca = collections.Counter(key(r, args.base) for r in rows_a)
        cb = collections.Counter(key(r, args.head) for r in rows_b)
        return collections.Counter({k: cb[k] - ca[k] for k in cb if cb[k] > ca[k]})

    text_key = lambda r, rev: (r["cpkg"], r["spkg"], r["msg"])
    role_key = lambda r, rev: (r["spkg"], r["file"], decls.ordinal(rev, r["file"], r["line"]), roles(r["msg"]))
    eg_key = lambda f: (f["package"], f["file"], decls.ordinal(args.head, f["file"], f["line"]), roles(f["nmsg"]))
    if args.rewrite.startswith("moves"):
        # Moves change every place and no name: the reference is keyed by text.
        role_key = lambda r, rev: (r["spkg"], r["msg"])
        eg_key = lambda f: (f["package"], f["nmsg"])
    by_text = new_by(text_key, ref_a, ref_b)
    ref_new = new_by(lambda r, rev: (r["cpkg"],) + role_key(r, rev), ref_a, ref_b)
    ref_new_cmp = collections.Counter()
    for k, n in ref_new.items():
        ref_new_cmp[k[1:]] += n
    eg = load_eg(args.eg)
    res = {"module": args.module, "rewrite": args.rewrite, "ref_new_text": sum(by_text.values()),
           "ref_new": sum(ref_new.values()), "heap_base": len(ref_a), "heap_head": len(ref_b),
           "eg_exit": eg["exit"]}
    doc = eg.get("json")
    if doc is None:
        res["error"] = "escape-gate gave no JSON (exit %s): %s" % (eg["exit"], short(eg.get("stderr", "").strip(), 300))
    else:
        news = eg_findings(doc, "new") + eg_findings(doc, "allowed")
        moved = doc.get("moved") or []
        eg_new = collections.Counter(eg_key(f) for f in news)
        caught = sum(min(n, eg_new[k]) for k, n in ref_new_cmp.items())
        res.update(eg_new=sum(eg_new.values()), eg_fixed=len(doc.get("fixed") or []),
                   eg_moved=len(moved), eg_moved_rename=sum(1 for m in moved if m.get("by") == "rename"),
                   caught=caught, missed=sum(ref_new_cmp.values()) - caught,
                   extra=sum(eg_new.values()) - caught,
                   new_items=["%s:%s %s: %s" % (f["file"], f["line"], f.get("function", ""), f["message"]) for f in news][:20],
                   ref_items=[("%s %s func #%s: %s (+%d)" % (k[1], k[2], k[3], k[4], n)) if len(k) == 5
                              else "%s: %s (+%d)" % (k[1], k[2], n) for k, n in sorted(ref_new.items())][:20])
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(res, f, indent=1)


def cmd_renames_report(args):
    L = ["| module | rewrite | heap lines base → head | reference new, keyed by text | reference new, names as roles | escape-gate new / fixed / moved (by rename) | caught | missed | extra | exit |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for path in args.json:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        if "error" in d:
            L.append("| %s | %s | | %d | %d | error: %s | | | | %s |" % (
                d["module"], d["rewrite"], d["ref_new_text"], d["ref_new"], d["error"].replace("|", "\\|"), d["eg_exit"]))
            continue
        L.append("| %s | %s | %d → %d | %d | %d | %d / %d / %d (%d) | %d | %d | %d | %s |" % (
            d["module"], d["rewrite"], d["heap_base"], d["heap_head"], d["ref_new_text"], d["ref_new"],
            d["eg_new"], d["eg_fixed"], d["eg_moved"], d["eg_moved_rename"], d["caught"], d["missed"],
            d["extra"], d["eg_exit"]))
        for it in d["new_items"]:
            notes.append("- %s %s: escape-gate new: `%s`" % (d["module"], d["rewrite"], it))
        for it in d["ref_items"]:
            notes.append("- %s %s: reference new: `%s`" % (d["module"], d["rewrite"], it))
    sys.stdout.write("\n".join(L + [""] + notes) + "\n")


# --- compare ----------------------------------------------------------------------------
HEAP_KINDS = ("moved_to_heap", "escapes_to_heap")


def eg_findings(doc, field="new"):
    out = []
    for f in doc.get(field) or []:
        if f.get("kind", "escapes_to_heap") not in HEAP_KINDS:
            continue
        hm = heap_message(f.get("message", ""))
        msg = hm[1] if hm else f.get("message", "")
        out.append(dict(f, nmsg=msg))
    return out


def ms(findings):
    return collections.Counter((f["package"], f["file"], f["line"], f["column"], f["message"])
                               for f in findings)


def short(s, n=110):
    return s if len(s) <= n else s[: n - 1] + "…"


def compare_pair(repo, a, b, ref_a, ref_b, eg_all, eg_sel, src, fns):
    res = {"base": a, "head": b}
    fine_a = collections.Counter((r["cpkg"], r["spkg"], r["msg"]) for r in ref_a)
    fine_b = collections.Counter((r["cpkg"], r["spkg"], r["msg"]) for r in ref_b)
    ref_new = collections.Counter()          # (spkg, msg) -> count
    ref_fixed = collections.Counter()
    per_cpkg = collections.defaultdict(list)  # (spkg, msg) -> [(cpkg, base, head)]
    for k in set(fine_a) | set(fine_b):
        d = fine_b[k] - fine_a[k]
        if d:
            per_cpkg[(k[1], k[2])].append((k[0], fine_a[k], fine_b[k]))
        if d > 0:
            ref_new[(k[1], k[2])] += d
        elif d < 0:
            ref_fixed[(k[1], k[2])] += -d
    src_a = collections.Counter((r["spkg"], r["msg"]) for r in ref_a)
    src_b = collections.Counter((r["spkg"], r["msg"]) for r in ref_b)
    res["ref_new"] = sum(ref_new.values())
    res["ref_fixed"] = sum(ref_fixed.values())
    res["ref_new_per_source_package"] = sum(max(0, src_b[k] - src_a[k]) for k in set(src_a) | set(src_b))

    res["eg_exit"] = eg_all["exit"]
    doc = eg_all.get("json")
    if doc is None:
        res["error"] = "escape-gate --all-packages gave no JSON (exit %s): %s" % (
            eg_all["exit"], short(eg_all.get("stderr", "").strip().replace("\n", " "), 400))
        return res
    egnew = eg_findings(doc, "new") + eg_findings(doc, "allowed")
    egfixed = eg_findings(doc, "fixed")
    egmoved = doc.get("moved") or []
    eg_new = collections.Counter((f["package"], f["nmsg"]) for f in egnew)
    res["eg_new"] = sum(eg_new.values())
    res["eg_fixed"] = len(egfixed)
    res["eg_moved"] = len(egmoved)
    res["eg_summary"] = doc.get("summary", {})
    res["eg_warnings"] = doc.get("warnings") or []
    caught = missed = extra = 0
    lm = LineMap(repo, a, b)
    missed_items, extra_items = [], []
    for k in sorted(set(ref_new) | set(eg_new)):
        r, e = ref_new[k], eg_new[k]
        c = min(r, e)
        caught += c
        if r > c:
            missed += r - c
            missed_items.append(explain_missed(k, r, e, per_cpkg[k], ref_a, ref_b, lm, src, b,
                                               egnew, egfixed, egmoved))
        if e > c:
            extra += e - c
            extra_items.append(explain_extra(k, r, e, src_a[k], src_b[k], per_cpkg[k], ref_a,
                                             lm, egnew, egfixed, a, b, fns))
    res.update(caught=caught, missed=missed, extra=extra, missed_items=missed_items,
               extra_items=extra_items)

    # Verdicts: the package selection must not change them.
    sdoc = eg_sel.get("json")
    sel = {"exit": eg_sel["exit"]}
    if sdoc is None:
        sel["error"] = "no JSON (exit %s): %s" % (
            eg_sel["exit"], short(eg_sel.get("stderr", "").strip().replace("\n", " "), 400))
    else:
        s = sdoc.get("summary", {})
        sel.update(packages=s.get("packages"), packages_total=s.get("packages_total"),
                   all_packages_because=s.get("all_packages_because"))
        a_new = ms((doc.get("new") or []) + (doc.get("allowed") or []))
        s_new = ms((sdoc.get("new") or []) + (sdoc.get("allowed") or []))
        sel["same_exit"] = eg_sel["exit"] == eg_all["exit"]
        sel["same_new"] = a_new == s_new
        sel["only_all"] = ["%s %s:%s:%s %s" % k for k in sorted((a_new - s_new).elements())]
        sel["only_sel"] = ["%s %s:%s:%s %s" % k for k in sorted((s_new - a_new).elements())]
    res["selection"] = sel
    res["all_packages"] = {"packages": doc.get("summary", {}).get("packages"),
                           "packages_total": doc.get("summary", {}).get("packages_total")}
    return res


# Causes. Assigned by rule from the data of one pair; ACCURACY.md checks them by hand.
MISSED_CAUSES = {
    "inlined-importer": "inlined copy compiled in an importing package (same site, another compiling package)",
    "inlined-same-site": "one more copy at a site that already had one, same compiling package (a callee or closure compiled again where it is inlined)",
    "same-position": "several heap messages with the same text at one position, reported once (e.g. the allocations of an inlined callee, reported at its call site)",
    "generic-shape": "one more generic shape copy at a site",
    "moved": "escape-gate paired it with a fixed escape as moved",
    "unclassified": "unclassified",
}
EXTRA_CAUSES = {
    "refactor": "refactor: the same escape (package, kind, expression) left another function of the package, escape-gate reports it new + fixed",
    "refactor: function renamed or replaced": "refactor, function renamed or replaced (the new finding's function is not in the base, a fixed one's is not in the head)",
    "refactor: moved into a new function": "refactor, code moved into a new function (helper extracted, function split; the old one remains)",
    "refactor: moved into an existing function from a removed one": "refactor, a removed function's code moved into an existing one (merged, inlined by hand)",
    "refactor: same function, other file": "refactor, same function name, other file (init in a renamed file)",
    "refactor: same function, another closure": "refactor, same function, another closure (closures renumbered or code moved into/out of a closure)",
    "refactor: moved between existing functions": "refactor, code moved between functions that exist on both sides",
    "fewer-copies": "the head has fewer copies elsewhere in the package (inlined or duplicate copies removed) and escape-gate does not count copies",
    "unclassified": "unclassified",
}


def new_copies(k, per_cpkg, ref_a, ref_b, lm):
    """The head copies of (spkg, msg) that the line map cannot pair with a base copy, for
    each compiling package with more copies in the head than in the base. Each:
    dict(cpkg, file, line, col, same_line_in_base, at_position (copies at this position
    in this compiling package), base_copies, head_copies)."""
    spkg, msg = k
    out = []
    for cpkg, nb, nh in sorted(per_cpkg):
        if nh <= nb:
            continue
        base_sites = collections.Counter()
        for r in ref_a:
            if (r["cpkg"], r["spkg"], r["msg"]) == (cpkg, spkg, msg):
                base_sites[lm.to_head(r["file"], r["line"]) or ("-", 0)] += 1
        heads = [r for r in ref_b if (r["cpkg"], r["spkg"], r["msg"]) == (cpkg, spkg, msg)]
        at_pos = collections.Counter((r["file"], r["line"], r["col"]) for r in heads)
        head_sites = collections.Counter((r["file"], r["line"]) for r in heads)
        found = []
        for site, n in sorted(head_sites.items()):
            more = n - base_sites.get(site, 0)
            for r in [r for r in heads if (r["file"], r["line"]) == site][-more:] if more > 0 else []:
                found.append(dict(cpkg=cpkg, file=r["file"], line=r["line"], col=r["col"],
                                  same_line_in_base=base_sites.get(site, 0),
                                  at_position=at_pos[(r["file"], r["line"], r["col"])],
                                  base_copies=nb, head_copies=nh))
        if not found:   # copies moved around and none grew: show head sites
            for r in heads[: nh - nb]:
                found.append(dict(cpkg=cpkg, file=r["file"], line=r["line"], col=r["col"],
                                  same_line_in_base=-1,
                                  at_position=at_pos[(r["file"], r["line"], r["col"])],
                                  base_copies=nb, head_copies=nh))
        out += found
    return out


def missed_cause(c, spkg, msg, eg_pos, moved_same_key):
    if c["cpkg"] != spkg:
        return "inlined-importer"
    if c["same_line_in_base"] > 0:
        return "generic-shape" if "go.shape" in msg else "inlined-same-site"
    if c["at_position"] > 1:
        return "same-position"
    if moved_same_key:
        return "moved"
    return "unclassified"


def explain_missed(k, r, e, per_cpkg, ref_a, ref_b, lm, src, head, egnew, egfixed, egmoved):
    spkg, msg = k
    item = {"package": spkg, "message": msg, "ref_new": r, "eg_new": e, "copies": [],
            "causes": collections.Counter()}
    item["eg_moved_same_key"] = sum(1 for m in egmoved if m.get("package") == spkg and
                                    (heap_message(m.get("message", "")) or (0, ""))[1] == msg)
    eg_pos = collections.Counter((f["file"], f["line"], f["column"]) for f in egnew
                                 if (f["package"], f["nmsg"]) == k)
    left = collections.Counter(eg_pos)
    copies = new_copies(k, per_cpkg, ref_a, ref_b, lm)
    # Copies escape-gate reported (same position), first those of the source package.
    copies.sort(key=lambda c: (c["cpkg"] != spkg, c["file"], c["line"], c["col"]))
    for c in copies:
        pos = (c["file"], c["line"], c["col"])
        c["reported"] = left[pos] > 0
        if c["reported"]:
            left[pos] -= 1
        c["source"] = src.line(head, c["file"], c["line"])
    missed = r - e
    for c in copies:
        if not c["reported"] and missed > 0:
            c["cause"] = missed_cause(c, spkg, msg, eg_pos, item["eg_moved_same_key"])
            item["causes"][c["cause"]] += 1
            missed -= 1
    if missed > 0:
        item["causes"]["unclassified"] += missed
    item["copies"] = copies
    return item


def explain_extra(k, r, e, na, nb, per_cpkg, ref_a, lm, egnew, egfixed, base, head, fns):
    spkg, msg = k
    item = {"package": spkg, "message": msg, "ref_new": r, "eg_new": e,
            "ref_base_copies": na, "ref_head_copies": nb, "findings": [], "eg_fixed_same_key": [],
            "causes": collections.Counter()}
    base_sites = {}
    for x in ref_a:
        if (x["spkg"], x["msg"]) == k:
            base_sites.setdefault(lm.to_head(x["file"], x["line"]), x)
    for f in egnew:
        if (f["package"], f["nmsg"]) != k:
            continue
        carried = base_sites.get((f["file"], f["line"]))
        item["findings"].append({
            "file": f["file"], "line": f["line"], "col": f["column"], "function": f.get("function", ""),
            "source": f.get("source", ""),
            "site_in_base": ("%s:%s" % (carried["file"], carried["line"])) if carried else None})
    fixed_fs = [f for f in egfixed if (f["package"], f["nmsg"]) == k]
    for f in fixed_fs:
        item["eg_fixed_same_key"].append("%s:%s %s" % (f["file"], f["line"], f.get("function", "")))
    extra = e - r
    refactor = min(extra, len(fixed_fs))
    if refactor:
        # Which new findings are the moved code: paired with fixed ones by source text.
        news = [f for f in egnew if (f["package"], f["nmsg"]) == k]
        for i, j in pair_refactors(news, fixed_fs, refactor):
            kind = refactor_kind(news[i], fixed_fs[j], base, head, fns)
            item["findings"][i]["refactor"] = kind
            item["findings"][i]["from"] = "%s:%s in %s: %s" % (
                fixed_fs[j]["file"], fixed_fs[j]["line"], fixed_fs[j].get("function", ""),
                short(fixed_fs[j].get("source", ""), 80))
            item["causes"]["refactor: " + kind] += 1
    if extra - refactor > 0:
        fewer = sum(max(0, a - b) for _, a, b in per_cpkg)
        n = min(extra - refactor, fewer)
        if n:
            item["causes"]["fewer-copies"] += n
        if extra - refactor - n > 0:
            item["causes"]["unclassified"] += extra - refactor - n
    return item


def load_eg(prefix):
    out = {"exit": None}
    try:
        with open(prefix + ".rc") as f:
            out["exit"] = int(f.read().strip())
    except (OSError, ValueError):
        pass
    try:
        with open(prefix + ".json", encoding="utf-8") as f:
            out["json"] = json.load(f)
    except (OSError, ValueError):
        out["json"] = None
    try:
        with open(prefix + ".stderr", encoding="utf-8", errors="replace") as f:
            out["stderr"] = f.read()
    except OSError:
        out["stderr"] = ""
    try:
        with open(prefix + ".time") as f:
            out["time"] = float(f.read().strip())
    except (OSError, ValueError):
        out["time"] = None
    return out


def cmd_compare(args):
    src = Sources(args.repo)
    fns = Functions(args.repo)
    pairs = []
    vs = args.versions
    for a, b in zip(vs, vs[1:]):
        fa, fb = os.path.join(args.refdir, a + ".tsv"), os.path.join(args.refdir, b + ".tsv")
        eg_all = load_eg(os.path.join(args.egdir, "%s..%s.all" % (a, b)))
        eg_sel = load_eg(os.path.join(args.egdir, "%s..%s.sel" % (a, b)))
        if not (os.path.exists(fa) and os.path.exists(fb)):
            pairs.append({"base": a, "head": b, "error": "the reference build (`go build`) failed for %s; escape-gate exit %s (--all-packages), %s (selection)" %
                          (" and ".join(v for v, f in ((a, fa), (b, fb)) if not os.path.exists(f)),
                           eg_all["exit"], eg_sel["exit"])})
            continue
        res = compare_pair(args.repo, a, b, load_ref(fa), load_ref(fb), eg_all, eg_sel, src, fns)
        res["eg_time_all"], res["eg_time_sel"] = eg_all["time"], eg_sel["time"]
        pairs.append(res)
    seen = [check_list(os.path.join(args.refdir, v + ".tsv"),
                       os.path.join(args.egdir, v + ".list"), v) for v in vs]
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump({"module": args.module, "versions": vs, "pairs": pairs, "seen": seen}, f, indent=1)
    sys.stdout.write(module_markdown(args.module, vs, pairs, seen))


def check_list(tsv, list_prefix, v):
    """The reference's distinct positions vs `escape-gate list` of one version."""
    out = {"version": v}
    if not os.path.exists(tsv):
        out["error"] = "no reference"
        return out
    eg = load_eg(list_prefix)
    if eg["json"] is None:
        out["error"] = "escape-gate list exit %s: %s" % (eg["exit"], short(eg["stderr"].strip().replace("\n", " "), 300))
        return out
    ref = load_ref(tsv)
    rs = set((x["spkg"], x["file"], x["line"], x["col"], x["msg"]) for x in ref)
    ls = collections.Counter()
    for f in eg["json"].get("findings") or []:
        if f.get("kind", "escapes_to_heap") not in HEAP_KINDS:
            continue
        hm = heap_message(f.get("message", ""))
        ls[(f["package"], f["file"], f["line"], f["column"], hm[1] if hm else f.get("message", ""))] += 1
    out.update(ref_lines=len(ref), ref_positions=len(rs), list_findings=sum(ls.values()),
               only_ref=["%s %s:%s:%s %s" % k for k in sorted(rs - set(ls))][:20],
               only_list=["%s %s:%s:%s %s" % k for k in sorted(set(ls) - rs)][:20],
               n_only_ref=len(rs - set(ls)), n_only_list=len(set(ls) - rs))
    return out


def module_markdown(module, vs, pairs, seen):
    L = []
    L.append("### %s (%s … %s, %d versions, %d pairs)\n" % (module, vs[0], vs[-1], len(vs), len(pairs)))
    L.append("| pair | reference new | caught | missed | extra | escape-gate new / fixed / moved | exit (all) | exit (selection) | selection: packages |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for p in pairs:
        name = "%s → %s" % (p["base"], p["head"])
        if "error" in p:
            L.append("| %s | error: %s | | | | | | | |" % (name, p["error"].replace("|", "\\|")))
            continue
        s = p["selection"]
        selp = "error" if "error" in s else "%s of %s%s" % (
            s.get("packages"), s.get("packages_total"),
            " (all: %s)" % s["all_packages_because"] if s.get("all_packages_because") else "")
        flag = "" if s.get("same_exit") and s.get("same_new") else " **DIFFERS**"
        L.append("| %s | %d | %d | %d | %d | %d / %d / %d | %s | %s%s | %s |" % (
            name, p["ref_new"], p["caught"], p["missed"], p["extra"], p["eg_new"], p["eg_fixed"],
            p["eg_moved"], p["eg_exit"], s.get("exit"), flag, selp))
    L.append("")
    ok = [x for x in seen if "error" not in x]
    L.append("What each side sees, per version (reference: heap lines, distinct positions; `escape-gate list`: findings): %s%s.\n" % (
        ", ".join("%s %d/%d/%d" % (x["version"], x["ref_lines"], x["ref_positions"], x["list_findings"]) for x in ok),
        "".join("; %s: %s" % (x["version"], x["error"]) for x in seen if "error" in x)))
    for x in ok:
        for d in x["only_ref"]:
            L.append("- SEEN %s: only in the reference: %s" % (x["version"], d))
        for d in x["only_list"]:
            L.append("- SEEN %s: only in escape-gate list: %s" % (x["version"], d))
    if any(x.get("only_ref") or x.get("only_list") for x in ok):
        L.append("")
    for p in pairs:
        if "error" in p:
            continue
        name = "%s → %s" % (p["base"], p["head"])
        for it in p["missed_items"]:
            L.append("- MISSED %s: `%s` in `%s`: reference +%d, escape-gate %d (%s)%s" % (
                name, it["message"], it["package"], it["ref_new"], it["eg_new"],
                ", ".join("%s %d" % (c, n) for c, n in sorted(it["causes"].items())),
                "; escape-gate reports %d `moved` with this key" % it["eg_moved_same_key"]
                if it["eg_moved_same_key"] else ""))
            shown = [c for c in it["copies"] if c.get("cause")] + \
                [c for c in it["copies"] if not c.get("cause")][:6]
            for c in shown:
                where = ("base had %d on this line" % c["same_line_in_base"]) if c["same_line_in_base"] > 0 else \
                    ("line not in base" if c["same_line_in_base"] == 0 else "copies moved")
                L.append("  - %s `%s:%s:%s` compiled in `%s` (copies in that package %d → %d; %s; %d at this position): `%s`" % (
                    ("**missed**, " + c["cause"]) if c.get("cause") else ("reported" if c["reported"] else "not reported, counted as caught elsewhere"),
                    c["file"], c["line"], c["col"], c["cpkg"], c["base_copies"], c["head_copies"],
                    where, c["at_position"], short(c["source"])))
            if len(it["copies"]) > len(shown):
                L.append("  - … %d more new copies, reported" % (len(it["copies"]) - len(shown)))
        for it in p["extra_items"]:
            L.append("- EXTRA %s: `%s` in `%s`: escape-gate %d new, reference +%d (%s; copies in the package's source, all compiling packages: %d → %d)" % (
                name, it["message"], it["package"], it["eg_new"], it["ref_new"],
                ", ".join("%s %d" % (c, n) for c, n in sorted(it["causes"].items())),
                it["ref_base_copies"], it["ref_head_copies"]))
            extra_fs = [f for f in it["findings"] if f.get("refactor")]
            for f in extra_fs or it["findings"]:
                L.append("  - %s `%s:%s:%s` in `%s`%s%s: `%s`" % (
                    "**extra**, refactor: %s," % f["refactor"] if f.get("refactor") else "escape-gate new",
                    f["file"], f["line"], f["col"], f["function"],
                    " from `%s`" % f["from"] if f.get("from") else "",
                    " (a base copy is on this line: %s)" % f["site_in_base"] if f["site_in_base"] else "",
                    short(f["source"])))
            if extra_fs and len(it["findings"]) > len(extra_fs):
                L.append("  - %d other new findings of this key, counted as caught: %s" % (
                    len(it["findings"]) - len(extra_fs),
                    "; ".join("`%s:%s` %s" % (f["file"], f["line"], f["function"])
                              for f in it["findings"] if not f.get("refactor"))[:600]))
            if it["eg_fixed_same_key"]:
                L.append("  - escape-gate fixed with the same key (%d): %s%s" % (
                    len(it["eg_fixed_same_key"]), "; ".join(it["eg_fixed_same_key"][:8]),
                    " …" if len(it["eg_fixed_same_key"]) > 8 else ""))
        s = p["selection"]
        if "error" in s:
            L.append("- SELECTION %s: escape-gate without --all-packages: %s" % (name, s["error"]))
        elif not (s["same_exit"] and s["same_new"]):
            L.append("- SELECTION DIFFERS %s: exit %s (all) vs %s (selection); only with --all-packages: %s; only in the selection: %s" % (
                name, p["eg_exit"], s["exit"], s["only_all"][:10], s["only_sel"][:10]))
        for w in p.get("eg_warnings", [])[:5]:
            L.append("- WARNING %s (escape-gate): %s" % (name, short(w.replace("\n", " "), 300)))
    L.append("")
    return "\n".join(L) + "\n"


# --- report -----------------------------------------------------------------------------
def cmd_report(args):
    L = ["| module | versions | pairs | reference new | caught | missed | extra | pairs with reference new = 0: silent (exit 0) | pairs with reference new > 0: failed (exit 1) | verdict with = without --all-packages |",
         "|---|---|---|---|---|---|---|---|---|---|"]
    tot = collections.Counter()
    sel_lines = []
    per_module_src = []
    for path in args.json:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        ps = [p for p in d["pairs"] if "error" not in p]
        errs = len(d["pairs"]) - len(ps)
        c = collections.Counter()
        for p in ps:
            c["ref_new"] += p["ref_new"]
            c["caught"] += p["caught"]
            c["missed"] += p["missed"]
            c["extra"] += p["extra"]
            c["ref_new_src"] += p["ref_new_per_source_package"]
            if p["ref_new"] == 0:
                c["zero"] += 1
                c["zero_silent"] += p["eg_exit"] == 0
            else:
                c["pos"] += 1
                c["pos_failed"] += p["eg_exit"] == 1
            s = p["selection"]
            if "error" not in s:
                c["sel_pairs"] += 1
                c["sel_same"] += bool(s["same_exit"] and s["same_new"])
                if not s.get("all_packages_because"):
                    c["sel_narrowed_pairs"] += 1
                    c["sel_pk"] += s.get("packages") or 0
                    c["sel_pk_total"] += s.get("packages_total") or 0
                c["sel_all_pk"] += s.get("packages") or 0
                c["sel_all_pk_total"] += s.get("packages_total") or 0
        L.append("| %s | %s … %s (%d) | %d%s | %d | %d | %d | %d | %d of %d | %d of %d | %d of %d |" % (
            d["module"], d["versions"][0], d["versions"][-1], len(d["versions"]), len(ps),
            " (+%d not compared)" % errs if errs else "", c["ref_new"], c["caught"], c["missed"],
            c["extra"], c["zero_silent"], c["zero"], c["pos_failed"], c["pos"], c["sel_same"],
            c["sel_pairs"]))
        sel_lines.append("- %s: %d of %d pairs analysed every package anyway (%s); on the other %d pairs the selection analysed %d of %d packages" % (
            d["module"], c["sel_pairs"] - c["sel_narrowed_pairs"], c["sel_pairs"],
            ", ".join(sorted(set(p["selection"].get("all_packages_because") or "" for p in ps) - {""})) or "-",
            c["sel_narrowed_pairs"], c["sel_pk"], c["sel_pk_total"]))
        seen = [x for x in d.get("seen", []) if "error" not in x]
        c["seen_versions"] += len(seen)
        c["seen_same"] += sum(1 for x in seen if not x["n_only_ref"] and not x["n_only_list"])
        c["seen_positions"] += sum(x["ref_positions"] for x in seen)
        c["seen_lines"] += sum(x["ref_lines"] for x in seen)
        tot.update(c)
        per_module_src.append((d["module"], c["ref_new_src"]))
        tot["pairs"] += len(ps)
        tot["versions"] += len(d["versions"])
    # Causes, with the first example of each.
    causes = {"missed": collections.OrderedDict(), "extra": collections.OrderedDict()}
    for path in args.json:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        for p in d["pairs"]:
            if "error" in p:
                continue
            pair = "%s %s → %s" % (d["module"], p["base"], p["head"])
            for side, items in (("missed", p["missed_items"]), ("extra", p["extra_items"])):
                for it in items:
                    for cause, n in sorted(it["causes"].items()):
                        e = causes[side].setdefault(cause, {"n": 0, "pairs": set(), "example": None})
                        e["n"] += n
                        e["pairs"].add(pair)
                        if e["example"] is None:
                            if side == "missed":
                                c = next((c for c in it["copies"] if c.get("cause") == cause), None)
                                where = "`%s:%s:%s` compiled in `%s`" % (c["file"], c["line"], c["col"], c["cpkg"]) if c else ""
                            else:
                                f0 = next((f for f in it["findings"] if "refactor: " + f.get("refactor", "") == cause),
                                          it["findings"][0] if it["findings"] else None)
                                where = "`%s:%s` in `%s`" % (f0["file"], f0["line"], f0["function"]) if f0 else ""
                                if f0 and f0.get("from"):
                                    where += ", from `%s`" % f0["from"]
                                elif it["eg_fixed_same_key"]:
                                    where += ", fixed: `%s`" % it["eg_fixed_same_key"][0]
                            e["example"] = "%s: `%s` %s" % (pair, it["message"], where)
    tail = []
    for side, names in (("missed", MISSED_CAUSES), ("extra", EXTRA_CAUSES)):
        if not causes[side]:
            continue
        tail.append("")
        tail.append("| %s: cause (assigned by rule) | findings | pairs | first example |" % side)
        tail.append("|---|---|---|---|")
        for cause, e in causes[side].items():
            tail.append("| %s (`%s`) | %d | %d | %s |" % (names.get(cause, cause), cause, e["n"], len(e["pairs"]),
                                                   e["example"].replace("|", "\\|")))
    L.append("| **total** | %d | %d | %d | %d | %d | %d | %d of %d | %d of %d | %d of %d |" % (
        tot["versions"], tot["pairs"], tot["ref_new"], tot["caught"], tot["missed"], tot["extra"],
        tot["zero_silent"], tot["zero"], tot["pos_failed"], tot["pos"], tot["sel_same"], tot["sel_pairs"]))
    L.append("")
    L.append("Reference new with a coarser key, (source package, message) with the copies of all compiling packages summed before the difference: %d (per module: %s)." % (
        tot["ref_new_src"], ", ".join("%s %d" % (m, n) for m, n in per_module_src)))
    L.append("")
    L.append("What each side sees: on %d of %d versions `escape-gate list` has exactly the reference's distinct positions (%d positions, %d heap lines counting every copy)." % (
        tot["seen_same"], tot["seen_versions"], tot["seen_positions"], tot["seen_lines"]))
    L.append("")
    L.append("Package selection (runs without `--all-packages`):")
    L.append("")
    L += sel_lines
    if tot["sel_pk_total"]:
        L.append("- over all pairs where the selection applied: %d of %d package analyses done, %.0f%% skipped" % (
            tot["sel_pk"], tot["sel_pk_total"], 100.0 * (1 - tot["sel_pk"] / tot["sel_pk_total"])))
    if tot["sel_all_pk_total"]:
        L.append("- over all pairs: %d of %d package analyses done, %.0f%% skipped" % (
            tot["sel_all_pk"], tot["sel_all_pk_total"], 100.0 * (1 - tot["sel_all_pk"] / tot["sel_all_pk_total"])))
    L += tail
    sys.stdout.write("\n".join(L) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--tree", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("stderr", nargs="+", help="MODULE_DIR=STDERR_FILE (MODULE_DIR tree-relative, '' for the root)")
    c.set_defaults(fn=cmd_collect)
    c = sub.add_parser("extract", help="write a commit's tree into a directory, raw")
    c.add_argument("repo")
    c.add_argument("rev")
    c.add_argument("dir")
    c.set_defaults(fn=cmd_extract)
    c = sub.add_parser("modules", help="the module directories of a tree, one a line ('.' for the root)")
    c.add_argument("tree")
    c.set_defaults(fn=cmd_modules)
    c = sub.add_parser("compare")
    c.add_argument("--module", required=True)
    c.add_argument("--repo", required=True)
    c.add_argument("--refdir", required=True)
    c.add_argument("--egdir", required=True)
    c.add_argument("--json", required=True)
    c.add_argument("versions", nargs="+")
    c.set_defaults(fn=cmd_compare)
    c = sub.add_parser("report")
    c.add_argument("json", nargs="+")
    c.set_defaults(fn=cmd_report)
    c = sub.add_parser("renames", help="compare a meaning-preserving rewrite with its base")
    c.add_argument("--module", required=True)
    c.add_argument("--rewrite", required=True)
    c.add_argument("--repo", required=True)
    c.add_argument("--base", required=True)
    c.add_argument("--head", required=True)
    c.add_argument("--base-tsv", required=True)
    c.add_argument("--head-tsv", required=True)
    c.add_argument("--eg", required=True, help="escape-gate result prefix (PREFIX.json, .rc, .stderr)")
    c.add_argument("--json", required=True)
    c.set_defaults(fn=cmd_renames)
    c = sub.add_parser("renames-report")
    c.add_argument("json", nargs="+")
    c.set_defaults(fn=cmd_renames_report)
    a = ap.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
