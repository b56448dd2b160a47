#!/usr/bin/env python3
"""Fails when a lower module of the crate imports a higher one.

The layers, from the bottom up (a module may use its own layer and those below):

    0  sigv4                      the signing core (Credentials included)
    1  wire, random, trace,       S3's XML and dates; random numbers; the tracing macro;
       checksum, images           the checksums S3 verifies; the image pipeline (bytes in, bytes out)
    2  credentials                where credentials come from
    3  storage, body, error       the Storage trait and its values; the crate-wide Error
    4  multipart                  the part plan and the part loop, over the trait
    5  s3, r2                     the S3 backend and R2's rules
    6  constraints                upload policies, verification, quarantine
    7  axum, testing              the drop-in endpoints; the test server and conformance suite

Only src/lib.rs (re-exports) and src/error.rs (the crate-wide Error wraps each module's error)
reach upward. `crate::Name` paths are resolved through lib.rs's re-exports. Comments, doc comments
and `#[cfg(test)] mod tests` blocks are not imports of the library and are not read.
"""

import pathlib
import re
import sys

LAYERS = {
    "sigv4": 0,
    "wire": 1,
    "random": 1,
    "trace": 1,
    "checksum": 1,
    "images": 1,
    "credentials": 2,
    "storage": 3,
    "body": 3,
    "error": 3,
    "multipart": 4,
    "s3": 5,
    "r2": 5,
    "constraints": 6,
    "axum": 7,
    "testing": 7,
}
EXEMPT = {"lib", "error"}

src = pathlib.Path(__file__).resolve().parent.parent / "src"


def strip(text: str) -> str:
    """The code of a file: no comments, no string or char contents, no test module."""
    cut = re.search(r"#\[cfg\(test\)\]\s*mod tests\b", text)
    if cut:
        text = text[: cut.start()]
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif raw := re.match(r'b?r(#*)"', text[i:]):
            end = text.find('"' + raw.group(1), i + raw.end())
            out.append('""')
            i = n if end < 0 else end + 1 + len(raw.group(1))
        elif text[i] == '"' or text.startswith('b"', i):
            i = text.index('"', i) + 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            out.append('""')
            i += 1
        elif char := re.match(r"b?'(\\[^']*|[^\\'])'", text[i:]):
            out.append("' '")
            i += char.end()
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def reexports() -> dict:
    """Name → module for every `pub use module::...` of lib.rs."""
    names = {}
    code = strip((src / "lib.rs").read_text())
    for module, tree in re.findall(r"pub use (\w+)::([^;]+);", code):
        for name in re.findall(r"\b([A-Za-z_]\w*)\b", tree):
            names.setdefault(name, module)
    return names


def module_of(path: pathlib.Path) -> str:
    rel = path.relative_to(src)
    return rel.parts[0].removesuffix(".rs")


def imported(code: str, names: dict) -> set:
    """The top-level modules `code` reaches through `crate::`."""
    found = set()
    # `crate::{a::b, C, d::{e, f}}`: the first segment of each top-level item.
    for group in re.finditer(r"crate::\{", code):
        depth, i, item = 1, group.end(), ""
        firsts = []
        while i < len(code) and depth:
            ch = code[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            if depth == 1 and ch == ",":
                firsts.append(item)
                item = ""
            elif depth >= 1 and not (depth == 1 and ch in "{}"):
                item += ch
            i += 1
        firsts.append(item)
        for first in firsts:
            m = re.match(r"\s*([A-Za-z_]\w*)", first)
            if m:
                found.add(m.group(1))
    for m in re.finditer(r"crate::([A-Za-z_]\w*)", code):
        found.add(m.group(1))
    modules = set()
    for name in found:
        if name in LAYERS or name == "lib":
            modules.add(name)
        elif name in names:
            modules.add(names[name])
        elif name[0].isupper():
            modules.add(f"?{name}")
    return modules


def main() -> int:
    names = reexports()
    problems = []
    for path in sorted(src.rglob("*.rs")):
        module = module_of(path)
        if module in EXEMPT:
            continue
        if module not in LAYERS:
            problems.append(f"{path.relative_to(src.parent)}: module {module!r} has no layer in .ci/layers.py")
            continue
        for target in sorted(imported(strip(path.read_text()), names)):
            if target.startswith("?"):
                problems.append(f"{path.relative_to(src.parent)}: crate::{target[1:]} is not re-exported by lib.rs")
            elif LAYERS.get(target, -1) > LAYERS[module]:
                problems.append(
                    f"{path.relative_to(src.parent)}: {module} (layer {LAYERS[module]}) imports "
                    f"{target} (layer {LAYERS[target]})"
                )
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} import(s) against the layers; see .ci/layers.py")
        return 1
    print("imports run one way: every module uses only its own layer and those below")
    return 0


if __name__ == "__main__":
    sys.exit(main())
