"""Write a pure-Python wheel with the standard library only (no setuptools, no network).

Usage: python3 make_wheel.py '<json>'   where json is
  {"out_dir": "...", "name": "aou-fixture-a", "version": "1.0",
   "files": {"aou_fixture_a/__init__.py": "VERSION = '1.0'\\n"},   # optional
   "requires": ["other-package>=1"]}                                 # optional
Prints the wheel's path. The layout follows the wheel spec (PEP 427/491): the files, then
<dist>.dist-info/{METADATA,WHEEL,RECORD}, RECORD listing every file with its urlsafe-base64
sha256 digest and size (RECORD itself without either).
"""

import base64
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path


def record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return f"{path},sha256={digest},{len(data)}"


def build(spec):
    name, version = spec["name"], spec["version"]
    dist = re.sub(r"[-_.]+", "_", name).lower()  # the wheel file name's escaped distribution
    module = dist
    files = spec.get("files") or {
        f"{module}/__init__.py": f'"""Test fixture package {name}."""\n\nNAME = {name!r}\nVERSION = {version!r}\n'
    }
    info = f"{dist}-{version}.dist-info"
    metadata = "".join(
        [f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: agent-os-upgrade test fixture\n"]
        + [f"Requires-Dist: {req}\n" for req in spec.get("requires", [])]
    )
    entries = {path: content.encode("utf-8") for path, content in files.items()}
    entries[f"{info}/METADATA"] = metadata.encode("utf-8")
    entries[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: agent-os-upgrade-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "\n".join([record_line(p, d) for p, d in entries.items()] + [f"{info}/RECORD,,", ""])
    entries[f"{info}/RECORD"] = record.encode("utf-8")

    out = Path(spec["out_dir"]) / f"{dist}-{version}-py3-none-any.whl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for path, data in entries.items():
            wheel.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return out


if __name__ == "__main__":
    print(build(json.loads(sys.argv[1])))
