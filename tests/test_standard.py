"""langchain-tests conformance suites for ToolPRMChatModel on a tiny random-weight Gemma 3.

The standard suites build the model from ``chat_model_params`` (plain values), so the tiny
model is built once per process into a temporary directory and passed as ``model=<path>``.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_toolprm import ToolPRMChatModel
from langchain_toolprm.testing import build_tiny_model

SchemaType = Literal["pydantic", "typeddict", "json_schema"]


@cache
def tiny_gemma_dir() -> Path:
    """The tiny Gemma 3 model, built once per process (removed at exit)."""
    root = Path(tempfile.mkdtemp(prefix="toolprm-standard-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_tiny_model(root / "tiny-gemma3", "gemma3")


class _Common:
    @property
    def chat_model_class(self) -> type[ToolPRMChatModel]:
        return ToolPRMChatModel

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": str(tiny_gemma_dir()), "max_value_tokens": 12}

    @property
    def standard_chat_model_params(self) -> dict[str, Any]:
        # The standard max_tokens=100 is lowered to keep prose replies of the tiny model short;
        # it is set here, not in chat_model_params, because test_standard_params passes its own.
        return {**super().standard_chat_model_params, "max_tokens": 16}  # type: ignore[misc]

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
    def supports_json_mode(self) -> bool:
        return False

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_image_inputs(self) -> bool:
        return False

    @property
    def supports_image_urls(self) -> bool:
        return False

    @property
    def supports_pdf_inputs(self) -> bool:
        return False

    @property
    def supports_audio_inputs(self) -> bool:
        return False

    @property
    def supports_video_inputs(self) -> bool:
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

    @property
    def supports_model_override(self) -> bool:
        return False


class TestToolPRMChatModelUnit(_Common, ChatModelUnitTests):
    pass


# Why the tests below cannot pass on random weights: they fail on content a trained policy
# would write, not on the API. Measured on the tiny Gemma with the standard params (temperature
# 0, so every free value is the argmax path of the random model). ``raises`` pins the failure
# kind (the parsers give None for a call that never finished: TypeError in the dict checks).
_MAGIC_3 = (
    "needs a trained policy: asserts exactly one call magic_function(input=3) read from the "
    "question; the random-weight tiny policy writes arbitrary calls (several magic_function "
    "calls with input 0)"
)
_FREE_STRINGS = (
    "needs a trained policy: the schema has required free-text string fields and the "
    "random-weight tiny policy never closes a string value within max_value_tokens, so the "
    "forced call cannot finish (an invalid_tool_call) and the parser yields no object"
)
_UNICODE = (
    "needs a trained policy: asserts a forced call whose customer_name copies the Unicode name "
    "from the prompt; the random-weight tiny policy never closes the string value within "
    "max_value_tokens, so no valid call is returned"
)


_AGENT = (
    "needs a trained policy: asserts that under tool_choice='auto' the first turn calls "
    "get_weather exactly once; the random-weight tiny policy may answer with no call or leave "
    "the free-text location unfinished"
)


class TestToolPRMChatModelIntegration(_Common, ChatModelIntegrationTests):
    @pytest.mark.xfail(reason=_AGENT, raises=AssertionError, strict=False)
    @pytest.mark.parametrize("model", [{}, {"output_version": "v1"}], indirect=True)
    def test_agent_loop(self, model: BaseChatModel) -> None:
        super().test_agent_loop(model)

    @pytest.mark.xfail(reason=_MAGIC_3, raises=AssertionError)
    @pytest.mark.parametrize("model", [{}, {"output_version": "v1"}], indirect=True)
    def test_tool_calling(self, model: BaseChatModel) -> None:
        super().test_tool_calling(model)

    @pytest.mark.xfail(reason=_MAGIC_3, raises=AssertionError)
    async def test_tool_calling_async(self, model: BaseChatModel) -> None:
        await super().test_tool_calling_async(model)

    @pytest.mark.xfail(reason=_FREE_STRINGS, raises=(AssertionError, TypeError))
    @pytest.mark.parametrize("schema_type", ["pydantic", "typeddict", "json_schema"])
    def test_structured_output(self, model: BaseChatModel, schema_type: SchemaType) -> None:
        super().test_structured_output(model, schema_type)

    @pytest.mark.xfail(reason=_FREE_STRINGS, raises=(AssertionError, TypeError))
    @pytest.mark.parametrize("schema_type", ["pydantic", "typeddict", "json_schema"])
    async def test_structured_output_async(self, model: BaseChatModel, schema_type: SchemaType) -> None:
        await super().test_structured_output_async(model, schema_type)

    @pytest.mark.xfail(reason=_FREE_STRINGS, raises=(AssertionError, TypeError))
    def test_structured_output_pydantic_2_v1(self, model: BaseChatModel) -> None:
        super().test_structured_output_pydantic_2_v1(model)

    @pytest.mark.xfail(reason=_FREE_STRINGS, raises=(AssertionError, TypeError))
    def test_structured_output_optional_param(self, model: BaseChatModel) -> None:
        super().test_structured_output_optional_param(model)

    @pytest.mark.xfail(reason=_UNICODE, raises=AssertionError)
    def test_unicode_tool_call_integration(
        self, model: BaseChatModel, *, tool_choice: str | None = None, force_tool_call: bool = True
    ) -> None:
        super().test_unicode_tool_call_integration(
            model, tool_choice=tool_choice, force_tool_call=force_tool_call
        )
