"""langchain-toolprm: reliable tool calls from small local models by PRM-guided search."""

from .backends.transformers import ContextLengthError, TransformersPolicy
from .core.chat_model import ToolPRMChatModel
from .core.schema import ToolSchemaError, ToolSpec, normalize_tools
from .core.scorers import CombinedScorer, GenerativePRM
from .core.search import SearchConfig, beam_search, best_of_n, greedy, majority_vote
from .core.steps import Call, Step, StepTag, render_trajectory, segment
from .core.verifier import VerifierScorer

__all__ = [
    "Call", "CombinedScorer", "ContextLengthError", "GenerativePRM", "SearchConfig", "Step",
    "StepTag", "ToolPRMChatModel", "ToolSchemaError", "ToolSpec", "TransformersPolicy",
    "VerifierScorer", "beam_search", "best_of_n", "greedy", "majority_vote", "normalize_tools",
    "render_trajectory", "segment",
]
