"""Seat and print a centre of 2,000 candidates across 70 rooms: tickets for all, door
lists and sign-in sheets (every sitting). Target: under 30 s and 500 MB peak RSS.

Every candidate has a distinct photo (a small generated JPEG), as on the day.

    .venv/bin/python bench/bench_seating.py [--candidates 2000] [--rooms 70] [--out DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import resource
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from seating import documents, sample
from seating.allocation import allocate


def photo(i: int) -> bytes:
    img = Image.new("RGB", (295, 413), ((i * 53) % 256, 190, 210))
    d = ImageDraw.Draw(img)
    d.ellipse((90, 60, 205, 200), fill=(235, 205, 175))
    d.rectangle((50, 240, 245, 413), fill=((i * 97) % 256, 60, 90))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=2000)
    ap.add_argument("--rooms", type=int, default=70)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-seating-"))
    out.mkdir(parents=True, exist_ok=True)

    cands = [
        dataclasses.replace(c, photo=photo(i))
        for i, c in enumerate(sample.candidates(args.candidates, seed=1))
    ]
    centre = sample.centre(rooms=args.rooms)
    t0 = time.perf_counter()
    plan = allocate(cands, [centre], sample.sittings(), year=2026, seed=1)
    t_alloc = time.perf_counter() - t0
    times = {"allocate": t_alloc}
    sizes = {}
    for name, fn in (
        ("tickets", documents.admission_tickets),
        ("door", documents.door_lists),
        ("signin", documents.sign_in_sheets),
    ):
        t = time.perf_counter()
        pdf = fn(plan)
        times[name] = time.perf_counter() - t
        (out / f"{name}.pdf").write_bytes(pdf)
        sizes[name] = len(pdf)
    total = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    seated = len(plan.assignments)
    print(
        f"candidates {args.candidates}, rooms {args.rooms}, seated {seated}, problems {len(plan.problems)}"
    )
    for k, v in times.items():
        extra = f"  {sizes[k] / 1e6:.1f} MB" if k in sizes else ""
        print(f"  {k:9s} {v:6.2f} s{extra}")
    print(
        f"total {total:.2f} s (target < 30 s); peak RSS {rss_mb:.0f} MB (target < 500 MB); PDFs in {out}"
    )
    ok = total < 30 and rss_mb < 500 and seated == args.candidates
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
