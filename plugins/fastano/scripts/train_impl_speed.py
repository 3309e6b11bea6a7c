"""How much faster FastAno trains with its 3D layers computed as 2D convolutions (``train_impl``).

    python plugins/fastano/scripts/train_impl_speed.py [--threads 2] [--rounds 25] [--json J]

Times one optimiser step (batch 8, random frames: the cost does not depend on
the pixels) of the network with ``impl="2d"`` and with ``impl="3d"``,
alternating the two in every round so that both see the same machine, for the
registered ``fastano`` (192x128, width 16), the 240x160 candidate of the
README's label-free checks and ``fastano-paper`` (360x240, width 64; fewer
rounds). Reports each median and the median of the paired per-round ratios
3d / 2d (above 1: the 2D form is faster).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from vadbench_fastano import FastAno, FastAnoNet

from vadbench.atomic import atomic_write_text
from vadbench.cli import count_at_least, output_file

CASES = [((192, 128), 16, 1.0), ((240, 160), 16, 1.0), ((360, 240), 64, 0.2)]  # size, width, share of rounds


def step_seconds(model: FastAno, net: FastAnoNet, opt, x, y) -> float:
    """Wall time of one training step (loss, backward, Adam update)."""
    t0 = time.perf_counter()
    model.net = net
    loss = model.loss(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - t0


def main(argv=None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=count_at_least(1), default=2)
    ap.add_argument("--rounds", type=count_at_least(1), default=25)
    ap.add_argument("--json", type=output_file, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    for (w, h), width, share in CASES:
        model = FastAno(size=(w, h), width=width)
        torch.manual_seed(0)
        nets = {"2d": FastAnoNet(width, "batch", "2d").train()}
        nets["3d"] = FastAnoNet(width, "batch", "3d").train()
        nets["3d"].load_state_dict(nets["2d"].state_dict())
        opts = {k: torch.optim.Adam(n.parameters(), lr=1e-3) for k, n in nets.items()}
        g = torch.Generator().manual_seed(0)
        x, y = torch.rand(8, 1, 5, h, w, generator=g), torch.rand(8, h, w, generator=g)
        rounds = max(3, int(args.rounds * share))
        times = {k: [] for k in nets}
        for r in range(rounds + 2):  # the first two rounds warm up
            for k in (("2d", "3d") if r % 2 else ("3d", "2d")):
                t = step_seconds(model, nets[k], opts[k], x, y)
                if r >= 2:
                    times[k].append(t)
        ratio = np.array(times["3d"]) / np.array(times["2d"])
        row = {"size": [w, h], "width": width, "threads": args.threads, "rounds": rounds,
               "median_2d_s": float(np.median(times["2d"])), "median_3d_s": float(np.median(times["3d"])),
               "ratio_3d_over_2d": float(np.median(ratio))}
        print(f"{w}x{h} width {width}: 2d {row['median_2d_s']:.3f} s, 3d {row['median_3d_s']:.3f} s per step; "
              f"3d / 2d (paired median) {row['ratio_3d_over_2d']:.2f}", flush=True)
        rows.append(row)
    if args.json:
        atomic_write_text(args.json, json.dumps(rows, indent=1) + "\n")
    return rows


if __name__ == "__main__":
    main()
