"""The training-source loaders on the real files under the shared data directory.

Counts are checked against what the files hold (Seal-Tools dev: 700 queries; glaive demo: 300
conversations; ToolACE: 100; API-Bank level-3 API pairs: 907) with room for the documented
skips, so a loader that silently loses most of a source fails here.
"""

from __future__ import annotations

import pytest

from langchain_toolprm.core.scorers import ScoringContext
from langchain_toolprm.core.steps import segment
from langchain_toolprm.data.labels import label_steps
from langchain_toolprm.data.masking import MaskConfig, irrelevance_examples, mask_examples
from langchain_toolprm.data.records import data_dir
from langchain_toolprm.data.sources import ALL_SOURCES, LoadReport, load_training_sources

pytestmark = pytest.mark.integration

DATA = data_dir()
if not (DATA / "train_sources").is_dir():
    pytest.skip(f"shared data not found at {DATA} (set $TOOLPRM_DATA)", allow_module_level=True)

# (min examples, max skipped) per source, from the sizes of the files
EXPECTED = {"sealtools": (600, 60), "glaive": (450, 130), "toolace": (400, 20), "apibank_lv3": (850, 30)}


@pytest.fixture(scope="module")
def reports() -> dict[str, LoadReport]:
    return {r.source: r for r in load_training_sources()}


def test_counts_and_skip_reasons(reports: dict[str, LoadReport]) -> None:
    assert list(reports) == list(ALL_SOURCES)
    for source, (least, most_skipped) in EXPECTED.items():
        report = reports[source]
        assert len(report.examples) >= least, (source, len(report.examples), dict(report.skipped))
        assert sum(report.skipped.values()) <= most_skipped, (source, dict(report.skipped))
    # the documented reasons are reported, not silently dropped
    assert reports["sealtools"].skipped["argument refers to an earlier call's output"] > 0
    assert reports["glaive"].skipped["conversation offers no tools"] > 0


def test_examples_are_well_formed(reports: dict[str, LoadReport]) -> None:
    for report in reports.values():
        ids = [e.id for e in report.examples]
        assert len(set(ids)) == len(ids)
        for ex in report.examples:
            specs = {s.name: s for s in ex.specs()}
            ex.lc_messages()
            for call in ex.gold:
                assert specs[call.name].validate_arguments(call.arguments) is None
            # the gold trajectory is labelled "+" at every step
            assert all(label_steps(segment(list(ex.gold)), ex.gold, list(specs.values()))), ex.id


def test_kinds(reports: dict[str, LoadReport]) -> None:
    kinds = {k: {e.meta["kind"] for e in r.examples} for k, r in reports.items()}
    assert kinds["glaive"] == kinds["toolace"] == {"call", "no_call", "reply_after_result"}
    assert kinds["sealtools"] == kinds["apibank_lv3"] == {"call"}
    assert any(len(e.gold) > 1 for e in reports["toolace"].examples)  # parallel calls survive


def test_masking_and_irrelevance_on_real_data(reports: dict[str, LoadReport]) -> None:
    examples = [e for r in reports.values() for e in r.examples]
    config = MaskConfig()
    masked = mask_examples(examples, config) + irrelevance_examples(examples, config)
    for ex in masked:
        specs = ex.specs()
        assert all(label_steps(segment(list(ex.gold)), ex.gold, specs)), ex.id
    assert abs(sum(e.meta["masked"] for e in masked[: len(examples)]) / len(examples) - 2 / 3) < 0.01


def test_apibank_replies_follow_their_results() -> None:
    """API-Bank level-3's 338 reply items load whole, each after calls made since its user turn."""
    [report] = load_training_sources(sources=["apibank_lv3_replies"])
    assert len(report.examples) == 338 and not report.skipped
    for ex in report.examples:
        assert ex.gold == () and ex.meta["kind"] == "reply_after_result"
        assert ScoringContext(tuple(ex.lc_messages()), tuple(ex.specs())).calls_since_request, ex.id
