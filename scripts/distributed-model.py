#!/usr/bin/env python3
"""The scaling model of docs/distributed.md: predicted time per Fashion-MNIST epoch of the main
example's two models on P machines (one process each) joined by 25 Gb/s links.

Per step, each rank computes on its rows and the gradients are exchanged:
    compute  = c * rows_per_rank + R                     (fast mode: one graph run)
             = blocks_per_rank * t_block                 (deterministic: one run per block,
                                                          t_block a step measured at a batch
                                                          of one block; an upper bound: it
                                                          holds the optimizer step too)
    fast     = 2(P-1) a + 2(P-1)/P * S / B               (ring allreduce of S bytes)
    determ.  = 3(P-1) a + log2(P) a + 2(P-1)/P * S / B   (alltoall of counts, alltoallv of
                                                          subtree slices, allgather of counts,
                                                          allgatherv of finished slices)
a: latency per message, B: link bandwidth, S: gradient bytes (+ the loss), c and R: per-row
and per-step costs fitted to steps measured on one core at batches 32 to 512, t_block a step
measured at 32 rows (docs/distributed.md). Edit the constants below for
another machine or network; prints markdown tables.
"""
import math

ALPHA = 20e-6           # s per message: MPI over TCP on 25 GbE (RDMA: ~2e-6)
BANDWIDTH = 25e9 / 8    # bytes/s of a 25 Gb/s link
SAMPLES = 60000
MODELS = {
    # name: (gradient bytes, c s/row, R s/step, batch per rank, block rows, t_block s)
    "softmax 784→10": ((7850 + 1) * 4, 0.91e-6, 6e-6, 256, 32, 37e-6),
    "MLP 784→256→10": ((203530 + 1) * 4, 6.8e-6, 180e-6, 128, 32, 485e-6),
}


def step(model, p, rows_per_rank, deterministic):
    s, c, r, _, block, t_block = MODELS[model]
    if deterministic:
        blocks = math.ceil(rows_per_rank / block)
        compute = blocks * t_block
        exchange = (3 * (p - 1) + math.log2(p)) * ALPHA + 2 * (p - 1) / p * s / BANDWIDTH
    else:
        compute = c * rows_per_rank + r
        exchange = 2 * (p - 1) * ALPHA + 2 * (p - 1) / p * s / BANDWIDTH
    if p == 1:
        exchange = 0.0
    return compute, exchange


def table(title, rows_of, global_of):
    print(f"\n{title}\n")
    print("| model | P | global batch | steps/epoch | fast: compute + exchange = epoch | "
          "deterministic: compute + exchange = epoch |")
    print("|---|---|---|---|---|---|")
    for model, (_, _, _, batch, block, _) in MODELS.items():
        for p in (1, 8, 16, 32, 64):
            rows = rows_of(batch, p)
            if rows < 1:
                continue
            g = global_of(batch, p)
            steps = math.ceil(SAMPLES / g)
            cells = []
            for det in (False, True):
                if det and math.ceil(g / block) < p:  # fewer blocks than machines
                    cells.append("—")
                    continue
                comp, exch = step(model, p, rows, det)
                cells.append(f"{comp*1e6:.0f} + {exch*1e6:.0f} µs = {steps*(comp+exch):.3f} s")
            print(f"| {model} | {p} | {g} | {steps} | {cells[0]} | {cells[1]} |")


table("**Weak scaling**: each machine keeps the one-machine batch (global batch = P × batch).",
      lambda b, p: b, lambda b, p: b * p)
table("**Strong scaling**: the one-machine global batch split over P machines (the "
      "deterministic mode needs at least P blocks of 32 rows: — where it has fewer).",
      lambda b, p: b / p if b / p >= 1 else 0, lambda b, p: b)
