"""`oneshot-face bench`: speed and memory figures."""

from __future__ import annotations

import argparse
import json

from app.cli.common import _common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="speed and memory figures")
    p.add_argument("--json", action="store_true")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--busy", type=int, default=0, metavar="N",
                   help="also measure everything again while N CPU-bound processes compete for the cores")
    _common(p)
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from app.service.evaluation import bench
    result = bench(args)
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0
