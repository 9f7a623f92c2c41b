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
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_toolprm import ToolPRMChatModel
from langchain_toolprm.testing import build_tiny_model


@cache
def tiny_gemma_dir() -> Path:
    """The tiny Gemma 3 model, built once per process (removed at exit)."""
    root = Path(tempfile.mkdtemp(prefix="toolprm-standard-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_tiny_model(root / "tiny-gemma3", "gemma3")


# The suites skip a test, with their own one-line reason, where a capability flag below is False.
# Why each flag is False here:
# - supports_json_mode: structured output is tool calling under the schema's grammar (which also
#   gives a JSON object for a free-form schema); there is no separate JSON mode.
# - image/audio/PDF inputs and tool messages: the policies are text-only causal LMs; such content
#   blocks are refused with a clear error (tests/test_chat_model.py::test_image_content_is_rejected).
# - supports_anthropic_inputs: a provider's content-block format this local model does not read.
# - supports_model_override: a per-call model= would load a second policy inside one call; it is
#   refused with a clear error (tests/test_chat_model.py::test_per_call_model_override_is_rejected).
# - init_from_env_params: no API key or endpoint; every setting is a constructor argument.
# - is_lc_serializable: a model can hold a loaded policy and PRM (policy=, prm_model=); rebuild it
#   from its plain parameters instead.
# - test_stream_time needs a VCR cassette of HTTP traffic; a local model makes no requests.
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


# Why the test below cannot pass on random weights: it fails on content a trained policy would
# write, not on the API (the real Gemma runs the same suite in integration_tests).
_UNICODE = (
    "needs a trained policy: asserts that customer_name copies the quoted Chinese (then Japanese) name; the "
    "random-weight tiny policy picks among the request's words at random (the quoted name is among its candidates)"
)

_AGENT_LOOP = (
    "needs a trained policy: asserts one call for 'the weather in San Francisco, CA'; the random-weight tiny "
    "policy may write location='weather' (a word of the request) first, and the verifier then owes the unused "
    "'San Francisco' a second call (the real Gemma passes it in integration_tests/test_standard_gemma.py)"
)


class TestToolPRMChatModelIntegration(_Common, ChatModelIntegrationTests):
    @pytest.mark.xfail(reason=_AGENT_LOOP, raises=AssertionError, strict=False)
    @pytest.mark.parametrize("model", [{}, {"output_version": "v1"}], indirect=True)
    def test_agent_loop(self, model: BaseChatModel) -> None:
        super().test_agent_loop(model)

    @pytest.mark.xfail(reason=_UNICODE, raises=AssertionError, strict=False)
    def test_unicode_tool_call_integration(
        self, model: BaseChatModel, *, tool_choice: str | None = None, force_tool_call: bool = True
    ) -> None:
        super().test_unicode_tool_call_integration(
            model, tool_choice=tool_choice, force_tool_call=force_tool_call
        )
