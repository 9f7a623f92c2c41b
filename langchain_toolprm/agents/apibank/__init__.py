"""API-Bank's level-1 APIs as LangChain tools over a per-episode copy of its mock databases.

``ApiBankEnv(data_dir)`` is one episode: ``env.tools`` for an agent, ``env.execute(name, args)``
for a harness (an :class:`ApiResult` to compare with the recorded one), and
:func:`~.replay.replay` checks the tools against every call the level-1 dialogues recorded.
"""

from .apis import ApiError
from .data import APIBANK_ENV, ApiSpec, RecordedCall, apibank_dir, catalogue, level1_specs, recorded_dialogues
from .env import ApiBankEnv, ApiResult

__all__ = [
    "APIBANK_ENV", "ApiBankEnv", "ApiError", "ApiResult", "ApiSpec", "RecordedCall", "apibank_dir",
    "catalogue", "level1_specs", "recorded_dialogues",
]
