"""`python -m services.ops write`: regenerate deploy/dashboards/*.json and
deploy/prometheus/lianxin-rules.yaml from services/ops/ (`check`: fail when stale)."""

from __future__ import annotations

import sys
from pathlib import Path

from services.ops import alerts, dashboards
from services.ops.prometheus import REPO


def files() -> dict[Path, str]:
    out = {REPO / "deploy" / "dashboards" / n: t for n, t in dashboards.render().items()}
    out[REPO / "deploy" / "prometheus" / "lianxin-rules.yaml"] = alerts.render()
    return out


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "write"
    stale = []
    for path, text in files().items():
        if command == "check":
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(REPO)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)}")
    if stale:
        print("stale (run `python -m services.ops write`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
