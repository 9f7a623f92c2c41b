"""langchain-tests' integration suite on the real embedded Gemma 3 270M (beam search, verifier).

The tiny random-weight model (tests/test_standard.py) checks the API; this checks what a trained
policy must get right: the tool call read from the question (magic_function(input=3)), structured
output with free-text fields, an agent turn, Unicode values. Chat models with the same settings
share one loaded policy, so the suite loads the weights once.
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_toolprm import ToolPRMChatModel

# The quoted '你好啊集团' is among the beam's candidates and the verifier rates it, and the
# English gloss "(Hello Group)" beside it, as the request's own words; the 270M policy prefers
# the gloss. Kept visible as an expected failure until a tool-tuned policy (or a verifier
# signal for quoted values that does not hurt other arguments) gets it right.
_UNICODE = "the 270M base policy writes the English gloss 'Hello Group' over the quoted Chinese name (both grounded)"


class TestEmbeddedGemmaIntegration(ChatModelIntegrationTests):
    @pytest.mark.xfail(reason=_UNICODE, raises=AssertionError, strict=False)
    def test_unicode_tool_call_integration(
        self, model: BaseChatModel, *, tool_choice: str | None = None, force_tool_call: bool = True
    ) -> None:
        super().test_unicode_tool_call_integration(model, tool_choice=tool_choice, force_tool_call=force_tool_call)

    @property
    def chat_model_class(self) -> type[ToolPRMChatModel]:
        return ToolPRMChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        return {**super().standard_chat_model_params, "max_tokens": 24}

    @property
    def has_tool_calling(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_model_override(self) -> bool:
        return False

    @property
    def supports_image_tool_message(self) -> bool:
        return False

    @property
    def supports_pdf_tool_message(self) -> bool:
        return False

    @property
    def supports_anthropic_inputs(self) -> bool:
        return False
