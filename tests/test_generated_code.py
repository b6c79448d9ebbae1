"""The generated protobuf code in gen/ is what `make protos` makes from protos/ now."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_generated_code_is_fresh(tmp_path: Path) -> None:
    protos = sorted(str(p.relative_to(ROOT / "protos")) for p in (ROOT / "protos").rglob("*.proto"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I",
            "protos",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            *protos,
        ],
        cwd=ROOT,
        check=True,
    )
    fresh = {p.relative_to(tmp_path) for p in tmp_path.rglob("*.py*")}
    committed = {
        p.relative_to(ROOT / "gen")
        for p in (ROOT / "gen").rglob("*.py*")
        if p.name != "__init__.py" and "__pycache__" not in p.parts
    }
    assert fresh == committed, f"run `make protos`: differs in {sorted(fresh ^ committed)}"
    stale = [
        str(p)
        for p in sorted(fresh)
        if not filecmp.cmp(tmp_path / p, ROOT / "gen" / p, shallow=False)
    ]
    assert not stale, f"run `make protos`: stale {stale}"
