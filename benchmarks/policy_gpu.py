"""Train the tool-tuned policy and evaluate base and tuned on the whole sets, within a time budget.

Built for a lent GPU machine (docs/policy.md): many CPU cores and one GPU, for minutes. The
training runs first, on the GPU; meanwhile eval workers run the base policy, each worker one
process of ``toolprm eval --shard K/W`` (one model load, its own results files), all sharing the
GPU. When the adapter is written the base workers are stopped (every finished item is already
on disk) and the tuned workers run; base workers resume after them if time is left. At the
deadline every worker is stopped. Every eval command resumes: running the same command again,
here or on another machine, finishes the shards (``--shard K/W`` keeps the split).

    python benchmarks/policy_gpu.py --out OUT --adapter /work/runs/policy_v3/out --device cuda \\
        --workers 14 --budget 540 --sft /work/runs/sft_data3

``--smoke MODEL`` runs the same plan on a tiny local model, a few items per set (a check of the
plumbing on a CPU before spending GPU time).
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

SETS = [  # (benchmark, categories): the whole sets of docs/results.md
    ("bfcl", "simple_python,multiple,parallel,parallel_multiple,irrelevance"),
    ("toolalpaca", None),
    ("apibank_l1", None),
]
TRAIN = ["--max-length", "1280", "--batch-size", "8", "--grad-accum", "1", "--learning-rate", "2e-4",
         "--warmup-steps", "10", "--lora-r", "16", "--lora-alpha", "32", "--save-every", "50", "--log-every", "1",
         "--no-progress"]


def toolprm(*args: str) -> list[str]:
    return [sys.executable, "-m", "langchain_toolprm.cli", "--threads", "1", *args]


def worker_script(k: int, w: int, out: Path, model: str | None, strategies: str, common: list[str]) -> list[str]:
    """One worker: shard k of w of every set, one eval command per benchmark, in turn."""
    cmds = []
    for bench, cats in SETS:
        cmd = toolprm("eval", "--benchmark", bench, "--strategy", strategies, "--shard", f"{k}/{w}",
                      "--out", str(out), *common, *(["--category", cats] if cats else []),
                      *(["--model", model] if model else []))
        cmds.append(shlex.join(cmd))
    return ["bash", "-c", " && ".join(cmds)]


def start(workers: int, out: Path, model: str | None, strategies: str, common: list[str],
          log: Path) -> list[subprocess.Popen]:
    log.mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen(worker_script(k, workers, out, model, strategies, common), start_new_session=True,
                             stdout=(log / f"w{k}.log").open("a"), stderr=subprocess.STDOUT)
            for k in range(workers)]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--adapter", required=True, help="where the tuned adapter is written (its path names it in results)")
    ap.add_argument("--sft", type=Path, required=True, help="build-dataset --examples-only folder")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--workers", type=int, default=14)
    ap.add_argument("--budget", type=float, default=540, help="seconds for everything")
    ap.add_argument("--smoke", help="a tiny local model: base of the training and policy of the evals")
    ap.add_argument("--limit", default="0", help="items per set (0: all)")
    args = ap.parse_args()
    t0 = time.monotonic()
    end = t0 + args.budget
    common = ["--device", args.device, "--limit", args.limit]
    base_model = args.smoke
    train = toolprm("train-policy", "--train-file", str(args.sft / "examples_train.jsonl"),
                    "--eval-file", str(args.sft / "examples_test.jsonl"), "--output-dir", args.adapter, *TRAIN,
                    *(["--base-model", args.smoke, "--max-steps", "2"] if args.smoke else []))
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if not args.smoke:  # convert the embedded model once, before many processes want it
        subprocess.run(toolprm("prepare"), check=True)
    print(f"[{time.monotonic() - t0:6.1f}s] training; base workers start", flush=True)
    trainer = subprocess.Popen(train, stdout=(logs / "train.log").open("w"), stderr=subprocess.STDOUT,
                               env={**os.environ, "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": "1"})
    base = start(max(args.workers - 2, 1), args.out / "base", base_model, "greedy,beam", common, logs / "base")
    while trainer.poll() is None and time.monotonic() < end:
        time.sleep(2)
    if trainer.poll() is None:
        trainer.kill()
    print(f"[{time.monotonic() - t0:6.1f}s] training ended ({trainer.returncode})", flush=True)
    stop(base)
    tuned = []
    if trainer.returncode == 0:
        tuned = start(args.workers, args.out / "tuned", args.adapter, "greedy,beam,unconstrained", common,
                      logs / "tuned")
        while any(p.poll() is None for p in tuned) and time.monotonic() < end:
            time.sleep(2)
        stop(tuned)
        print(f"[{time.monotonic() - t0:6.1f}s] tuned workers ended", flush=True)
    if time.monotonic() < end - 30:
        base = start(max(args.workers - 2, 1), args.out / "base", base_model, "greedy,beam", common,
                     logs / "base")
        while any(p.poll() is None for p in base) and time.monotonic() < end:
            time.sleep(2)
        stop(base)
    print(f"[{time.monotonic() - t0:6.1f}s] done", flush=True)
    return 0 if trainer.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
