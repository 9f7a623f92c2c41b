"""langchain-toolprm: reliable tool calls from small local models by PRM-guided search."""

from .chat_model import ToolPRMChatModel
from .policy import ContextLengthError, TransformersPolicy
from .schema import ToolSchemaError, ToolSpec, normalize_tools
from .scorers import CombinedScorer, GenerativePRM
from .search import SearchConfig, beam_search, best_of_n, greedy, majority_vote
from .steps import Call, Step, StepTag, render_trajectory, segment
from .verifier import VerifierScorer

__all__ = [
    "Call", "CombinedScorer", "ContextLengthError", "GenerativePRM", "SearchConfig", "Step",
    "StepTag", "ToolPRMChatModel", "ToolSchemaError", "ToolSpec", "TransformersPolicy",
    "VerifierScorer", "beam_search", "best_of_n", "greedy", "majority_vote", "normalize_tools",
    "render_trajectory", "segment",
]
