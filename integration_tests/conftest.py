"""Integration fixtures: one real embedded Gemma 3 270M shared by the whole session.

Everything collected under this directory is marked ``integration`` (deselect with
``pytest -m "not integration"``). The first use of the embedded model converts it into
``$TOOLPRM_CACHE`` (about two minutes, once); later sessions load it in seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from langchain_toolprm import ToolPRMChatModel

HERE = Path(__file__).parent.resolve()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The hook sees every collected item of the session; mark only the ones in this directory.
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def gemma() -> ToolPRMChatModel:
    """The default model: embedded Gemma 3 270M policy, verifier scorer, beam N=1 M=4, seed 0.

    Loaded once here (a one-token prose reply) so load time is not charged to the first test;
    ``bind_tools`` / ``with_structured_output`` copies share the loaded weights.
    """
    llm = ToolPRMChatModel()
    llm.invoke("Hi", max_tokens=1)
    return llm
