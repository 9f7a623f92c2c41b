"""langchain-toolprm: reliable tool calls from small local models by PRM-guided search."""

from typing import Any

from .backends.transformers import TransformersBackend
from .core.backend import Backend, ContextLengthError
from .core.chat_model import ToolPRMChatModel
from .core.loader import load_backend, load_scorer
from .core.schema import ToolSchemaError, ToolSpec, normalize_tools
from .core.scorers import CombinedScorer, GenerativePRM
from .core.search import SearchConfig, beam_search, best_of_n, greedy, majority_vote
from .core.steps import Call, Step, StepTag, render_trajectory, segment
from .core.verifier import VerifierScorer

__all__ = [
    "Backend", "Call", "CombinedScorer", "ContextLengthError", "GenerativePRM", "SearchConfig", "Step",
    "StepTag", "ToolPRMChatModel", "ToolSchemaError", "ToolSpec", "TransformersBackend", "VerifierScorer", "beam_search",
    "best_of_n", "create_toolprm_agent", "greedy", "load_backend", "load_scorer", "majority_vote", "normalize_tools",
    "render_trajectory", "segment",
]


def __getattr__(name: str) -> Any:
    # The LangGraph agent loads langgraph's graph machinery only when it is asked for.
    if name == "create_toolprm_agent":
        from .agents.graph import create_toolprm_agent

        return create_toolprm_agent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
