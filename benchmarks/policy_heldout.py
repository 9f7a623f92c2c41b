"""Held-out answer-token loss of a policy, as ``train-policy --eval-file`` reports it for its own output.

    python benchmarks/policy_heldout.py --examples DS/examples_test.jsonl [--model gemma-3-270m | ADAPTER_DIR]

For the base model's row of docs/policy.md: the same :func:`sft.evaluate_policy` on the
embedded Gemma, so base and tuned are compared on the same examples and length cut.
"""

from __future__ import annotations

import argparse
import json

import torch

from langchain_toolprm.core.embedded import EMBEDDED_BASE
from langchain_toolprm.core.loader import load_backend
from langchain_toolprm.data.records import load_examples
from langchain_toolprm.training.sft import evaluate_policy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", required=True, help="examples_test.jsonl of build-dataset")
    parser.add_argument("--model", default=EMBEDDED_BASE, help="model or LoRA adapter directory (default: embedded)")
    parser.add_argument("--max-length", type=int, default=1280, help="as the training run's --max-length")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    policy = load_backend(args.model)
    metrics = evaluate_policy(policy.model, policy.tokenizer, load_examples(args.examples), max_length=args.max_length)
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
