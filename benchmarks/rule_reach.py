"""Which benchmark items a verifier rule can act on, and a rerun of only those.

A rule that returns before judging anything on an item (no part of the request for another task;
no optional parameter whose description offers a value the request says) scores every step of
that item as before, and the search is seeded, so the item's answer is the one the previous
commit's run recorded. ``--carry`` copies those answers from a whole-set run of the previous
commit into a results folder (each marked ``carried_from``); ``toolprm eval`` with the same
``--out`` then resumes and runs only the items the rules reach.

    python benchmarks/rule_reach.py
    python benchmarks/rule_reach.py --carry benchmarks/per_item/v14_1127442 --carried-from 1127442 \
        --into OUT --set bfcl:parallel [--new "offered values"]
    toolprm --threads 1 eval --benchmark bfcl --category parallel --strategy beam --limit 0 --out OUT

With ``--shards N`` the answers are carried into ``toolprm eval --shard K/N``'s files (item i
into shard i mod N), so N processes resume them and run only the items reached.

With ``--against CHECKOUT`` (a worktree of the previous commit) the items reached are, exactly,
those on which the two verifiers read the request otherwise: a tool's relevance, the numbers
tied to a parameter, a prefix of the request taken as its opening words, or the things the
request names (its entities, with their other names) (``READINGS``). A
change that touches only these readings needs no rule of its own here:

    python benchmarks/rule_reach.py --against /path/to/worktree --carry benchmarks/per_item/v39_3304302 \
        --carried-from 3304302 --into OUT
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import re
import sys
from dataclasses import astuple
from pathlib import Path
from types import ModuleType

from langchain_toolprm.core.scorers import ScoringContext
from langchain_toolprm.core.verifier import (
    _ARTICLE_NAME,
    _ASKS_WHEN,
    _CLAUSE_BREAK,
    _COUNTRIES,
    _CURRENCIES,
    _GENERIC,
    _IDENTIFIER,
    _KIND_OF,
    _PAGING,
    _POWERED,
    _QUOTED,
    _SEVERAL_TASKS,
    _STOP,
    _TASK_START,
    RELEVANCE_THRESHOLD,
    TOKEN_PARAM,
    Entity,
    _abbreviates,
    _country_named,
    _covered_by,
    _currency_named,
    _facts,
    _gloss_said,
    _name_runs,
    _types,
    asks_one_thing,
    asks_unit,
    calendar_param,
    compound_head,
    content_words,
    conversation_dates,
    conversion_side,
    glossed_options,
    magnitudes,
    moments,
    named_options,
    named_spans,
    not_a_code,
    number_pairs,
    paging,
    param_end,
    stated_format,
    stray_sign,
    takes_number,
    tokens,
    words,
)
from langchain_toolprm.data.records import append_jsonl
from langchain_toolprm.evaluation.benchmarks import load_benchmark

SETS = [f"bfcl:{c}" for c in ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")] + \
    ["toolalpaca", "apibank_l1"]
LABEL = "beam_N=1_M=4_verifier"
_UNPAIRED = re.compile(r"[\"“']([^\"”']{2,60})[\"”']")
"""What the verifier read as a quoted phrase before "quotes": between any two quote marks."""
_POSSESSIVE = re.compile(r"\b([A-Z][\w'’-]*)['’]s\b")
"""A capitalised word with a possessive "'s", which a name included before "possessives" (not
"It's" or "Let's": stop words are no names)."""
_RANGE = re.compile(r"\bbetween\s+\S*\d\S*\s+and\s+\S*\d", re.I)
"""Two numbers of a range, whose siblings "ranges" no longer owes."""
RULES = ("task parts", "offered values", "results owed", "tokens", "dates", "made up", "kinds", "options", "opening",
         "option siblings", "shared names", "refers back", "ular words", "quotes", "each", "possessives",
         "identifiers", "named relevant", "ranges", "square units", "units of time",
         "part relevance", "and then", "beside words", "semicolons",
         "stated options", "tied parts", "pairs", "option stems",
         "relevant homes", "contractions", "waiting parts", "named spans", "kinds of things",
         "when questions", "of names", "number pairs", "conversion ends", "currency codes", "country codes", "glosses", "listed numbers",
         "magnitudes", "way ends", "word lists", "compound words", "held numbers", "noun codes", "one thing",
         "quote spans", "kind words", "function words", "same tokens", "joined lists", "name words",
         "articles", "stray signs", "not codes")


def reached(example) -> list[str]:
    """The rules that can act on ``example``: "task parts" (``_Facts.other_task``, any of its
    branches: a request of several task parts), "offered
    values" (``_Facts.offered_said``), "results owed" (``verifier.owed_after_results``: only
    where calls since the last user turn have their results), "tokens" (a function takes a token,
    ``verifier.TOKEN_PARAM``, or the conversation gives a parameter its own name as value,
    ``_Facts.gives_as``), "dates" (a parameter states a date or time format and the conversation
    writes a date or time, ``verifier.conversation_dates``, or the request writes one, which
    coverage now reads as days and times, ``verifier.moments``), "made up" (``verifier._made_up``:
    a function requires a list or an object, or has a parameter named by a paging word that is
    not paging, ``verifier.paging``, or the conversation writes no number and a function requires
    a number, a list or an object that is not paging), "kinds" (``_Facts.held_elsewhere``: a
    function with parameters none of which takes some entity of the request, or a name like a
    sibling's, that another function's parameter takes; or ``_Facts.dated``: a number written
    only inside a date while a numeric parameter is not named for a date's part), "options"
    (``verifier.named_options``: the request names two options or more of one parameter),
    "option siblings" (``_Facts.siblings``: a function with an option parameter and no parameter
    that takes any name, whose option values' siblings it is no longer owed), "shared names"
    (``_Facts.uncalled``: a word naming a function that another function's name has too), "refers
    back" (``_Facts.other_task``: a function's part of the request does not refer back to a
    parameter another part's function has too), "ular words" (``verifier._meets``: a word of the
    request or the tools, not a generic one, ends in "ular"), "quotes" (``verifier._QUOTED``: the
    request's quoted phrases differ from those any two quote marks made, ``_UNPAIRED``, or a name
    lies inside one), "each" (``_Facts.each``: a part of the request asks its one function for
    each of several things a parameter is named for), "possessives" (``verifier._NAME_TOKEN``:
    the request writes a possessive "'s" after a capital), "identifiers" (``verifier._IDENTIFIER``:
    the request writes a snake_case identifier or a file name), "named relevant"
    (``_Facts.relevance``: a function the request names scores below the relevance threshold),
    "ranges" (``_Facts.siblings``: the request writes "between" before two numbers joined by "and"),
    "square units" (``verifier._POWERED``: the request writes "square" or "cubic" before a word and
    a parameter asks for a unit, ``verifier.asks_unit``), "units of time" (``_Facts.tied_to``: the
    numbers tied to a numeric parameter differ from those its name's words tie, ``_Facts.word_ties``),
    "part relevance" (``_Facts.part_relevance``: a tool the whole request leaves below the relevance
    threshold, and does not name, is relevant to a task part of it), "and then" (``verifier._TASK_START``:
    a sentence of a request of several tasks opens with "and" or "but" before a task word), "beside words"
    (``_Facts.word_ties``: a word of a numeric parameter's name beside a word only another
    parameter's name has ties a number), "semicolons" (``verifier._SEVERAL_TASKS``: a request to two
    tools or more that only a semicolon marks as asking for several tasks), "stated options"
    (``verifier.stated_options``: the request names two options or more a parameter's description
    states, the parameter having none in its schema), "tied parts" (``_Facts.other_task``: numbers the
    request ties to a numeric parameter are said in two task parts or more), "pairs"
    (``_Facts.unpaired``: the request spells out a list of numbers no longer than a function's
    numeric parameters, two or more), "option stems" (``_Facts.names_option``: the request names an
    option by its words' stems and none in so many words), "relevant homes" (``_Facts._homes``: a
    function no task part names has a home part by relevance), "contractions" (``verifier._STOP``: the
    request writes "I'm", "I'd", "I've" or "I'll" inside a sentence, where a name could have been),
    "waiting parts" (``_Facts.waiting``: a function has a task part of its own, so a second call to
    another function can be held back for it), "named spans" (``verifier.named_spans``: the request
    names a span of time without a count, "the next week", and a parameter counts time in a unit it states),
    "kinds of things" (``verifier._KIND_OF``: the request says a word that names a thing of a kind, "euro"),
    "when questions" (``verifier._ASKS_WHEN``: "When was ...?" asks for a date), "of names" (``_name_runs``:
    a capitalised word, "of" and another, "Treaty of Lisbon"), "number pairs" (``verifier.number_pairs``: a
    range or a size the request writes, "from x=1 to x=3", offered to an array parameter of numbers),
    "conversion ends" (``verifier.conversion_side``: a conversion's source and target, while the request
    writes a unit after a number, "500 US dollars"), "country codes" (``verifier._COUNTRIES``: the request names a country and a parameter speaks
    of countries), "glosses" (``verifier.glossed_options``: the request says the gloss of an option
    code, "(f: Fahrenheit)"), "currency codes" (``verifier._CURRENCIES``: the
    request names a currency, "Japanese yen", whose code a value may be), "listed numbers"
    (``_Facts._run_of``: the request spells out a list of numbers and a function takes two numbers or
    more), "magnitudes" (``verifier.magnitudes``: a number written with its magnitude, "50 million",
    "$1.2M"), "way ends" (``_Facts.wrong_end``: the request writes a way "from X to Y" and a
    parameter's words name its end, ``source_language``), "word lists" (``_Facts.word_lists``: the
    request coordinates words, "chicken and mushrooms", and a parameter takes an array), "compound
    words" (``verifier.compound_head``: a request word is the head of a tool's one-word compound,
    "distance" of "geodistance", or the other way round); the ``ANSWER_RULES`` are read from the carried
    answers instead (``answered``), so they count only with ``--carry``."""
    ctx = ScoringContext(tuple(example.lc_messages()), tuple(example.specs()))
    facts = _facts(ctx)
    rules = ["task parts"] if facts._clauses else []
    if any(facts.offered_said(p, {}) for t in example.specs() for p in t.params if not p.required):
        rules.append("offered values")
    if ctx.calls_since_request:
        rules.append("results owed")
    params = [p for t in example.specs() for p in t.params]
    if any(TOKEN_PARAM.search(p.name) or facts.gives_as(p.name, " ".join(words(p.name))) for p in params):
        rules.append("tokens")
    if moments(ctx.request) or any((fmt := stated_format(p.name, p.schema)) and conversation_dates(ctx, fmt)
                                   for p in params):
        rules.append("dates")
    if any(p.required and _types(p.schema) & {"array", "object"} for p in params) or \
            any(set(words(p.name)) & _PAGING and not paging(p.name) for p in params) or \
            not facts.numbers and any(p.required and _types(p.schema) & {"integer", "number", "array", "object"}
                                      and not paging(p.name) for p in params):
        rules.append("made up")
    tools = [t for t in example.specs() if t.params]
    probes = [*facts.entities, Entity("a name no option has")]
    if any(any(not any(facts.takes(p, e) for p in t.params) for t in tools) and
           any(facts.takes(p, e) for t in tools for p in t.params) for e in probes) or \
            facts.dated and any(_types(p.schema) & {"integer", "number"} and
                                not calendar_param(p.name) for p in params):
        rules.append("kinds")
    if named_options(ctx.request, example.specs()):
        rules.append("options")
    if any(any(p.choices and any(isinstance(c, str) for c in p.choices) for p in t.params)
           and not any(facts.takes(p, probes[-1]) for p in t.params) for t in tools):
        rules.append("option siblings")
    names = {t.name: content_words(t.name) for t in example.specs()}
    if any(_covered_by(w, names[n] & names[d]) for n, hits in facts.named_functions.items() for w in hits
           for d in names if d != n):
        rules.append("shared names")
    homes = facts._homes
    if any(not facts._refers_back(homes[a.name], p.name) and any(
            b.param(p.name) and homes.get(b.name) not in (None, homes[a.name]) for b in tools)
           for a in tools if a.name in homes for p in a.params):
        rules.append("refers back")
    if any(w.endswith("ular") and w not in _GENERIC for w in words(ctx.text)):
        rules.append("ular words")
    quotes = list(_QUOTED.finditer(ctx.request))
    if [next(g for g in m.groups() if g is not None) for m in quotes] != _UNPAIRED.findall(ctx.request) or any(
            m.start() <= n.start and n.end <= m.end() for n in _name_runs(ctx.request) for m in quotes):
        rules.append("quotes")
    if facts._distributed:
        rules.append("each")
    if any(m.group(1).lower() not in _STOP for m in _POSSESSIVE.finditer(ctx.request)):
        rules.append("possessives")
    if _IDENTIFIER.search(ctx.request):
        rules.append("identifiers")
    if any(facts.said_relevance(t) < RELEVANCE_THRESHOLD for t in example.specs() if t.name in facts.named_functions):
        rules.append("named relevant")
    if _RANGE.search(ctx.request):
        rules.append("ranges")
    if _POWERED.search(ctx.text) and any(asks_unit(p.name, p.schema) for p in params):
        rules.append("square units")
    numeric = [p for p in params if takes_number(p)]
    if any(facts.tied_to(p.name) != facts.word_ties(p.name) for p in numeric):
        rules.append("units of time")
    if any(facts.said_relevance(t) < RELEVANCE_THRESHOLD <= facts.part_relevance(t)
           and t.name not in facts.named_functions for t in example.specs()):
        rules.append("part relevance")
    if facts._clauses and any(_TASK_START.match(piece) and re.match(r"\W*(?:and|but)\b", piece, re.I)
                              for piece in _CLAUSE_BREAK.split(ctx.request) if piece):
        rules.append("and then")
    if any(facts.word_ties(p.name) != facts.word_ties(p.name, beside=False) for p in numeric):
        rules.append("beside words")
    if len(example.specs()) > 1 and ";" in ctx.request and \
            not _SEVERAL_TASKS.search(ctx.request.replace(";", ",")):
        rules.append("semicolons")
    schemas = {(t.name, p.name): p for t in example.specs() for p in t.params}
    if any(not schemas[e.function, e.param].choices for e in named_options(ctx.request, example.specs())):
        rules.append("stated options")
    if any(len(set().union(*(facts._places(n) for n in facts.tied_to(p.name)))) > 1 for p in numeric):
        rules.append("tied parts")
    widths = [sum(map(takes_number, t.params)) for t in tools]
    if any(len(run) <= w for run in facts._number_runs for w in widths if w > 1):
        rules.append("pairs")
    if any(facts.names_option(p.choices, c) and str(c).lower() not in facts.evidence
           for p in params if p.choices and len(p.choices) > 1 for c in p.choices if not isinstance(c, bool)):
        rules.append("option stems")
    if any(name not in part.claims for name, i in facts._homes.items() for part in [facts._clauses[i]]):
        rules.append("relevant homes")
    if re.search(r"[\w,;:]\s+I['’](?:m|d|ve|ll)\b", ctx.request):
        rules.append("contractions")
    if facts._homes:
        rules.append("waiting parts")
    if any(named_spans(ctx.request, p.name, p.schema) for p in params):
        rules.append("named spans")
    if content_words(ctx.text) & _KIND_OF.keys():
        rules.append("kinds of things")
    if _ASKS_WHEN.search(ctx.request):
        rules.append("when questions")
    if any(" of " in n.text for n in _name_runs(ctx.request)):
        rules.append("of names")
    if number_pairs(ctx.request) and any("array" in _types(p.schema) for p in params):
        rules.append("number pairs")
    if facts.amount_units and any(conversion_side(t, p.name) for t in tools for p in t.params):
        rules.append("conversion ends")
    if any(_currency_named(code, ctx.text) for code in _CURRENCIES):
        rules.append("currency codes")
    if any(_country_named(code, ctx.text) for code in _COUNTRIES) and \
            any("country" in f"{' '.join(words(p.name))} {p.schema.get('description', '')}".lower() for p in params):
        rules.append("country codes")
    if any(_gloss_said(k, str(p.schema.get("description", "")), ctx.text)
           for p in params for k in glossed_options(str(p.schema.get("description", "")))):
        rules.append("glosses")
    if facts._number_runs and any(len(ps) > 1 for ps in facts._number_params.values()):
        rules.append("listed numbers")
    if magnitudes(ctx.text):
        rules.append("magnitudes")
    if facts.legs and any(param_end(t, p.name) for t in tools for p in t.params):
        rules.append("way ends")
    if facts.word_lists and any("array" in _types(p.schema) for p in params):
        rules.append("word lists")
    said = content_words(ctx.text)  # every turn's words: relevance reads earlier turns too
    body = content_words(" ".join(f"{t.name} {t.description} " + " ".join(p.name for p in t.params)
                                  for t in example.specs()))
    if any(compound_head(a, b) or compound_head(b, a) for a in said for b in body):
        rules.append("compound words")
    return rules


ANSWER_RULES = ("opening", "held numbers", "noun codes", "one thing", "quote spans", "kind words", "function words",
                "same tokens", "joined lists", "name words", "articles", "stray signs", "not codes")
"""Rules that only lower a value's score or count a value as using more of the request: they change
the beam only where such a value was kept, and a kept value ends in the answer unless a finished
path beats its path later (not counted), so they are read from the carried answers (``answered``)."""


def answered(example, record: dict) -> set[str]:
    """The ``ANSWER_RULES`` a carried answer holds a value for: "opening" (``_Facts.opening``, a value
    that is the request's first words), "held numbers" (``_Facts.swallowed``: words that hold a
    number of another numeric parameter of the call's function), "noun codes" (``verifier._with_noun``: a code spelled by a name and the word after
    it, "CAD" of "Canadian dollars", and not by the name alone), "one thing" (``verifier.asks_one_thing``:
    a second call, where the request bears no mark of more than one of anything), "quote spans"
    (``_Facts.around_quote``: words around a phrase the request quotes), "kind words"
    (``_Facts.kind_for``: the tool's own words beside a name the request gives), "function words"
    (``_Facts.names_function``: an optional argument given the function's own name words), "same
    tokens" (a string another argument holds in other spelling, "lebron_james" and "LeBron James"),
    "joined lists" (``_Facts.joins_lists``: a list holding members of two lists the request spells out),
    "name words" (``_Facts.names_kind``: some words of the parameter's own name, "vehicle" for
    ``vehicle_type``), "articles" (``verifier._ARTICLE_NAME``: "the Treaty of Paris"), "stray signs"
    (``verifier.stray_sign``: ">546382" where the request writes 546382), "not codes"
    (``verifier.not_a_code``: "China" for ``countryCode``, "USA" for a two-character code)."""
    facts = _facts(ScoringContext(tuple(example.lc_messages()), tuple(example.specs())))
    tools = {t.name: t for t in example.specs()}

    def lists(value):
        if isinstance(value, list):
            yield value
        for inner in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
            yield from lists(inner)

    def strings(value):
        if isinstance(value, str):
            yield value
        for inner in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
            yield from strings(inner)

    found = {"one thing"} if len(record.get("calls") or []) > 1 and asks_one_thing(facts.request) else set()
    for call in record.get("calls") or []:
        tool = tools.get(call["name"])
        for name, arg in call["arguments"].items():
            others = {k: a for k, a in call["arguments"].items() if k != name}
            param = tool.param(name) if tool else None
            for v in strings(arg):
                if facts.opening(v):
                    found.add("opening")
                if tool and facts.swallowed(tool, name, v, others):
                    found.add("held numbers")
                if any(e.alias and _abbreviates(v, e.alias) and not _abbreviates(v, e.text) for e in facts.entities):
                    found.add("noun codes")
                if facts.around_quote(v):
                    found.add("quote spans")
                if param and isinstance(arg, str) and facts.kind_for(tool, param, v, others):
                    found.add("kind words")
                if param and isinstance(arg, str) and facts.names_function(tool, param, v):
                    found.add("function words")
                if param and isinstance(arg, str) and facts.names_kind(param, v):
                    found.add("name words")
                if _ARTICLE_NAME.match(v.strip()):
                    found.add("articles")
                if stray_sign(v, facts.evidence_raw):
                    found.add("stray signs")
                if param and isinstance(arg, str) and not_a_code(name, param.schema, v):
                    found.add("not codes")
                if any(isinstance(a, str) and len(a) >= 3 and tokens(a) == tokens(v)
                       and a.strip().lower() != v.strip().lower() for a in others.values()):
                    found.add("same tokens")
            if any(facts.joins_lists(x) for x in lists(arg)):
                found.add("joined lists")
    return found


READINGS = ("relevance", "ties", "opening", "entities")


def verifier_of(checkout: Path) -> ModuleType:
    """The verifier module of another checkout, loaded beside this one's (it imports this
    package's other modules, which a verifier change leaves alone)."""
    path = checkout / "langchain_toolprm" / "core" / "verifier.py"
    if not path.is_file():
        raise SystemExit(f"no verifier at {path}: --against takes a checkout of the package")
    spec = importlib.util.spec_from_file_location("_against_verifier", path)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "langchain_toolprm.core"
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def read_otherwise(example, other: ModuleType) -> list[str]:
    """The ``READINGS`` on which ``other``'s verifier and this one differ for ``example``."""
    messages, tools = tuple(example.lc_messages()), tuple(example.specs())
    ctx = ScoringContext(messages, tools)  # each verifier reads its own context: the facts are cached on it
    mine, theirs = _facts(ctx), other._facts(ScoringContext(messages, tools))
    out = []
    if mine.relevance != theirs.relevance or [mine.part_relevance(t) for t in ctx.tools] != \
            [theirs.part_relevance(t) for t in ctx.tools]:
        out.append("relevance")
    if any(mine.tied_to(p.name) != theirs.tied_to(p.name) for t in ctx.tools for p in t.params):
        out.append("ties")
    cuts = [m.end() for m in re.finditer(r"[A-Za-z0-9]+(?:\.[0-9]+)?", mine.request)]
    if any(mine.opening(mine.request[:c]) != theirs.opening(mine.request[:c]) for c in cuts):
        out.append("opening")
    if [astuple(e) for e in mine.entities] != [astuple(e) for e in theirs.entities]:  # two modules' classes
        out.append("entities")
    return out


def split(name: str) -> tuple[str, str | None]:
    benchmark, _, category = name.partition(":")
    return benchmark, category or None


def carry(source: Path, into: Path, name: str, carried_from: str, rules: list[str], shards: int = 1,
          against: ModuleType | None = None) -> None:
    benchmark, category = split(name)
    items = load_benchmark(benchmark, category)
    skip = {e.id for e in items if set(reached(e)) & set(rules) or against and read_otherwise(e, against)}
    folder = Path(benchmark, category or "all")  # as toolprm eval lays its results out
    files = sorted((source / folder).rglob(f"{LABEL}*.jsonl*"))
    if not files:
        raise SystemExit(f"no {LABEL} results under {source / folder}")
    records = [json.loads(line) for f in files for line in (gzip.open if f.suffix == ".gz" else open)(f, "rt")]
    if set(ANSWER_RULES) & set(rules):
        by_id = {e.id: e for e in items}
        skip |= {r["id"] for r in records if answered(by_id[r["id"]], r) & set(rules)}
    done = {r["id"]: {**r, "carried_from": carried_from} for r in records if r["id"] not in skip}
    keep = [done[e.id] for e in items if e.id in done]
    position = {e.id: i for i, e in enumerate(items)}
    for k in range(shards):
        target = into / folder / (f"{LABEL}.shard-{k}-of-{shards}.jsonl" if shards > 1 else f"{LABEL}.jsonl")
        if target.exists():
            raise SystemExit(f"{target} exists: carry into a fresh folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        append_jsonl(target, [r for r in keep if position[r["id"]] % shards == k])
    print(f"{name}: carried {len(keep)} of {len(items)} answers; {len(items) - len(keep)} to run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", help=f"benchmark[:category] (default: {', '.join(SETS)})")
    parser.add_argument("--carry", type=Path, help="a whole-set run of the previous commit (per-item folder)")
    parser.add_argument("--carried-from", help="that run's commit, recorded in each carried answer")
    parser.add_argument("--into", type=Path, help="the results folder a resumed toolprm eval then completes")
    parser.add_argument("--new", action="append", choices=RULES,
                        help="the rules the previous commit's run lacks (default: all)")
    parser.add_argument("--shards", type=int, default=1, help="carry into the files of toolprm eval --shard K/N")
    parser.add_argument("--against", type=Path,
                        help="a checkout of the previous commit: reach the items its verifier reads otherwise "
                             "(with it, --new defaults to none)")
    args = parser.parse_args()
    against = verifier_of(args.against) if args.against else None
    rules = args.new or ([] if against else list(RULES))
    for name in args.set or SETS:
        if args.carry:
            if not (args.into and args.carried_from):
                parser.error("--carry needs --into and --carried-from")
            carry(args.carry, args.into, name, args.carried_from, rules, args.shards, against)
            continue
        items = load_benchmark(*split(name))
        if against:
            diff = {e.id: read_otherwise(e, against) for e in items}
            print(f"{name}: {sum(bool(v) for v in diff.values())} of {len(items)} items read otherwise ("
                  + ", ".join(f"{r} {sum(r in v for v in diff.values())}" for r in READINGS) + "): "
                  + " ".join(i for i, v in diff.items() if v))
            continue
        rules = {e.id: reached(e) for e in items}
        counts = {r: sum(r in v for v in rules.values()) for r in RULES}
        print(f"{name}: {sum(bool(v) for v in rules.values())} of {len(items)} items reached ("
              + ", ".join(f"{r} {n}" for r, n in counts.items()) + ")")


if __name__ == "__main__":
    main()
