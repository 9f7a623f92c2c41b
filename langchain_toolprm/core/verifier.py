"""The training-free verifier: rules that judge each step of a call list against the request.

It decides where a small policy cannot (every signal can be switched off for ablations):

- **relevance**: content words of the conversation against each tool's name and description
  (for a tool whose call already has its result, the user's words since then count whole and
  the earlier ones at half, ``DONE_TASK_WEIGHT``). It ranks function names, and ``[]`` wins
  when no tool reaches ``relevance_threshold``;
- **coverage**: entities and numbers of the request (and, once a call uses one member of a list
  the user spells out, "copper and aluminum", the other members; each leg of a route, "from
  Miami back to New York") that no call uses yet favour another call: closing the list scores
  lower, the less of the request it uses the lower; another call that uses nothing new scores
  lower, and so does a value that takes an unused one's place, or that the request says only in
  another task's part ("a flight from Seattle to Boston and a hotel in Boston": the hotel is in
  Boston). A later call to a function keeps the optional arguments an earlier one set
  ("distances in miles" holds for every leg), and a call those whose description offers a value
  the request says ("e.g. vegan" for "a vegan menu");
- **grounding**: a value's words are looked up in the conversation word by word (a phrase, all
  its words, an abbreviation such as USD for "US dollars"), so over-long spans and values that
  swallow another argument's value are told apart from the user's own words. A value whose
  parameter states a date or time format (``%Y-%m-%d`` or ``YYYY-MM-DD`` in its description,
  JSON Schema's ``format: date``) must parse in it, and it is grounded when the conversation
  names each of its parts (the year, the month as a number or a name, the day...). A finished
  call the conversation gives none of the values of, inventing a number, scores below ``[]``,
  and so does one that needs a number (a required parameter) where the conversation writes none
  or leaves a required list empty.
  A free-text unit parameter takes a word the conversation writes as a unit ("5 meters", "in
  miles") or its description offers, not any word of the request ("circle", "distance"). A
  token parameter takes only a token a tool's result gave or the user calls one, and while the
  conversation has none, a function that takes one ranks below the offered function that issues
  it (API-Bank's GetUserToken before the task API);
- **schema copy**: a value that is schema text (a type name, the parameter's own name or
  description, the description's own example) rather than the user's words scores near zero,
  unless the user gives it as that parameter's value in so many words ("my password is password").

Scores are coarse levels in [0, 1] (see ``Levels``): a path ranks by its aggregated score and
the policy's log-probability breaks ties between equal levels.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from .backend import Usage
from .prompts import message_text
from .schema import ParamSpec, ToolSpec
from .scorers import ScoringContext, call_key
from .steps import Call, Step, StepTag, replay

_STOP = frozenset("""
a an the of to in on at for from by with and or but is are was were be been being am it its it's this that these
those what which who whom whose how when where why can could would should will shall may might must do does did
have has had i me my mine you your yours we our us they them their he him his she her hers please want wants
wanted need needs like tell show give let know about as into than then there here any some all each every also
just get got if so such not no yes up out over under very much many more most less few one ones s t
i'm i’m i'd i’d i've i’ve i'll i’ll
""".split())
_GENERIC = frozenset("""
get find calculate calculates calculation compute computes retrieve retrieves fetch search query check create make
list show set update delete add api info information data detail details tool function value values number numbers
given specific based using use uses return returns provide provides particular certain method methods result results
request perform performs determine determines obtain input output parameter parameters
""".split())
_PAGING = frozenset("page limit count size offset top max".split())
_LISTING = _PAGING | frozenset("per number no index pagination cursor next key return n k results result items item".split())
"""Words a listing's paging parameters are made of (``paging``)."""
_WORD_NUMBERS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_WORD_NUMBERS.update({"thirty": 30, "forty": 40, "fifty": 50, "hundred": 100, "thousand": 1000, "dozen": 12,
                      "half": 0.5, "twice": 2, "double": 2, "triple": 3})
_JSON_TYPES = frozenset({"string", "integer", "number", "boolean", "object", "array", "null", "float", "int",
                         "str", "bool", "dict", "list", "tuple", "any"})
_CONNECTIVES = frozenset({"to", "and", "from", "or", "versus", "vs", "into", "then"})
_LEAK = re.compile(r'["{}\[\]]|^\s|\s$|,$')
_STRAY_LEAD = re.compile(r"\s*([<>=:]+)\s*(?=[^\s<>=:])")
"""Comparison signs or a colon before the rest of a value: the tuned policy writes ">546382",
">3x^2 + 2x - 1" and ">(2019-2020)" where the request has the bare value (never right on BFCL,
docs/policy.md); signs alone (an operator's ">=") are no such value."""
_CALENDAR = ("year", "month", "day", "date", "hour", "minute", "second", "time", "season")
"""Words of a parameter's name that take a date's own numbers (``start_year``)."""
_TIME_UNITS = frozenset("""
second seconds sec secs minute minutes min mins hour hours hr hrs day days week weeks month months year years yr yrs
decade decades
""".split())
"""Units of time a number can be written in ("for 10 seconds", "a 5-day forecast")."""
_SPANS = frozenset("""
time duration age period term timeframe interval lifetime lifespan tenure seconds minutes hours days weeks months
years decades
""".split())
"""Words of a parameter's name that take a span of time (``exercise_time``, ``loan_term``, ``days``; not the
calendar's ``year`` or ``day``)."""
_SPAN_LENGTHS = {
    "day": {"days": 1, "hours": 24}, "week": {"days": 7, "weeks": 1}, "fortnight": {"days": 14, "weeks": 2},
    "month": {"days": 30, "weeks": 4, "months": 1}, "year": {"days": 365, "weeks": 52, "months": 12, "years": 1},
    "decade": {"months": 120, "years": 10}, "century": {"years": 100},
}
"""A span of time named without a count, in the units a parameter may count it in (a month as
30 days)."""
_NAMED_SPAN = re.compile(r"\b(?:next|past|last|coming|upcoming|following|previous|(?:for|over|within)\s+(?:a|one))"
                         rf"\s+({'|'.join(_SPAN_LENGTHS)})\b", re.I)
"""A span of time the request names without a count: "the next week", "over the past decade", "for a
month" (not "this year", a calendar year, nor "20 miles a day" or "4 times in a year", rates)."""
_COUNTED_UNIT = re.compile(r"\bnumber\s+of\s+(?:\w+\s+)?(days|weeks|months|years|hours)\b", re.I)
_IN_UNIT = re.compile(r"\bin\s+(days|weeks|months|years|hours)\b", re.I)


def calendar_param(name: str) -> bool:
    """Whether a parameter's name is for a date's part (``start_year``, ``days``): it takes the
    numbers the request writes inside dates."""
    return any(w.startswith(_CALENDAR) for w in words(name))
_NUMBER = re.compile(r"(?<![\w.^])-?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?")
"""A number as the user writes it: 1,000, 9.81, 1e-9; not an exponent (the 2 of m/s^2)."""
_EXAMPLE = re.compile(r"(?:e\.g\.|eg\.|for example|for instance|such as|example:|like)\s*[:,]?\s*(.+)", re.I)


def offered_values(description: str) -> list[str]:
    """The values a description offers after "e.g.", "such as", "for example"... ("the diet, e.g.
    vegan, gluten-free" offers "vegan" and "gluten-free"), up to a closing parenthesis."""
    m = _EXAMPLE.search(description)
    if not m:
        return []
    return [o for o in (o.strip(" '\".") for o in re.split(r",|\bor\b|/", m.group(1).split(")")[0])) if len(o) > 2]
_TASK_VERBS = (r"(?:get|find|calculate|compute|retrieve|fetch|search|check|create|make|generate|visit|show|give|book"
               r"|tell|provide|determine|convert|translate|identify|analy[sz]e|display|locate|invest|withdraw|buy"
               r"|order|send|set|add|list|predict|estimate|plan|recommend|suggest|what|how|who|which|where|when)")
_TASK_JOIN = rf"\band\s+(?:\w+\s+)?{_TASK_VERBS}\b"
""""... and book a hotel": where one sentence turns to another task."""
_SEVERAL_TASKS = re.compile(
    r"\b(also|additionally|then|as well|in addition|moreover|afterwards|after that|next|later|first|firstly|second"
    rf"|secondly|finally|few things|few tasks)\b|\?.*\?|;|{_TASK_JOIN}", re.I | re.S)
"""Words by which a request asks for several tasks ("Also, ...", "... and find ...", "First, ...",
two questions, requests between semicolons): only then is a function the request names owed a
call of its own. On the training sources' multi-tool requests it marks 96% of those whose gold
calls two functions or more and 14% of the rest (``python benchmarks/named_functions.py``)."""


def asks_several_tasks(request: str) -> bool:
    return _SEVERAL_TASKS.search(request) is not None


_MORE_THAN_ONE = re.compile(
    r"\b(?:and|or|each|both|respectively|also|as well|vs|versus|plus|between|then|every|multiple|several"
    r"|two|three|four|five)\b|[;&]|(?-i:[.?!]\s+[A-Z\"']|,\s*[A-Z0-9\"'$])|\d\s*(?:-|to)\s*\d", re.I)
"""A mark of more than one of anything: a coordinating word, a count, a list comma (before a name
or a number, not "per year, with"), a range, a second sentence. A request without one asks for one
thing: none of the training sources' 482 gold lists of two calls or more has such a request, 235 of
their one-call lists have (``python benchmarks/verifier_on_gold.py``)."""


def asks_one_thing(request: str) -> bool:
    """Whether the request bears no mark of more than one of anything (``_MORE_THAN_ONE``): "Find
    all Patent lawsuit cases of Facebook in 2018." asks one call, whatever name it leaves unused."""
    return _MORE_THAN_ONE.search(request) is None


_CLAUSE_BREAK = re.compile(rf"(?<=[.?!;])[\"')]?\s+(?=[\"'(]?[A-Z0-9])|\n+|\s*,?\s*(?=(?i:{_TASK_JOIN}))")
_TASK_START = re.compile(r"\W*(?:(?:and|but)\s+)?(?:also|additionally|then|in addition|moreover|furthermore"
                         r"|afterwards|after that|next|later|first|firstly|second|secondly|third|thirdly|fourth|lastly"
                         r"|finally)\b", re.I)
"""A task word that opens a part, "and" or "but" before it too ("And finally, could you ...")."""


def task_clauses(request: str, tools: Sequence[ToolSpec]) -> list[tuple[str, set[str]]]:
    """The request's parts, one per task, each with the functions whose own name words it says (a
    word of the function's name that no other function's name has). A part starts at a sentence
    or an "and" before a task's verb ("... to Boston and book a hotel in Boston") that opens with
    a task word ("Also", "Lastly") or that names a function the part before did not; any other
    sentence carries its part on ("Lastly, I made an investment. It was $5000. Could you ...")."""
    names = {t.name: content_words(t.name) for t in tools}
    own = {n: ws - set().union(*(v for k, v in names.items() if k != n)) for n, ws in names.items()}
    out: list[tuple[str, set[str]]] = []
    for piece in filter(None, (p.strip() for p in _CLAUSE_BREAK.split(request))):
        stems = {stem(w) for w in words(piece)}
        claims = {n for n, ws in own.items() if any(_covered_by(w, stems) for w in ws)}
        if out and not _TASK_START.match(piece) and not (claims and out[-1][1] and not claims <= out[-1][1]):
            text, before = out.pop()
            piece, claims = f"{text} {piece}", before | claims
        out.append((piece, claims))
    return out


def words(text: str) -> list[str]:
    """Lower-cased words and numbers, camelCase and snake_case split."""
    text = re.sub(r"([a-z])([A-Z])", r"\1 \2", text)
    return [w.lower() for w in re.findall(r"[A-Za-z]+|\d+(?:\.\d+)?", text)]


def tokens(text: str) -> list[str]:
    """Lower-cased alphanumeric runs, as grounding compares them: "J46801" stays one token, so
    "46801" is not its whole; decimals stay whole."""
    return re.findall(r"[a-z0-9]+(?:\.[0-9]+)?", text.lower())


def _squeezed(text: str) -> str:
    """Lower case without whitespace: how a value is looked for in the request as written."""
    return re.sub(r"\s+", "", text).lower()


def stray_sign(value: str, text: str) -> str | None:
    """The signs (``_STRAY_LEAD``) that open ``value`` where ``text`` does not write them there."""
    lead = _STRAY_LEAD.match(value)
    return lead.group(1) if lead and _squeezed(value) not in _squeezed(text) else None


def stem(word: str) -> str:
    """A light suffix stripper: enough that 'areas'/'area' and 'calculating'/'calculate' meet."""
    for suffix, repl in (("ations", ""), ("ation", ""), ("ings", ""), ("ing", ""), ("ies", "y"), ("ied", "y"),
                         ("es", ""), ("ed", ""), ("ly", ""), ("s", ""), ("e", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: len(word) - len(suffix)] + repl
    return word


def content_words(text: str) -> set[str]:
    """The stems that say what a text is about: no stop words, generic verbs or numbers."""
    return {stem(w) for w in words(text) if w not in _STOP and w not in _GENERIC and not w[0].isdigit()
            and len(w) > 1}


def _meets(a: str, b: str, coined: bool = True) -> bool:
    """Whether two stems name one thing: equal, one the other's start ("calculat", "calculator"),
    an "-ular" adjective and its "-le" noun ("circular" and "circl", "rectangular" and
    "rectangl"; not "particular", a generic word, and "particl"), or a compound's head
    (``compound_head``). Without ``coined``, ``a`` may be the head but not the compound: a user's
    own one-word compound is often a value they coin ("newpassword"), not a name."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short) or \
        long_.endswith("ular") and long_ not in _GENERIC and long_[:-4] + "l" == short or \
        compound_head(long_, short) and (coined or long_ == b)


_PREFIXES = ("re", "un", "pre", "dis", "mis", "non", "over", "under", "sub", "super", "inter")


def compound_head(word: str, head: str) -> bool:
    """Whether ``word`` is a compound written as one word that ends in ``head``, six letters at
    least, after three letters or more that are no prefix ("geodistance" and "distance"; not
    "research" and "search")."""
    return len(head) >= 6 and len(word) - len(head) >= 3 and word.endswith(head) and not word.startswith(_PREFIXES)


def _covered_by(word: str, pool: Iterable[str], coined: bool = True) -> bool:
    return any(_meets(word, p, coined) for p in pool)


_KIND_OF = {
    **dict.fromkeys(map(stem, "dollar euro yen rupee franc peso yuan renminbi ruble rouble usd eur jpy cad aud inr "
                                  "cny".split()), "currency"),
    **dict.fromkeys(map(stem, "rain rainy snow snowy sunny storm stormy cloudy windy foggy humid humidity".split()),
                    "weather"),
}
"""Stems of words that name a thing of a kind a tool speaks of by the kind's own word: a euro is a
currency ("100 euro in USD" and ``currency_conversion``), rain is weather ("Is it raining in
Berlin?" and ``get_weather``). Not "pound" (a weight as often as money) nor "temperature" (science
tools take it as often as weather ones)."""
_ASKS_WHEN = re.compile(r"(?:^|[.?!]\s+)[\"']?when\s+(?:was|were|did|is|are|does|do|will|has|have|had)\b", re.I)
"""A question that asks for a date: it speaks of a tool named for dates ("When was the Treaty of
Lisbon signed?" and ``get_event_date``)."""


def relevance(request: str, tool: ToolSpec) -> float:
    """How much of the tool the request speaks of, in [0, 1].

    The mean of two shares: the tool's own name words found in the request, and the request's
    content words found in the tool's name, description and parameters; a word that names a thing
    of a kind (``_KIND_OF``: "euro", "rain") also counts as the kind's word ("currency", "weather"), and
    a question "When was ...?" as "date". Generic verbs ("get",
    "calculate") and stop words carry nothing (though a generic request word may name a tool:
    "calculate" and a "Calculator"); numbers are left to grounding.
    """
    req = content_words(request)
    if not req:
        return 0.0
    kinds = {_KIND_OF[w] for w in req if w in _KIND_OF} | ({stem("date")} if _ASKS_WHEN.search(request) else set())
    asked = req | kinds | {stem(w) for w in words(request) if w in _GENERIC}  # "calculate" names a "Calculator"
    name = content_words(tool.name)
    text = " ".join([tool.name, tool.description] + [p.name + " " + str(p.schema.get("description", ""))
                                                     + " " + " ".join(map(str, p.choices or ())) for p in tool.params])
    body = content_words(text) | _abbreviated(request, text)
    named = _spelled_names(text)
    said = sum(_covered_by(w, asked, coined=w not in named) for w in name) / len(name) if name else None
    told = sum(_covered_by(w, body, coined=False) or w in _KIND_OF and _covered_by(_KIND_OF[w], body) for w in req) / len(req)
    return told if said is None else (said + told) / 2


def _spelled_names(text: str) -> set[str]:
    """Stems of compounds a tool's text spells out as a capitalised name ("openlibrary" of "the
    Open Library"): a proper name, which only its whole names, not a kind of its head ("library")."""
    return {stem((a + b).lower()) for a, b in re.findall(r"\b([A-Z][a-z]+) ([A-Z][a-z]+)\b", text)}


_PLAIN_ACRONYMS = frozenset({"API", "URL", "URI", "ID", "JSON", "HTTP", "HTTPS", "HTML", "XML", "SQL", "UTC", "GMT",
                             "CSV", "PDF", "ISO"})


def _abbreviated(request: str, text: str) -> set[str]:
    """Stems of request words that an all-capitals code in ``text`` abbreviates: "USD" covers "US
    dollars", "EUR" covers "euros" (a tool's codes against the user's full words)."""
    codes = set(re.findall(r"\b[A-Z]{3,6}\b", text)) - _PLAIN_ACRONYMS
    ws = re.findall(r"[A-Za-z]+", request)
    out: set[str] = set()
    for code in codes:
        for i in range(len(ws)):
            for k in (1, 2, 3):
                span = ws[i:i + k]
                if len(span) == k and _abbreviates(code, " ".join(span)) and ws[i][0].lower() == code[0].lower():
                    out |= {stem(w.lower()) for w in span}
                    break
    return out


def _within(seq: list[str], a: list[str], b: list[str], gap: int) -> bool:
    """Whether ``seq`` writes the phrases ``a`` and ``b`` with at most ``gap`` tokens between them."""
    def starts(p: list[str]) -> list[int]:
        return [i for i in range(len(seq) - len(p) + 1) if p and seq[i:i + len(p)] == p]
    return any(0 <= j - (i + len(x)) <= gap for x, y in ((a, b), (b, a)) for i in starts(x) for j in starts(y))


def _numbers_in(text: str) -> list[float]:
    out = [float(n.replace(",", "")) for n in _NUMBER.findall(text)]
    out += [float(v) for w, v in _WORD_NUMBERS.items() if re.search(rf"\b{w}\b", text, re.I)]
    return list(magnitudes(text).values()) + out  # the amount first: the search offers the first few


_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "k": 1e3, "m": 1e6, "mn": 1e6,
          "b": 1e9, "bn": 1e9}
_MAGNITUDE = re.compile(r"(?P<sign>[$€£¥]\s?)?(?<![\w.^])(?P<n>\d+(?:,\d{3})*(?:\.\d+)?)"
                        r"(?:\s*(?P<word>thousand|million|billion|trillion)\b|(?P<suffix>[KMB]|bn|mn)\b)", re.I)
"""A number with its magnitude: "50 million", "1.2 billion", and after a currency sign "$1M", "$10K",
"€2bn" (a bare "5M" may be metres)."""


def magnitudes(text: str) -> dict[int, float]:
    """Where each number the text writes with a magnitude starts, and the number it means ("$1.2M":
    1200000): a policy writes the 1.2 it reads, a tool wants the amount."""
    out = {}
    for m in _MAGNITUDE.finditer(text):
        scale = m.group("word") or (m.group("suffix") if m.group("sign") else None)
        if scale:
            out[m.start("n")] = float(m.group("n").replace(",", "")) * _SCALE[scale.lower()]
    return out


_EXPRESSION = re.compile(r"(?<![\w.])[(\d][\d\s.()]*(?:[-+*/^x×÷][\d\s.()]*)+[\d)]")


def expressions(text: str) -> list[str]:
    """Arithmetic the text writes out ("(5+6)*3", "12 / 4"): two numbers or more joined by
    operators, parentheses balanced; numbers joined by bare hyphens (a date, a phone number) are
    none."""
    out = []
    for m in _EXPRESSION.finditer(text):
        e = m.group(0).strip()
        depth = 0
        for c in e:
            depth += {"(": 1, ")": -1}.get(c, 0)
            if depth < 0:
                break
        hyphens_only = not re.search(r"[+*/^x×÷()\s]", e)  # a date or a phone number, not a difference
        if depth == 0 and not hyphens_only and len(re.findall(r"\d+(?:\.\d+)?", e)) >= 2 \
                and re.search(r"\d\s*[-+*/^x×÷]", e):
            out.append(e)
    return out


def _value_numbers(value: Any) -> list[float]:
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, (int, float)):
        return [float(value)]
    if isinstance(value, str):  # digits inside a word count too ("Maroon5")
        return [float(n) for n in re.findall(r"\d+(?:\.\d+)?", value)] + \
            [float(v) for w, v in _WORD_NUMBERS.items() if re.search(rf"\b{w}\b", value, re.I)]
    if isinstance(value, list):
        return [n for v in value for n in _value_numbers(v)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _value_numbers(v)]
    return []


_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_DATE_LIKE = re.compile(r"(?<!\d)(?:\d{4}[-/.](?P<iso>\d{1,2})[-/.]\d{1,2}|(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.]\d{2,4})(?!\d)")


def _value_words(value: Any) -> set[str]:
    """A value's words; a date written in numbers ("2022-03-15") also names its month ("march"),
    so it uses the request's "March 15th"."""
    if isinstance(value, str):
        months = {int(n) for m in _DATE_LIKE.finditer(value) for n in m.group("iso", "a", "b") if n}
        return set(words(value)) | {w for n in months if 1 <= n <= 12 for w in (_MONTHS[n - 1], _MONTHS[n - 1][:3])}
    if isinstance(value, list):
        return {w for v in value for w in _value_words(v)}
    if isinstance(value, dict):
        return {w for v in value.values() for w in _value_words(v)}
    return set()


def _same_number(a: float, b: float) -> bool:
    """Whether value ``a`` is the request's ``b``: equal, or a fraction of a percentage (0.05 of "5%")."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15) or (abs(a) < 1 and math.isclose(a * 100, b, rel_tol=1e-9))


@dataclass(frozen=True)
class Entity:
    """Something the request names that a call may have to carry: a number or a name."""

    text: str
    number: float | None = None
    function: str | None = None
    """Owed to calls of this function only (a sibling of one of its values); None: to any call."""
    alias: str | None = None
    """The name the request gives it in parentheses ("AAPL" of "Apple Inc. (AAPL)"), else the name
    with the plain word after it ("Canadian dollars", which "CAD" abbreviates): a call that uses
    either uses it."""
    to: str | None = None
    """Where a leg of a route from ``text`` ends ("from Miami back to New York"): one call must
    use both (in either order: "go to Miami from Washington" may be a route with a stop)."""
    param: str | None = None
    """An option of this parameter (of ``function``): only that argument uses it."""
    clock: bool = False
    """The hour of a time the request writes ("7" of "7pm"): a value that writes that time on a
    24-hour clock ("19:00:00") uses it."""
    bare: float | None = None
    """The number as written where a magnitude scales it (50 of "50 million", ``number`` 5e7): a
    value of either uses it (a parameter may count in millions; the verifier judges the value)."""

    def means(self, n: float) -> bool:
        """Whether number ``n`` is this entity's number, as meant or as written."""
        return self.number is not None and _same_number(n, self.number) or \
            self.bare is not None and _same_number(n, self.bare)

    def used_by(self, calls: Sequence[Call]) -> bool:
        if self.to is not None:
            return any(self._leg_of(c) for c in calls if self.function in (None, c.name))
        if self.param is not None:  # an option: its own argument set to it ("Aa" is not "aa")
            return any(c.name == self.function and c.arguments.get(self.param) == self.text for c in calls)
        values = [v for c in calls if self.function in (None, c.name) for v in c.arguments.values()]
        if self.number is not None:
            return any(self.means(n) for v in values for n in _value_numbers(v)) or self.clock and any(
                m[0] == 2 and self.number in (m[1], m[1] % 12 or 12) for v in values if isinstance(v, str)
                for m in moments(v))
        pool = set().union(*(_value_words(v) for v in values)) if values else set()
        for text in filter(None, (self.text, self.alias)):
            mine = set(words(text))
            if mine and (mine <= pool or any(_codes(v, text) for v in values if isinstance(v, str))):
                return True
        said = moments(self.text)
        return bool(said) and any(said <= moments(v) for v in values if isinstance(v, str))

    def _leg_of(self, call: Call) -> bool:
        return all(Entity(end).used_by([call]) for end in (self.text, self.to or ""))


_CURRENCIES = {
    "USD": ("us dollar", "u.s. dollar", "united states dollar", "american dollar"), "EUR": ("euro",),
    "JPY": ("yen",), "GBP": ("british pound", "pound sterling", "sterling"), "CHF": ("swiss franc",),
    "CNY": ("yuan", "renminbi"), "INR": ("indian rupee",), "CAD": ("canadian dollar",),
    "AUD": ("australian dollar",), "NZD": ("new zealand dollar",), "HKD": ("hong kong dollar",),
    "SGD": ("singapore dollar",), "MXN": ("mexican peso",), "BRL": ("brazilian real",), "RUB": ("ruble", "rouble"),
    "KRW": ("korean won",), "SEK": ("swedish krona",), "NOK": ("norwegian krone",), "DKK": ("danish krone",),
    "ZAR": ("south african rand",), "TRY": ("turkish lira",), "THB": ("thai baht", "baht"),
}
"""ISO 4217 codes of the most traded currencies and the names a request calls them by. A code is
no abbreviation of its name ("JPY" of "Japanese yen", "GBP" of "British pounds"), and currency tools
ask for codes; a bare "dollar" names none (Canadian? US?)."""


_COUNTRIES = {
    "US": ("united states", "usa", "america"), "GB": ("united kingdom", "great britain", "britain"),
    "CN": ("china",), "JP": ("japan",), "DE": ("germany",), "FR": ("france",), "IT": ("italy",),
    "ES": ("spain",), "PT": ("portugal",), "NL": ("netherlands", "holland"), "BE": ("belgium",),
    "CH": ("switzerland",), "AT": ("austria",), "SE": ("sweden",), "NO": ("norway",), "DK": ("denmark",),
    "FI": ("finland",), "IE": ("ireland",), "PL": ("poland",), "CZ": ("czech republic", "czechia"),
    "HU": ("hungary",), "RO": ("romania",), "GR": ("greece",), "TR": ("turkey",), "UA": ("ukraine",),
    "RU": ("russia",), "CA": ("canada",), "MX": ("mexico",), "BR": ("brazil",), "AR": ("argentina",),
    "CL": ("chile",), "CO": ("colombia",), "PE": ("peru",), "AU": ("australia",), "NZ": ("new zealand",),
    "IN": ("india",), "PK": ("pakistan",), "KR": ("south korea", "korea"), "SG": ("singapore",),
    "TH": ("thailand",), "VN": ("vietnam",), "ID": ("indonesia",), "MY": ("malaysia",),
    "PH": ("philippines",), "IL": ("israel",), "SA": ("saudi arabia",), "AE": ("united arab emirates", "uae"),
    "EG": ("egypt",), "ZA": ("south africa",), "NG": ("nigeria",), "KE": ("kenya",),
}
"""ISO 3166-1 alpha-2 codes of about fifty countries and the names a request calls them by: a
country code ("CN", "DE") is no abbreviation of its name, and holiday and country tools ask for it."""


def _currency_named(value: str, text: str) -> bool:
    """Whether ``value`` is the code of a currency ``text`` names ("JPY" where "20000 Japanese Yen")."""
    return _named_in(_CURRENCIES, value, text)


def _country_named(value: str, text: str) -> bool:
    """Whether ``value`` is the code of a country ``text`` names ("DE" where "in Germany"), in either
    case ("CN or cn represents China")."""
    return _named_in(_COUNTRIES, value.upper(), text) if len(value.strip()) == 2 else False


def _named_in(table: dict[str, tuple[str, ...]], value: str, text: str) -> bool:
    names = table.get(value.strip()) if value.strip().isupper() else None
    return bool(names) and any(re.search(rf"\b{re.escape(n)}s?\b", text, re.I) for n in names)


_STATED_LENGTH = re.compile(r"(?<!up to )(?<!at most )(?<!maximum )(?<!max )\b(two|three|four|five|2|3|4|5)[- ]?"
                            r"(?:characters?|chars?|letters?|digits?)\b", re.I)


def stated_length(schema: dict[str, Any]) -> int | None:
    """The exact length a parameter's description gives its values ("Two-character represented
    country code", "a 5-digit zip code"); None where it gives none, only a bound ("up to 3
    letters") or two ("a two-letter state code or a 5-digit zip code")."""
    found = {int(_WORD_NUMBERS.get(n.lower(), n)) for n in _STATED_LENGTH.findall(str(schema.get("description") or ""))}
    return found.pop() if len(found) == 1 else None


_A_CODE = re.compile(r"\W*(?:(?!(?:whose|which|that|for|where|of|in|to|with|by)\b)[\w-]+\s+){0,4}?codes?\b", re.I)
"""A description that opens by calling the value a code ("The ICAO code of the airport", "ISO
3166-1 alpha-2 country code"), not one that speaks of another thing's code ("The region whose
building code applies")."""


def not_a_code(name: str, schema: dict[str, Any], value: str) -> str | None:
    """Why ``value`` is no value for a parameter that takes a code (its name says "code", or its
    description opens so, ``_A_CODE``; or the description gives a length): a country's or
    currency's name ("China" for ``countryCode``, "Germany" for ``icao_code``), whose code the
    search offers beside it and which the API would refuse, or a length other than the stated one
    ("USA" for a two-character code). The verifier grounds a name and its code alike, so without
    this the policy decides."""
    length = stated_length(schema)
    if length is not None and len(value.strip()) != length:
        return f"{len(value.strip())} characters where the parameter states {length}"
    if not ("code" in words(name) or _A_CODE.match(str(schema.get("description") or ""))) or value.strip().isupper():
        return None
    plain = value.strip().lower()
    return next((f"the name of {code!r}" for table in (_COUNTRIES, _CURRENCIES) for code, names in table.items()
                 if any(plain in (n, f"{n}s") for n in names)), None)


def named_codes(request: str, name: str, schema: dict[str, Any]) -> list[str]:
    """The codes of the currencies the request names, for a parameter that speaks of currencies
    (``base_currency``, or a description "the currency to convert to"), and of its countries, for
    one that speaks of a country's code (``countryCode``), and the option codes a description
    glosses by words the request says ("f" of "(f: Fahrenheit)"): the search offers them, since a
    base policy writes the name it read ("Japanese Yen", "Germany") where the tool wants "JPY", "DE"."""
    said = f"{' '.join(words(name))} {schema.get('description', '')}".lower()
    table = _CURRENCIES if "currenc" in said else _COUNTRIES if "country" in said and "code" in said else {}
    glossed = [k for k in glossed_options(str(schema.get("description", "")))
               if _gloss_said(k, str(schema.get("description", "")), request)]
    return [code for code in table if _named_in(table, code, request)] + glossed


def word_lists(ctx: ScoringContext, schema: dict[str, Any]) -> list[list[str]]:
    """For an array of strings, the lists of words the request coordinates ("chicken and
    mushrooms": ``_Facts.word_lists``), which the search offers whole; none for other schemas."""
    items = schema.get("items")
    if "array" not in _types(schema) or not isinstance(items, dict) or "string" not in _types(items):
        return []
    return _facts(ctx).word_lists


def _codes(value: str, phrase: str) -> bool:
    """Whether ``value`` is a code of ``phrase``: its abbreviation or its currency's code."""
    return _abbreviates(value, phrase) or _currency_named(value, phrase) or _country_named(value, phrase)


def _abbreviates(value: str, phrase: str) -> bool:
    """'USD' for 'US dollars', 'EUR' for 'euros', 'NYC' for 'New York City': a short all-capitals
    value spelled by the starts of the phrase's consecutive words."""
    v = value.strip()
    if not (2 <= len(v) <= 6 and v.isalpha() and v.isupper()):
        return False
    ws = [w.lower() for w in re.findall(r"[A-Za-z]+", phrase)]
    target = v.lower()

    def spell(i: int, rest: str) -> bool:
        if not rest:
            return True
        if i >= len(ws):
            return False
        return any(ws[i].startswith(rest[:k]) and spell(i + 1, rest[k:]) for k in range(len(rest), 0, -1))

    return any(ws[i].startswith(target[0]) and spell(i, target) for i in range(len(ws)))


class _Name(NamedTuple):
    text: str
    qualifier: bool
    start: int
    end: int
    aside: bool = False
    """A qualifier in parentheses: another name for the name before it ("AAPL" of "Apple Inc. (AAPL)")."""


_NAME_TOKEN = re.compile(r"[\w'’-]+?(?=['’]s\b)|['’]s\b|[\w'’-]+|[.!?;:,()]")
"""A word, a possessive "'s" on its own, or a punctuation mark that may end a name."""


def _name_runs(request: str, tool_words: frozenset[str] | set[str] = frozenset()) -> list[_Name]:
    """Proper names of the request in order (capitalised words not opening a sentence, or
    all-capitals words; none that the tools' own texts use, no plain acronym such as "ID"), with their character span and
    whether the name only qualifies the one before it: "Colorado" of "Denver, Colorado", a name
    after a lone comma that no further comma, "and" or "or" follows ("Paris, London and Rome" is
    a list), or a name in parentheses right after another ("C6H12O6 (Glucose)"). A possessive
    "'s" is no part of the name and ends it ("Microsoft" of "Microsoft's stocks"); "of" (and "of
    the") between a capitalised word and another keeps one name ("Treaty of Lisbon"; not "CEO of
    Tesla", where an acronym comes first)."""
    toks = [(m.group(0), m.start(), m.end()) for m in re.finditer(_NAME_TOKEN, request)]
    toks.append((".", len(request), len(request)))
    spans: list[tuple[int, int]] = []  # token index ranges
    run: list[int] = []
    opening = True

    def joins(i: int) -> bool:  # "of" inside a name: "Treaty of Lisbon", "President of the United States"
        if not run or toks[i][0] not in ("of", "the"):
            return False
        if toks[i][0] == "the":
            return toks[run[-1]][0] == "of"
        before = toks[run[-1]][0]
        after = toks[min(i + 2, len(toks) - 1) if toks[i + 1][0] == "the" else i + 1][0]
        return before[:1].isupper() and not before.isupper() and after[:1].isupper() and after.lower() not in _STOP

    for i, (tok, _, _) in enumerate(toks):
        if tok == "." and run and len(toks[run[-1]][0]) <= 3 and toks[run[-1]][0][:1].isupper():
            continue  # "Dr. Lee", "St. Louis": the abbreviation's full stop ends no sentence
        capital = tok[:1].isupper() and (not opening or (tok.isupper() and len(tok) > 1))
        if capital and tok.lower() not in _STOP and tok.lower() not in tool_words and tok not in _PLAIN_ACRONYMS \
                or joins(i):
            run.append(i)
        else:
            if run:
                spans.append((run[0], i))
            run = []
        opening = tok in ".!?" or (opening and not tok[:1].isalnum())
    if run:  # the request ends on an abbreviation ("... or NYC.")
        spans.append((run[0], len(toks) - 1))
    out = []
    for k, (first, end) in enumerate(spans):
        text = " ".join(toks[j][0] for j in range(first, end) if toks[j][0] != ".")
        between = [t for t, _, _ in toks[spans[k - 1][1]:first]] if k > 0 else []
        aside = between == ["("] and toks[end][0] == ")"
        qualifier = aside or (between == [","] and toks[end][0].lower() not in (",", "and", "or"))
        out.append(_Name(text, qualifier, toks[first][1], toks[end - 1][2], aside))
    return out


_QUOTED = re.compile(r"\"([^\"\n]{2,60})\"|“([^”\n]{2,60})”|(?<!\w)'([^'\n]{2,60})'(?!\w)")
"""A quoted phrase: quotes of one kind ("...", “...”, '...'), and single quotes no letter touches
from outside, so the apostrophes of "I'm planning ... so I'd" quote nothing, nor a request's
opening double quote and the single quote of 'Call of Duty' inside it."""


_IDENTIFIER = re.compile(r"(?<![\w.@/-])(?:[\w-]+\.(?:wav|mp3|txt|csv|json|png|jpe?g|pdf|xlsx?|docx?|py|html|zip"
                         r"|mp4)|[A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_]+)(?![\w@/-]|\.\w)")
"""A snake_case identifier or a file name the request writes ("my_backyard_image_url",
"report.csv"): on the training sources' requests, all 40 that are no tool's or parameter's name
are gold values (``python benchmarks/identifiers.py``). A span around one is over-long."""


_PLAIN_WORD = re.compile(r"\s+([a-z]+)\b")


def _with_noun(request: str, name: _Name) -> str | None:
    """The name and the lower-case word right after it ("Canadian dollars" of "How many Canadian
    dollars ..."), whose initials a code may spell ("CAD"); None when a stop word follows."""
    m = _PLAIN_WORD.match(request, name.end)
    return f"{name.text} {m.group(1)}" if m and m.group(1) not in _STOP else None


_CODE_WORD = re.compile(r"\b(?:tickers?|symbols?|codes?|abbreviat\w*|acronyms?|stands? for|short for)\b", re.I)


def _spelled_codes(request: str, names: Sequence[_Name]) -> dict[str, str]:
    """Codes the request writes beside the name they stand for, by name, where it speaks of codes
    (``_CODE_WORD``): "AAPL" of "Apple's stock price ... The ticker is AAPL". One thing, said twice:
    a call that uses either uses it. A code is 3-6 capitals of the request (a tool's text may give
    it as an example, so it need be no name); its letters, doubled ones once, run in order through
    one name from its first letter (``_in_order``), or it abbreviates the name's words. Without a
    word for codes, "Amsterdam" and "AMD" stay two things."""
    out: dict[str, str] = {}
    if not _CODE_WORD.search(request):
        return out
    codes = [c for c in dict.fromkeys(re.findall(r"\b[A-Z]{3,6}\b", request)) if c not in _PLAIN_ACRONYMS]
    for n in names:
        if n.text in codes or n.text in out:
            continue
        code = next((c for c in codes if c not in out.values() and (_in_order(c, n.text) or _abbreviates(c, n.text))),
                    None)
        if code:
            out[n.text] = code
    return out


def _in_order(code: str, name: str) -> bool:
    """Whether the letters of ``code`` (a doubled letter once) run in order through the one word
    ``name`` from its first letter: "AAPL" through "Apple", "AMZN" through "Amazon"."""
    word = name.lower()
    letters = re.sub(r"(.)\1+", r"\1", code.lower())
    if " " in word or not word.startswith(letters[0]):
        return False
    rest = iter(word)
    return all(ch in rest for ch in letters)


def request_entities(request: str, tools: Sequence[ToolSpec]) -> list[Entity]:
    """Numbers, quoted strings, identifiers (``_IDENTIFIER``) and proper names of the request
    (``_name_runs``: a name that only qualifies the one before it, the "Colorado" of "Denver,
    Colorado", is none of its own, nor a name inside a quoted phrase)."""
    tool_words = {w for t in tools for w in words(t.name + " " + t.description)}
    hours = {m.start("h") if m.group("h") else m.start("H") for m in _SAID_TIME.finditer(request) if not m.group("noon")}
    scaled = magnitudes(request)
    found: list[Entity] = [Entity(m.group(0), scaled.get(m.start(), float(m.group(0).replace(",", ""))),
                                  clock=m.start() in hours,
                                  bare=float(m.group(0).replace(",", "")) if m.start() in scaled else None)
                           for m in _NUMBER.finditer(request)]
    quotes = list(_QUOTED.finditer(request))
    found += [Entity(next(g for g in m.groups() if g is not None)) for m in quotes]
    own = {t.name for t in tools} | {p.name for t in tools for p in t.params}
    found += [Entity(m.group(0)) for m in _IDENTIFIER.finditer(request) if m.group(0) not in own]
    found.extend(named_options(request, tools))
    names = [n for n in _name_runs(request, tool_words)  # a quoted phrase is one thing, not its names
             if not any(m.start() <= n.start and n.end <= m.end() for m in quotes)]
    spelled = _spelled_codes(request, [n for n in names if not n.qualifier])
    for k, n in enumerate(names):
        after = names[k + 1] if k + 1 < len(names) else None
        if not n.qualifier and n.text not in spelled.values():
            alias = after.text if after is not None and after.aside else spelled.get(n.text) or _with_noun(request, n)
            found.append(Entity(n.text, alias=alias))
    options = {e.text.lower() for e in found if e.param}  # an option is the name's reading
    seen: set[tuple[str, str | None]] = set()
    out = []
    for e in found:
        key = (e.text if e.param else e.text.lower(), e.param)  # options are told apart by case
        if key not in seen and (e.param or key[0] not in options):
            seen.add(key)
            out.append(e)
    return out


_JOINER = r"[\W_]+"
"""What may stand between an option's words in the request ("five_years" as "five years")."""


_CLOSED = re.compile(r"\b(?:can be(?: one of| either)?|must be one of|one of|either|possible values(?: are)?"
                     r"|valid values(?: are)?|options are)\s*:?\s*(.+)", re.I)


def stated_options(description: str) -> list[str]:
    """The values a description names as the only ones: "It can be length, width or diagonal",
    "one of: daily, weekly" (two at least, each of three words at most)."""
    m = _CLOSED.search(description)
    if not m:
        return []
    options = [o.strip(" '\"`") for o in re.split(r",|\bor\b|/", re.split(r"[.;)]", m.group(1))[0])]
    options = [o for o in options if o and o.lower() not in ("etc", "and so on")]
    return options if len(options) >= 2 and all(len(o.split()) <= 3 for o in options) else []


def _plain(param: ParamSpec, value: str) -> bool:
    """Whether ``value`` is plain words, as a kind of thing is written (no identifier, code or
    number), and none of the parameter's options (``_an_option``): what the kind rules read."""
    return re.fullmatch(r"[A-Za-z][A-Za-z -]*", value) is not None and not _an_option(param, value)


def _an_option(param: ParamSpec, value: str) -> bool:
    """Whether ``value`` is one of the parameter's options, by its enum or as its description states
    them ("It can be length, width or diagonal"): the tool's own word, and a right value."""
    options = [*(param.choices or ()), *stated_options(str(param.schema.get("description", "")))]
    return value.strip().lower() in {str(o).lower() for o in options}


_GLOSS = re.compile(r"(?<![\w-])([A-Za-z0-9]{1,3})\s*[:=]\s*([A-Za-z][A-Za-z ]{2,30}?)\s*(?=[,;)]|$)")


def glossed_options(description: str) -> dict[str, str]:
    """Short option codes a description glosses in a parenthesis: "(m: Metric, s: Scientific,
    f: Fahrenheit)" gives {"m": "Metric", ...}; two at least, or none."""
    found = {k: g.strip() for inner in re.findall(r"\(([^()]*)\)", description) for k, g in _GLOSS.findall(inner)}
    return found if len(found) >= 2 else {}


def _gloss_said(code: str, description: str, text: str) -> str | None:
    """The gloss of option ``code`` that ``text`` says ("Fahrenheit" for "f"), or None."""
    gloss = glossed_options(description).get(code.strip())
    return gloss if gloss and re.search(rf"\b{re.escape(gloss)}\b", text, re.I) else None


def named_options(request: str, tools: Sequence[ToolSpec]) -> list[Entity]:
    """Options of one parameter the request names two or more of, each owed a call of its
    function ("the past year and the past five years": ``time_frame`` year and five_years). The
    options are the schema's, or else those its description states (``stated_options``).
    Each option is matched as a phrase; one inside a longer option's match names only the longer
    ("new" of "like new"), and options that differ only by case ("AA", "aa") are matched by case."""
    out = []
    for tool in tools:
        for param in tool.params:
            choices = [c for c in param.choices if isinstance(c, str)] if param.choices else \
                stated_options(str(param.schema.get("description", "")))
            folded = Counter(c.lower() for c in choices)
            spans = {}
            for c in choices:
                parts = re.findall(r"[A-Za-z0-9]+", c)
                if parts:
                    flags = 0 if folded[c.lower()] > 1 else re.I
                    phrase = _JOINER.join(map(re.escape, parts))
                    spans[c] = [m.span() for m in re.finditer(rf"\b{phrase}\b", request, flags)]
            named = [c for c, mine in spans.items() if any(
                not any(a <= x and y <= b and (a, b) != (x, y) for o, theirs in spans.items() if o != c for a, b in theirs)
                for x, y in mine)]
            if len(named) >= 2:
                out.extend(Entity(c, function=tool.name, param=param.name) for c in named)
    return out


_FILLER = r"(?:(?:my|the|our|your|his|her|their|a|an|[a-z]+['’]s)\s+)?(?:[a-z]+\s+){0,2}?(?:(?:in|at)\s+)?"
"""What may stand between "from" or "to" and a place's name: "my office in", "my friend's house in"."""
_LEG_FROM = re.compile(rf"\bfrom\s+{_FILLER}$")
_LEG_TO = re.compile(rf"\s*,?\s*(?:[a-z]+\s+)?(?:back\s+)?to\s+{_FILLER}$")
_LEG_BACK = re.compile(rf"\b(?:back|return|returning|go|come|head)\s+to\s+{_FILLER}$", re.I)
_LEG_BACK_FROM = re.compile(rf"\s*,?\s*from\s+{_FILLER}$")


def route_legs(request: str) -> list[Entity]:
    """The legs of a route the request spells between two names: "from X to Y", "from X back to
    Y", "from my office in X to my friend's house in Y", "back to Y from X" (a name that only
    qualifies another ends none). Each asks for a call of its own: with "from New York to Los
    Angeles, then to Miami, and from Miami back to New York", every city is used by two calls
    and only the legs tell that a third is owed."""
    names = [n for n in _name_runs(request) if not n.qualifier]
    out: list[Entity] = []
    for a, b in zip(names, names[1:]):
        before, between = request[max(0, a.start - 40):a.start], request[a.end:b.start]
        if _LEG_FROM.search(before) and _LEG_TO.fullmatch(between):
            out.append(Entity(a.text, to=b.text))
        elif _LEG_BACK.search(before) and _LEG_BACK_FROM.fullmatch(between):
            out.append(Entity(b.text, to=a.text))
    return list(dict.fromkeys(out))


DONE_TASK_WEIGHT = 0.5
"""The share of its relevance a tool keeps from words said before its own last result: a new
request for another tool outranks it ("Thanks. Now calculate (5+6)*3" after a stock price), while
a follow-up that does not name it again ("And in Madrid?" after the weather in Paris) still
reaches ``relevance_threshold`` when the earlier request was clearly about it."""

RELEVANCE_THRESHOLD = 0.25
"""The relevance below which a tool is not called when no tool reaches it (chosen on training
sources only: docs/design.md)."""

ABLATABLE = ("relevance", "coverage", "grounding", "schema_copy")
"""The verifier's signals that an ablation can switch off."""


_ITEM = re.compile(r"""(?<![\w.])(?P<num>-?\d+(?:\.\d+)?)(?:st|nd|rd|th)?\b|(?P<q>["'])(?P<text>[^"'\n]{1,60}?)(?P=q)""")
_LIST_GAP = re.compile(r"\s*(?:,\s*(?:and\s+|or\s+)?|and\s+|or\s+|;\s*)?", re.I)


@lru_cache(maxsize=64)
def _spelled_lists(request: str) -> tuple[tuple[int | float | str, ...], ...]:
    """Lists the request spells out: numbers or quoted strings joined by commas, "and" or "or"
    ("85, 90, 88 and 92", "[200,300,400]", "'Age', 'Income' and 'Education'", "2nd, 3rd and
    4th"), two items at least. Outside brackets, "10,000" stays one number."""
    out: list[list[int | float | str]] = []
    run: list[int | float | str] = []
    end = -1
    for m in _ITEM.finditer(request):
        num = m.group("num")
        item: int | float | str = m.group("text") if m.group("q") else int(num) if "." not in num else float(num)
        gap = request[end:m.start()] if run else None
        in_brackets = request.count("[", 0, m.start()) > request.count("]", 0, m.start())
        if gap == "," and num and re.fullmatch(r"\d{3}(?:\.\d+)?", num) and isinstance(run[-1], int) \
                and not in_brackets:
            run[-1] = run[-1] * 1000 + item  # type: ignore[operator]  # "10,000": thousands, not a list
        elif gap is not None and isinstance(item, str) == isinstance(run[-1], str) and _LIST_GAP.fullmatch(gap):
            run.append(item)
        else:
            if len(run) > 1:
                out.append(run)
            run = [item]
        end = m.end()
    if len(run) > 1:
        out.append(run)
    return tuple(map(tuple, out + _name_lists(request)))  # cached: read once per question, not once per value step


_BOUND = r"(?:[a-z]\s*=\s*)?(-?\d+(?:\.\d+)?)"
_PAIRS = (re.compile(rf"\bfrom\s+{_BOUND}\s*(?:[a-z]+\s+)?to\s+{_BOUND}(?!\w|\.\d)", re.I),
          re.compile(rf"\bbetween\s+{_BOUND}\s*(?:[a-z]+\s+)?and\s+{_BOUND}(?!\w|\.\d)", re.I),
          re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*(?:[a-z]+\s+)?[x×]\s*(\d+(?:\.\d+)?)(?!\w|\.\d)", re.I))
"""Two numbers the request writes as the ends of a range ("from x=1 to x=3", "between 2015 and
2021") or as the sides of a size ("16x16", "4 ft x 4 ft"); at most a unit word after the first."""


def number_pairs(request: str) -> list[tuple[int | float, int | float]]:
    """The ranges and sizes the request writes (``_PAIRS``), as an array parameter takes them
    (``interval=[1, 3]``, ``dimensions=[16, 16]``)."""
    def num(text: str) -> int | float:
        return float(text) if "." in text else int(text)
    return [(num(m.group(1)), num(m.group(2))) for pattern in _PAIRS for m in pattern.finditer(request)]


def _name_lists(request: str) -> list[list[int | float | str]]:
    """Proper names the request joins by commas and an "and" or "or" ("C, F and G", "Microsoft
    and Google", "Personal Info and Job History"): one list, as an array parameter takes them. A
    name that qualifies the one before it ("Denver, Colorado") joins none."""
    out: list[list[int | float | str]] = []
    run: list[_Name] = []
    linked = False
    for name in [*_name_runs(request), None]:
        gap = request[run[-1].end:name.start] if run and name else ""
        if name and run and not name.qualifier and _LIST_GAP.fullmatch(gap) and gap.strip():
            run.append(name)
            linked = linked or bool(re.search(r"\b(?:and|or)\b", gap, re.I))
            continue
        if len(run) > 1 and linked:
            out.append([n.text for n in run])
        run, linked = ([name] if name and not name.qualifier else []), False
    return out


def copy_values(request: str, schema: dict[str, Any], limit: int = 6) -> list[Any]:
    """Values a parameter may take straight from the request: its numbers (for number types),
    for strings its arithmetic ("(5+6)*3"), names, quoted phrases, a number with the name after it
    ("12 Oak Street") and its content words, and for arrays the lists it spells out and the ranges
    and sizes it writes ("from x=1 to x=3", "16x16"). Unchecked
    against ``schema`` beyond its types."""
    kinds = _types(schema)
    out: list[Any] = []
    if "array" in kinds:
        item_schema = schema.get("items")
        items = _types(item_schema) if isinstance(item_schema, dict) else set()  # tuple-style items: no copies
        for run in _spelled_lists(request):
            numbers = all(not isinstance(v, str) for v in run)
            if numbers and items & {"number", "integer"} and (
                    "number" in items or all(isinstance(v, int) for v in run)):
                out.append(list(run))
            elif not numbers and "string" in items:
                out.append([str(v) for v in run])
        out += [list(pair) for pair in number_pairs(request)
                if "number" in items or "integer" in items and all(isinstance(v, int) for v in pair)]
    if asks_decimal(schema):  # "4%" for "the annual rate as a decimal": 0.04 first
        out += [p / 100 for p in percents(request)]
    if kinds & {"integer", "number"}:
        for n in _numbers_in(request):
            if n.is_integer():
                out.append(int(n))
            elif "number" in kinds:
                out.append(n)
    if "string" in kinds:
        ents = expressions(request) + [e.text for e in request_entities(request, []) if e.number is None]
        ents += [m.group(0) for m in re.finditer(r"\b\d+[A-Za-z]?\s+(?:[A-Z][\w'-]*\s?)+", request)]
        ents += [w for w in re.findall(r"[A-Za-z][\w'-]*", request)
                 if w.lower() not in _STOP and w.lower() not in _GENERIC and len(w) > 2]
        out += [e.strip() for e in ents]
    seen: set[str] = set()
    unique = []
    for v in out:
        key = repr(v)
        if key not in seen:
            seen.add(key)
            unique.append(v)
    return unique[:limit]


def _could_hold(param: ParamSpec, entity: Entity) -> bool:
    """Whether ``param`` could take ``entity``: one of its options, or a value of its types (an
    unused city does not keep a call open whose only free argument is a unit)."""
    if entity.to is not None or entity.param not in (None, param.name):  # a leg is owed a call of its own
        return False
    if param.choices is not None:
        return any(str(c).lower() == entity.text.lower() for c in param.choices)
    kinds = _types(param.schema)
    if not kinds:
        return True
    if entity.number is not None:
        return bool(kinds & {"integer", "number", "string", "array"})
    return bool(kinds & {"string", "array"})


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type")
    kinds = set(kind) if isinstance(kind, list) else {kind} if kind else set()
    for key in ("anyOf", "oneOf"):
        for alt in schema.get(key, []):
            kinds |= _types(alt)
    return kinds


def takes_number(param: ParamSpec) -> bool:
    """Whether a parameter's schema admits a number (``integer`` or ``number``, alone or in a union)."""
    return bool(_types(param.schema) & {"integer", "number"})


@dataclass(frozen=True)
class Judgement:
    score: float
    reason: str


@dataclass(frozen=True)
class Levels:
    """The verifier's score levels, each a rough chance that such a step is right."""

    relevant: float = 0.9
    """The lowest score of a relevant function name (it grows with the relevance)."""
    irrelevant: float = 0.5
    """The highest score of a name below the relevance threshold."""
    grounded: float = 1.0
    """A value the conversation spells (a phrase, all its words, an abbreviation)."""
    default: float = 0.9
    """A value equal to its parameter's default, a boolean, an enum value not named."""
    partly: float = 0.8
    """A string value only some of whose words the conversation has."""
    ungrounded: float = 0.65
    """A value nowhere in the conversation (a derived date, a made-up number)."""
    over_long: float = 0.5
    """A span that joins two things ('New York to Philadelphia') or swallows another argument."""
    misformatted: float = 0.4
    """A value not in the date or time format its parameter states ("March" where the
    description asks for %Y-%m-%d), or a percentage where it asks for a decimal (4 of "4%" for
    "the annual rate as a decimal"): the API will refuse or misread it."""
    junk: float = 0.3
    """JSON syntax inside a string, a repeated answered call, the request's opening words."""
    schema_copy: float = 0.1
    """Schema text as a value."""
    premature: float = 0.7
    """A function that takes a token while the conversation has none and another offered function
    issues one (API-Bank's GetUserToken): below every relevant name, so the issuer goes first, and
    below ``uncovered``, so a list does not call it beside the issuer whose result it needs."""
    unsaid: float = 0.85
    """Closing a call's arguments while the request names something no argument uses and
    optional parameters remain."""
    uncovered: float = 0.75
    """Closing the list while the request still names something no call uses: the lowest such
    score, for a list that uses none of the request's entities."""
    uncovered_most: float = 0.79
    """What closing with unused entities tends to as the share used grows: a list that uses
    more of the request ranks above a shorter one that uses less, and still below any call
    whose values are all at least ``partly``."""
    nothing_new: float = 0.45
    """Another call when every entity is used, or a finished call that adds none."""
    no_call: float = 0.95
    """``[]`` when no tool is relevant, or after the request's calls have their results (and the
    most relevant tool is among them)."""
    no_call_when_relevant: float = 0.3
    """``[]`` when some tool is relevant, or after results while the most relevant tool has had no
    call since the request."""
    duplicate: float = 0.2
    """A call the same list already has."""
    made_up: float = 0.25
    """A finished call none of whose values the conversation gives, with a number at least that
    it invents, or one whose required number the conversation cannot give (it writes none):
    below ``no_call_when_relevant``, so ``[]`` wins over a call to a relevant-sounding tool the
    request gives nothing for."""
    called_again: float = 0.85
    """Another call to a function the list has, while the request names one it has not called
    ("the area of a circle" after a rectangle's): the named function should come first."""
    holds_none: float = 0.85
    """Another call to a function none of whose parameters can take anything the request still
    names, while another offered function's can (the "top 5" left for a function with a number
    parameter, after the list has called the one without): as ``called_again``."""
    new_function_only: float = 0.8
    """A call that uses no new entity but is to a function the request names and the list had not
    called ("the final velocity ... also the distance covered", with the same numbers): above
    closing without it (``uncovered_most``), below a call that uses something new."""


@dataclass
class VerifierScorer:
    """Rule-based step checks; the default scorer until a trained ToolPRM beats it.

    ``relevance``, ``coverage``, ``grounding`` (word-level; False: the old substring test) and
    ``schema_copy`` switch the signals for ablations. A tool whose relevance is below
    ``relevance_threshold`` is not called when none reaches it: ``[]`` wins instead.
    """

    relevance: bool = True
    coverage: bool = True
    grounding: bool = True
    schema_copy: bool = True
    relevance_threshold: float = RELEVANCE_THRESHOLD
    levels: Levels = field(default_factory=Levels)
    usage: Usage = field(default_factory=Usage)

    def score(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[float]:
        return [j.score for j in self.judge(ctx, trajectories)]

    def judge(self, ctx: ScoringContext, trajectories: Sequence[Sequence[Step]]) -> list[Judgement]:
        """A score and its reason for the last step of each trajectory."""
        facts = _facts(ctx)
        return [self._judge_last(ctx, facts, list(steps)) for steps in trajectories]

    # ---- one step ---------------------------------------------------------------------------
    def _judge_last(self, ctx: ScoringContext, facts: _Facts, steps: list[Step]) -> Judgement:
        lv = self.levels
        step = steps[-1]
        before = replay(steps[:-1])
        if step.tag is StepTag.FUNC_NAME:
            tool = ctx.tool(step.name or "")
            if tool is None:
                return Judgement(0.0, "unknown function")
            owed = facts.uncalled(before.calls) if self.coverage and before.calls else []
            if self.coverage and before.calls and tool.name not in owed and \
                    not [e for e in facts.left(before.calls) if e.function in (None, tool.name)]:
                return Judgement(lv.nothing_new, "every entity of the request is used already")
            if self.coverage and before.calls and asks_one_thing(facts.request):
                return Judgement(lv.nothing_new, ONE_THING)
            if not self.relevance:
                return Judgement(1.0, "a bound tool")
            rel = facts.relevance[tool.name]
            level = self._name_level(rel)
            if owed and tool.name not in owed and any(c.name == tool.name for c in before.calls):
                return Judgement(min(level, lv.called_again), f"{CALLED_AGAIN} while the request names {owed[0]!r}")
            if self.coverage and any(c.name == tool.name for c in before.calls) and \
                    (waiting := [n for n in facts.waiting(before.calls) if n != tool.name]):
                return Judgement(min(level, lv.called_again),
                                 f"{CALLED_AGAIN} while {waiting[0]}()'s part of the request has unused values")
            if self.coverage and before.calls and tool.name not in owed and (held := facts.held_elsewhere(tool, before.calls)):
                return Judgement(min(level, lv.holds_none), f"no parameter takes {held.text!r}, which another function's does")
            issuer = facts.token_issuer(tool)
            if issuer:
                return Judgement(min(level, lv.premature), PREMATURE + issuer)
            return Judgement(level, f"relevance {rel:.2f}")
        if step.tag is StepTag.ARG_VALUE:
            tool = ctx.tool(before.open_name or "")
            param = tool.param(step.name or "") if tool else None
            if tool is None or param is None or not param.is_valid(step.value):
                return Judgement(0.0, "invalid for its schema")
            judged = self._value(ctx, facts, tool, param.name, step.value, before.open_args)
            if self.coverage and judged.score > self.levels.partly:
                displaced = self._displaces(facts, tool, param.name, step.value, before.calls, before.open_args)
                if displaced:
                    return Judgement(self.levels.partly, displaced)
            return judged
        if step.tag in (StepTag.PARAM_FINISH, StepTag.FUNC_FINISH):
            tool = ctx.tool(before.open_name or "")
            if not tool or tool.validate_arguments(before.open_args) is not None:
                return Judgement(0.0, "arguments invalid or incomplete")
            if step.tag is StepTag.PARAM_FINISH:
                remaining = [p for p in tool.params if p.name not in before.open_args]
                if self.coverage and remaining:
                    unused = [e for e in facts.left([*before.calls, Call(tool.name, before.open_args)])
                              if e.function in (None, tool.name) and any(_could_hold(p, e) for p in remaining)]
                    if unused:
                        return Judgement(lv.unsaid, "the request's " + ", ".join(repr(e.text) for e in unused[:3])
                                         + " unused while optional arguments remain")
                    flags = [p.name for p in remaining if _types(p.schema) == {"boolean"} and facts.names(p.name)]
                    if flags:
                        return Judgement(lv.unsaid, f"the request names the flag {flags[0]!r}, left unset")
                    kept = [p.name for p in remaining for c in before.calls if c.name == tool.name
                            and c.arguments.get(p.name, p.schema.get("default")) != p.schema.get("default")]
                    if kept:
                        return Judgement(lv.unsaid, f"an earlier call to the function sets {kept[0]!r}, left out")
                    offered = [(p.name, o) for p in remaining if (o := facts.offered_said(p, before.open_args))]
                    if offered:
                        return Judgement(lv.unsaid, f"the request says {offered[0][1]!r}, which {offered[0][0]!r}'s "
                                                    "description offers, left unset")
                return Judgement(1.0, "arguments complete")
            call = Call(tool.name, before.open_args)
            key = call_key(call.name, call.arguments)
            if key in {call_key(c.name, c.arguments) for c in before.calls}:
                return Judgement(lv.duplicate, "the list has this call already")
            if key in ctx.answered_calls:
                return Judgement(lv.junk, "the conversation has this call's result")
            if self.grounding and (made_up := _made_up(facts, tool, before.open_args)):
                return Judgement(lv.made_up, made_up)
            if self.coverage and before.calls:
                if not [e for e in facts.left(before.calls) if e.used_by([call])]:
                    if tool.name in facts.uncalled(before.calls):
                        return Judgement(lv.new_function_only, "no new entity, but a function the request names")
                    return Judgement(lv.nothing_new, "this call uses nothing the earlier ones did not")
            return Judgement(1.0, "call complete")
        # TOTAL_FINISH
        calls = list(before.calls)
        if not calls:
            if ctx.calls_since_request:
                owed = owed_after_results(ctx, self.relevance_threshold) if self.relevance else None
                if owed is None:
                    return Judgement(lv.no_call, "the request's calls have their results")
                return Judgement(lv.no_call_when_relevant, f"the most relevant tool, {owed!r}, has no call since the request")
            if not self.relevance:
                return Judgement(1.0, "no call")
            best = max(facts.relevance.values(), default=0.0)
            if best < self.relevance_threshold:
                return Judgement(lv.no_call, f"no tool relevant (best {best:.2f} < {self.relevance_threshold})")
            return Judgement(lv.no_call_when_relevant, f"a tool is relevant ({best:.2f})")
        if self.coverage:
            left, uncalled = facts.left(calls), facts.uncalled(calls)
            if left or uncalled:
                owed = len(facts.owed([*calls, *ctx.calls_since_request])) + len(facts.named_functions)
                used = 1 - (len(left) + len(uncalled)) / owed
                missing = [repr(e.text) + (f" to {e.to!r}" if e.to else "") + (f" for {e.function}" if e.function else "")
                           for e in left[:3]] + \
                    [f"{n}()" for n in uncalled[:3]]
                return Judgement(round(lv.uncovered + (lv.uncovered_most - lv.uncovered) * used, 4),
                                 "no call uses " + ", ".join(missing))
        return Judgement(1.0, "every entity of the request is used")

    def _name_level(self, rel: float) -> float:
        """A relevant tool (``relevance_threshold`` or more) scores in [relevant, 1], graded so the
        more relevant name ranks first while a value or a missed entity still weighs more; an
        irrelevant one scores below every ``[]`` level that can compete with it."""
        lv = self.levels
        if rel >= self.relevance_threshold:
            return round(lv.relevant + (1 - lv.relevant) * rel, 4)
        return round(lv.irrelevant * rel / self.relevance_threshold, 4)

    @staticmethod
    def _displaces(facts: _Facts, tool: ToolSpec, name: str, value: Any, calls: Sequence[Call],
                   others: dict[str, Any]) -> str | None:
        """Why a value is another argument's, or takes the place of an unused entity of the same
        kind (a number, or a name) that the request still names; None when it is fine ("Dara Inc"
        in both calls).

        - A number that belongs to another argument (``_Facts.owner``).
        - While such an entity is unused: the value repeats an earlier call's value for the same
          argument ("2018" again where "2019" is unused), it is a number only a number word gives
          ("two pairs" as 2 where "27" is unused), or the request ties other numbers to this
          argument. An unused number that belongs to another argument is not this one's to take.
        """
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not (number or isinstance(value, str)):
            return None
        if not number and (leg := facts.leg_elsewhere(tool.name, name, value, calls, others)):
            return leg
        if task := facts.other_task(tool, name, value, calls, others):
            return task
        if number:
            owner = facts.owner(tool, name, float(value), calls) or facts.unpaired(tool, name, float(value), others, calls)
            if owner:
                return owner
        repeat = any(c.name == tool.name and c.arguments.get(name) == value for c in calls)
        same = [e for e in facts.entities if number and e.means(float(value))]
        worded = number and not same
        dated = bool(same) and all(e.text in facts.dated for e in same) and \
            not calendar_param(name)
        tied = facts.tied_to(name) if number else []
        elsewhere = bool(tied) and not any(_same_number(float(value), n) for n in tied)
        if not (repeat or worded or dated or elsewhere):
            return None
        schema = tool.param(name).schema  # type: ignore[union-attr]
        unused = [e for e in facts.left([*calls, Call(tool.name, others)]) if (e.number is not None) == number
                  and e.function in (None, tool.name) and e.param in (None, name)
                  and not (number and facts.owner(tool, name, e.number or 0.0, calls))
                  and not (asks_unit(name, schema) and (e.to is not None or not facts.writes_unit(e.text, schema)))]
        if elsewhere and not (repeat or worded or dated):
            unused = [e for e in unused if any(_same_number(e.number or 0.0, n) for n in tied)]
        if dated:
            unused = [e for e in unused if e.text not in facts.dated]
        if not unused:
            return None
        what = (f"repeats an earlier call's {name!r}" if repeat else "a number word's number" if worded
                else "a date's number" if dated else f"the request puts {unused[0].text!r} by {name!r}, not this")
        return f"{what} while the request's {unused[0].text!r} is unused"

    def _value(self, ctx: ScoringContext, facts: _Facts, tool: ToolSpec, name: str, value: Any,
               others: dict[str, Any]) -> Judgement:
        lv = self.levels
        param = tool.param(name)
        assert param is not None
        if self.schema_copy:
            copied = _schema_copy(value, name, param.schema, facts.evidence_words) or (
                "the function's own name" if isinstance(value, str) and value.strip() == tool.name else None)
            if copied and not facts.gives_as(name, value) and not (
                    isinstance(value, str) and _country_named(value, facts.evidence_raw)):  # "CN" of "For instance, CN"
                return Judgement(lv.schema_copy, copied)
        if isinstance(value, str) and self.grounding and facts.opening(value):
            return Judgement(lv.junk, OPENING)
        if isinstance(value, bool) and facts.names(name):
            if value:
                return Judgement(lv.grounded, "a flag the request names")
            return Judgement(lv.partly, "a flag the request names, set false")
        default = param.schema.get("default")
        if default is not None and value == default:
            return Judgement(lv.default, "the default")
        if isinstance(value, bool) or value is None:
            return Judgement(lv.default, "a literal")
        if param.choices is not None and len(param.choices) > 1:
            named = facts.names_option(param.choices, value)
            return Judgement(lv.grounded if named else lv.default, "an option named" if named else "an option")
        if not self.grounding:
            return Judgement(_substring_level(value, facts.evidence, lv), "substring test")
        if isinstance(value, (int, float)) and _misscaled(float(value), param.schema, facts.percents):
            return Judgement(lv.misformatted, "a percentage of the request where a decimal is asked for")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (meant := _unscaled(
                float(value), name, param.schema, facts.request)):
            return Judgement(lv.partly, f"{UNSCALED}, {meant:g}")
        if isinstance(value, str) and TOKEN_PARAM.search(name) and not facts.issued(value):
            return Judgement(lv.ungrounded, UNISSUED)
        fmt = stated_format(name, param.schema)
        if fmt is not None and isinstance(value, str):
            try:
                when = datetime.strptime(value.strip(), fmt)
            except ValueError:
                return Judgement(lv.misformatted, f"not in the stated format {fmt}")
            if _date_said(when, fmt, facts):
                return Judgement(lv.grounded, f"the conversation's date or time, in the stated format {fmt}")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and (span := next(
                (said for n, said in named_spans(facts.request, name, param.schema) if _same_number(float(value), n)),
                None)):
            return Judgement(lv.grounded, f"{SPAN_NAMED}, {span!r}")
        description = str(param.schema.get("description", ""))
        if isinstance(value, str) and (gloss := _gloss_said(value, description, facts.evidence_raw)):
            return Judgement(lv.grounded, f"the option the conversation names by its gloss, {gloss!r}")
        if isinstance(value, str) and (code := next((k for k, g in glossed_options(description).items()
                                                     if g.lower() == value.strip().lower()), None)):
            return Judgement(lv.partly, f"{GLOSS_NOT_CODE} {code!r}")
        judged = self._grounded(facts, value, others)
        if judged.score > lv.partly and (swallowed := facts.swallowed(tool, name, value, others)):
            return Judgement(lv.partly, f"{HOLDS_NUMBER}, {swallowed}")
        if judged.score > lv.partly and isinstance(value, str) and asks_unit(name, param.schema) \
                and not facts.writes_unit(value, param.schema):
            return Judgement(lv.partly, NOT_A_UNIT)
        if judged.score > lv.partly and isinstance(value, str) and asks_unit(name, param.schema) \
                and not _POWERED.match(value.strip()) and (whole := re.search(
                    rf"{_POWERED.pattern}{re.escape(value.strip())}\b", facts.evidence_raw, re.I)):
            return Judgement(lv.partly, f"the request writes the unit whole, {whole.group(0)!r}")
        if judged.score > lv.partly and isinstance(value, str) and (side := conversion_side(tool, name)) \
                and (units := facts.amount_units):
            named = any(_names_unit(value, u) for u in units)
            if named != (side == "source"):
                return Judgement(lv.partly, f"{SOURCE_UNIT}, {units[0]!r}")
        if judged.score > lv.partly and isinstance(value, str) and (end := param_end(tool, name)) and \
                (leg := facts.wrong_end(value, end)):
            return Judgement(lv.partly, f"{WRONG_END}, from {leg.text!r} to {leg.to!r}")
        if judged.score > lv.partly and isinstance(value, str) and (why := not_a_code(name, param.schema, value)):
            return Judgement(lv.partly, f"{NOT_A_CODE}: {why}")
        if judged.score > lv.partly and isinstance(value, str) and (named := facts.kind_for(tool, param, value, others)):
            return Judgement(lv.partly, f"{KIND_FOR_NAME}, {named!r}")
        if judged.score > lv.partly and isinstance(value, str) and facts.names_function(tool, param, value):
            return Judgement(lv.partly, FUNCTION_WORDS)
        if judged.score > lv.partly and isinstance(value, str) and facts.names_kind(param, value):
            return Judgement(lv.partly, KIND_WORDS)
        return judged

    def _grounded(self, facts: _Facts, value: Any, others: dict[str, Any]) -> Judgement:
        lv = self.levels
        if isinstance(value, (list, dict)):
            items = value if isinstance(value, list) else list(value.values())
            parts = [self._grounded(facts, v, {}) for v in items] or [Judgement(lv.ungrounded, "empty")]
            worst = min(parts, key=lambda j: j.score)
            if isinstance(value, list) and worst.score > lv.partly and facts.cut_list(value):
                return Judgement(lv.partly, "part of a list the request spells out")
            if isinstance(value, list) and worst.score > lv.partly and facts.joins_lists(value):
                return Judgement(lv.over_long, JOINED_LISTS)
            return worst
        if isinstance(value, (int, float)):
            if not any(_same_number(float(value), n) for n in facts.numbers):
                return Judgement(lv.ungrounded, "a number nowhere in the conversation")
            said = sum(_same_number(float(value), n) for n in facts.numbers)
            used = sum(_same_number(float(value), n) for o in others.values()
                       if isinstance(o, (int, float)) and not isinstance(o, bool) for n in [float(o)])
            if used >= said:
                return Judgement(lv.partly, "a number of the request another argument already uses")
            return Judgement(lv.grounded, "a number of the request")
        if not isinstance(value, str):
            return Judgement(lv.partly, "a value")
        if not value.strip() or _LEAK.search(value):
            return Judgement(lv.junk, "JSON syntax in the string")
        if sign := stray_sign(value, facts.evidence_raw):
            return Judgement(lv.partly, f"{STRAY_SIGN} {sign!r}")
        ws = tokens(value)
        if not ws:
            return Judgement(lv.partly, "no words")
        for key, other in others.items():
            if isinstance(other, str) and len(value) >= 3 and tokens(other) == ws:  # "lebron_james", "LeBron James"
                return Judgement(lv.over_long, f"the same value as {key!r}")
            theirs = set(tokens(other)) if isinstance(other, str) else set()
            if theirs and theirs < set(ws):
                return Judgement(lv.over_long, f"it swallows {key!r}'s value")
        inner = ws[1:-1]
        if len(ws) >= 3 and any(w in _CONNECTIVES for w in inner) and _phrase_in(ws, facts.evidence_seq):
            return Judgement(lv.over_long, "a span joining two things")
        squeezed = re.sub(r"\s+", "", value)
        if any(squeezed in whole and squeezed != whole for whole in facts.expressions):
            return Judgement(lv.default, "part of arithmetic the request writes whole")
        around = [e.text for e in facts.entities if value.strip() != e.text and _IDENTIFIER.fullmatch(e.text)
                  and re.search(rf"(?<![\w./\\]){re.escape(e.text)}(?![\w.])", value)]  # a path ends in it
        if around:
            return Judgement(lv.over_long, f"a span around the identifier {around[0]!r}")
        if quoted := facts.around_quote(value):
            return Judgement(lv.over_long, f"{AROUND_QUOTE} {quoted!r}")
        if _phrase_in(ws, facts.evidence_seq):
            if any(set(ws) < set(tokens(e.text)) for e in facts.entities if e.number is None):
                return Judgement(lv.default, "part of a name the request gives whole")
            if _ARTICLE_NAME.match(value.strip()):
                return Judgement(lv.default, ARTICLE_NAME)
            if (bare := re.sub(r"['’]s$", "", value.strip())) != value.strip() and \
                    any(e.text == bare for e in facts.entities):
                return Judgement(lv.default, f"the name {bare!r} with a possessive 's")
            return Judgement(lv.grounded, "the conversation's words")
        if any(_abbreviates(value, facts.evidence_raw[i:i + 80]) for i in facts.capital_starts(value)):
            return Judgement(lv.grounded, "an abbreviation of the conversation's words")
        if _currency_named(value, facts.evidence_raw):
            return Judgement(lv.grounded, "the code of a currency the conversation names")
        if _country_named(value, facts.evidence_raw):
            return Judgement(lv.grounded, "the code of a country the conversation names")
        found = sum(w in facts.evidence_words for w in ws) / len(ws)
        if found == 1:
            return Judgement(lv.grounded, "every word is in the conversation")
        if found > 0:
            return Judgement(round(lv.ungrounded + (lv.partly - lv.ungrounded) * found, 4),
                             f"{found:.0%} of its words are in the conversation")
        return Judgement(lv.ungrounded, "nowhere in the conversation")


_SOURCE_WORDS = frozenset({"from", "source", "base", "original", "origin", "input"})
_TARGET_WORDS = frozenset({"to", "target", "output", "into", "desired"})
_AFTER_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?\s+([A-Za-z][\w'-]*(?:\s+[A-Za-z][\w'-]*){0,2})")


def param_end(tool: ToolSpec, name: str) -> str | None:
    """"source" or "target" for a parameter whose words say which end it is, beside another for the
    other end (``from_currency`` and ``to_currency``, ``source_language`` and ``target_language``);
    None for any other parameter."""
    own, others = set(words(name)), [set(words(p.name)) for p in tool.params if p.name != name]
    if own & _SOURCE_WORDS and any(o & _TARGET_WORDS for o in others):
        return "source"
    if own & _TARGET_WORDS and any(o & _SOURCE_WORDS for o in others):
        return "target"
    return None


def conversion_side(tool: ToolSpec, name: str) -> str | None:
    """``param_end`` for the two ends of a conversion: a tool that speaks of converting or
    exchanging and takes a number, the amount; None for any other parameter."""
    if not any(takes_number(p) for p in tool.params) or \
            not any(w.startswith(("conver", "exchang")) for w in words(tool.name + " " + tool.description)):
        return None
    return param_end(tool, name)


_LONE_NUMBER = re.compile(r"(?<![\w.:/-])\d[\d,]*(?:\.\d+)?(?![\w:/-]|\.\d)")


def _held_number(value: str, numbers: Sequence[float]) -> float | None:
    """A number of the request that a string of words holds as a word of its own ("France, 1510" of
    "France in 1510"); dates, times, codes and numbers inside words hold none. Whether it is another
    argument's is ``_Facts.swallowed``'s to say."""
    if not re.search(r"[A-Za-z]{2}", value):
        return None
    return next((n for m in _LONE_NUMBER.finditer(value) for n in [float(m.group(0).replace(",", ""))]
                 if any(_same_number(n, said) for said in numbers)), None)


def _names_unit(value: str, phrase: str) -> bool:
    """Whether ``value`` names the unit ``phrase`` writes: by its abbreviation ("USD" for "US dollars")
    or by words all of which the phrase has ("Euros" for "euro")."""
    said = content_words(value)
    return _codes(value, phrase) or bool(said) and said <= content_words(phrase)


NUMBERLESS = "a required number where the conversation writes none"
STRAY_SIGN = "a sign before the value that the conversation does not write there,"
AROUND_QUOTE = "a span around the quoted"
WRONG_END = "the other end of the request's way"
KIND_FOR_NAME = "the tool's own words for the kind of thing, where the request names it"
JOINED_LISTS = "a list joining two lists the request spells out apart"
ARTICLE_NAME = "a name with the article the sentence gives it"
_ARTICLE_NAME = re.compile(r"(?:the|a|an)\s+[A-Z]")
"""A lower-case article before a capitalised word: "the Treaty of Paris" is the name with the
sentence's article (no training-source gold value starts so; a title's own "The" is capitalised)."""
GLOSS_NOT_CODE = "the gloss of an option, where the parameter takes its code"
NOT_A_CODE = "no code, where the parameter takes one"
KIND_WORDS = "some words of the parameter's own name, the kind of thing, not a value"
FUNCTION_WORDS = "the function's own name words, what it does, not a value"
UNSCALED = "the request writes it with a magnitude"
ONE_THING = "a second call, though the request asks for one thing"
HOLDS_NUMBER = "words with a number of the request"
SPAN_NAMED = "a span of time the request names"
SOURCE_UNIT = "a conversion's source is the amount's own unit"
EMPTY_REQUIRED = "a required list or object left empty"
TOKEN_PARAM = re.compile(r"(?:^|_)token$", re.I)
"""A parameter that takes a token (``token``, ``access_token``): a system issues it, so the user's
other words (an email as ``token``) are no value for it."""


class _Part(NamedTuple):
    """One task's part of a request (``task_clauses``)."""

    stems: list[str]
    numbers: list[float]
    claims: set[str]
    """The functions whose own name words it says."""
    said: list[str]
    """Its words (``tokens``)."""
    text: str


def _takes_token(tool: ToolSpec) -> bool:
    return any(TOKEN_PARAM.search(p.name) for p in tool.params)


class _Facts:
    """What the verifier reads once per question: request, entities, relevance, evidence."""

    def __init__(self, ctx: ScoringContext) -> None:
        self.ctx = ctx
        self.request = ctx.request
        self.evidence = ctx.evidence
        self.evidence_raw = "\n".join(message_text(m) for m in ctx.messages if not isinstance(m, AIMessage))
        self.evidence_seq = tokens(self.evidence_raw)
        self.evidence_words = set(self.evidence_seq)
        self.numbers = _numbers_in(self.evidence_raw)
        self.percents = percents(self.evidence_raw)
        self._ties: dict[str, list[float]] = {}

    @cached_property
    def _results(self) -> str:
        return "\n".join(message_text(m) for m in self.ctx.messages if isinstance(m, ToolMessage))

    def issued(self, value: str) -> bool:
        """Whether ``value`` is a token the conversation gives: a tool's result has it (the token
        of API-Bank's GetUserToken), or the user calls it one ("my token is abc123", "the CAKE
        token")."""
        v = value.strip()
        if not v:
            return False
        if re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", self._results):
            return True
        return any(re.search(r"\btokens?\b", self._user[max(0, m.start() - 40):m.end() + 20], re.I)
                   for m in re.finditer(re.escape(v), self._user))

    @cached_property
    def tokens_issued(self) -> list[str]:
        """The tokens tool results gave (``{'token': 'p9o8i7'}``, ``"access_token": "..."``),
        latest first."""
        found = [m.group(2) for m in re.finditer(r"""['"]?(\w*token)['"]?\s*[:=]\s*['"]([^'"\s]+)['"]""", self._results)
                 if TOKEN_PARAM.search(m.group(1))]
        return list(dict.fromkeys(reversed(found)))

    def token_issuer(self, tool: ToolSpec) -> str | None:
        """Another offered function that issues the token ``tool`` takes, while the conversation
        has none yet (no tool result or user turn mentions a token)."""
        if not _takes_token(tool) or self._has_token:
            return None
        return next((t.name for t in self.ctx.tools if t.name != tool.name and not _takes_token(t)
                     and "token" in words(t.name) + words(t.description)), None)

    @cached_property
    def _user(self) -> str:
        return "\n\n".join(message_text(m) for m in self.ctx.messages if isinstance(m, HumanMessage))

    @cached_property
    def _has_token(self) -> bool:
        return re.search(r"\btokens?\b", self._results + "\n" + self._user, re.I) is not None

    def gives_as(self, name: str, value: Any) -> bool:
        """Whether the conversation gives ``value`` as the parameter's value in so many words
        ("my password is password"): then its being the parameter's own name is no schema copy."""
        ws = words(name)
        if not isinstance(value, str) or not value.strip() or not ws:
            return False
        said = r"\W+".join(map(re.escape, ws)) + r"\s*(?:is|was|:|=)\s*[\"']?" + re.escape(value.strip()) + r"(?!\w)"
        return re.search(said, self.evidence_raw, re.I) is not None

    @cached_property
    def relevance(self) -> dict[str, float]:
        """Each tool's relevance. In a request of several tasks the other tasks' words dilute each,
        so a tool is relevant (``RELEVANCE_THRESHOLD``) however small a share of the whole speaks
        of it where the request names the function (``named_functions``: "the inventor and year of
        invention of the 'Telephone'" gave ``science_history.get_invention`` 0.22) or where its
        own task part is relevant to it (``part_relevance``: "the greatest common divisor of 56
        and 98 using the Euclidean algorithm", one of four tasks, gave ``calculate_gcd`` 0.19 of
        the whole and 0.5 of its part)."""
        named = self.named_functions
        return {t.name: max(self.said_relevance(t), RELEVANCE_THRESHOLD if t.name in named
                            or self.part_relevance(t) >= RELEVANCE_THRESHOLD else 0.0) for t in self.ctx.tools}

    def part_relevance(self, tool: ToolSpec) -> float:
        """``tool``'s relevance to its best task part of the request, while no result of it is in."""
        if self.ctx.said_for(tool.name) != self.ctx.said_text:
            return 0.0
        return max(self._part_relevances[tool.name], default=0.0)

    @cached_property
    def _part_relevances(self) -> dict[str, list[float]]:
        """Each tool's relevance to each task part, in order."""
        return {t.name: [relevance(part.text, t) for part in self._clauses] for t in self.ctx.tools}

    def said_relevance(self, tool: ToolSpec) -> float:
        """What the conversation's words alone give ``tool``: the user's words since its last result,
        or (weighed down) everything said, for a tool whose task is done."""
        return max(relevance(self.ctx.said_for(tool.name), tool), DONE_TASK_WEIGHT * relevance(self.ctx.said_text, tool))

    @cached_property
    def entities(self) -> list[Entity]:
        return request_entities(self.request, self.ctx.tools)

    def left(self, calls: Sequence[Call]) -> list[Entity]:
        """Entities of the request (and siblings of the calls' values) that neither these calls nor
        the request's earlier calls use."""
        done = list(calls) + list(self.ctx.calls_since_request)
        return [e for e in self.owed(done) if not e.used_by(done)]

    def owed(self, calls: Sequence[Call]) -> list[Entity]:
        """The request's entities, the siblings of these calls' values and what a part that asks
        for each of several things owes its function (``each``). A sibling that is an entity
        already adds nothing while the calls are all to its function."""
        named = {e.text.lower() for e in self.entities}
        functions = {c.name for c in calls}
        return self.entities + self.legs + [e for e in self.siblings(calls)
                                            if e.text not in named or functions != {e.function}] + self.each(calls)

    @cached_property
    def _distributed(self) -> list[tuple[str, str]]:
        """(function, word) for each part of the request that asks its one function for each of
        several things, the word naming one of the function's parameters: ("store_count", "city")
        for "how many stores carry it in each city", ("religion.get_core_beliefs", "religion")
        for "the core beliefs of both these religions"."""
        out = []
        for part in self._clauses:
            claims, said = part.claims, part.said
            tool = self.ctx.tool(next(iter(claims))) if len(claims) == 1 else None
            named = {w for p in tool.params for w in content_words(p.name)} if tool else set()
            for j, w in enumerate(said):
                k = j + 1
                while k < len(said) and said[k] in _EACH_FILLER:
                    k += 1
                if tool and w in _EACH and k < len(said) and _covered_by(stem(said[k]), named):
                    out.append((tool.name, stem(said[k])))
        return out

    def each(self, calls: Sequence[Call]) -> list[Entity]:
        """What "each" or "both" owes: every value the calls give a parameter named by the word
        after it is owed a call of that part's function ("Austin" and "New York", the cities of
        the price calls, each owed a ``store_count`` call by "in each city")."""
        return list(dict.fromkeys(
            Entity(v.strip(), function=function) for function, word in self._distributed for c in calls
            for k, v in c.arguments.items() if isinstance(v, str) and v.strip() and _covered_by(word, content_words(k))))

    @cached_property
    def legs(self) -> list[Entity]:
        return route_legs(self.request)

    @cached_property
    def quoted(self) -> list[str]:
        """The phrases the user's request quotes ("the painting 'Starry Night'"): each is a value
        whole, so a value that adds words around one has taken in another's ("Van Gogh's Starry
        Night")."""
        return [next(g for g in m.groups() if g is not None) for m in _QUOTED.finditer(self.request)]

    def around_quote(self, value: str) -> str | None:
        """A quoted phrase whose words ``value`` holds with words of its own beside them, which no
        other quote gives ("Van Gogh's Starry Night" around 'Starry Night'); a path around a quoted
        file name is a file's place, not a span."""
        if re.search(r"[/\\]", value):
            return None
        ws = tokens(value)
        quoted = set().union(*(tokens(q) for q in self.quoted)) if self.quoted else set()
        for q in self.quoted:
            qs = tokens(q)
            if qs and len(ws) > len(qs) and _phrase_in(qs, ws) and not set(ws) <= quoted:
                return q
        return None

    def kind_for(self, tool: ToolSpec, param: ParamSpec, value: str, others: dict[str, Any]) -> str | None:
        """The name or quote of the request that ``param`` could take and no other argument holds,
        where ``value`` is only words of the tool's own text and of no such name: the kind of thing
        the tool takes, not the user's thing ("Pope" of "Pope Innocent III", whose tool is about
        popes; "Supreme Court case" of "a Supreme Court case titled 'Roe v. Wade'"). Plain words
        only, written two words at most from the name, and quoted nowhere: an identifier
        ("employee_123"), a quoted value or a phrase apart from the name is the user's own; and
        a name another parameter could take is that one's ("an MRI scan in Boston"); an option the
        parameter states is a right value ("length" of "It can be length, width or diagonal")."""
        mine = content_words(value)
        if not mine or not mine <= self._tool_words[tool.name] or not _plain(param, value) \
                or any(tokens(value) == tokens(q) for q in self.quoted):
            return None
        ws = tokens(value)
        held = " ".join(v for v in others.values() if isinstance(v, str)).lower()
        return next((e.text for e in self.entities if e.number is None and not set(ws) & set(tokens(e.text))
                     and e.text.lower() not in held and self.takes(param, e)
                     and not any(p.name != param.name and self.takes(p, e) for p in tool.params)
                     and _within(self._request_tokens, ws, tokens(e.text), 2)), None)

    def names_function(self, tool: ToolSpec, param: ParamSpec, value: str) -> bool:
        """Whether ``value``, for an optional parameter, is only words of the function's own name,
        none of the parameter's, and of no name the request gives nor an option (``_plain``): the
        request's word for what the function does ("electric" of "the electric field strength" as
        the ``medium`` of ``calculate_electric_field_strength``)."""
        mine = content_words(value)
        return bool(mine) and not param.required and _plain(param, value) and \
            mine <= content_words(tool.name) - content_words(param.name) and not self._in_a_name(value)

    def names_kind(self, param: ParamSpec, value: str) -> bool:
        """Whether ``value`` is only some words of the parameter's own name, of no name the
        request gives nor an option: the kind of thing asked for ("cell" as the ``cell_type`` of
        "the structure of human cell", "vehicle" as the ``vehicle_type`` of "a gas-powered
        vehicle"), where its whole name is schema text already; every word of it is the name's
        ("Application A" for ``application_name`` is a name), and none the user gives as itself."""
        ws = {stem(t) for t in tokens(value)}
        return bool(ws) and ws < content_words(param.name) and _plain(param, value) and \
            not self._in_a_name(value) and not self.gives_as(value, value)  # "my old password is password"

    def _in_a_name(self, value: str) -> bool:
        """Whether a word of ``value`` is one of a name, quote or number the request gives."""
        ws = set(tokens(value))
        return any(ws & set(tokens(e.text)) for e in self.entities)

    def wrong_end(self, value: str, end: str) -> Entity | None:
        """The leg ("from English to French") whose other end ``value`` names for a parameter of
        ``end`` ("source": French), where it names no leg's own end (a chain "from A to B, then
        from B to C" starts a leg at B)."""
        names = [(leg, leg.text if end == "source" else leg.to or "", leg.to or "" if end == "source" else leg.text)
                 for leg in self.legs]
        if any(Entity(own).used_by([Call("", {"v": value})]) for _, own, _ in names):
            return None
        return next((leg for leg, _, other in names if Entity(other).used_by([Call("", {"v": value})])), None)

    def leg_elsewhere(self, function: str, param: str, value: str, calls: Sequence[Call],
                      others: dict[str, Any]) -> str | None:
        """Why ``value``, a place of the request's route, is not where the open call goes: its other
        arguments start an unused leg ("from Los Angeles to San Francisco") and the value ends none
        of the legs they start ("New York" as the destination)."""
        if not self.legs:
            return None
        def uses(place: str, args: dict[str, Any]) -> bool:
            return Entity(place).used_by([Call(function, args)])
        mine = {param: value}
        if not any(uses(end, mine) for leg in self.legs for end in (leg.text, leg.to or "")):
            return None
        unused = [leg for leg in self.left(calls) if leg.to is not None]
        started = [(a, b) for leg in unused for a, b in ((leg.text, leg.to or ""), (leg.to or "", leg.text))
                   if uses(a, others)]
        if not started or any(uses(b, mine) for _, b in started):
            return None
        return f"the request's leg from {started[0][0]!r} goes to {started[0][1]!r}"

    @cached_property
    def _clauses(self) -> list[_Part]:
        """Each task's part of a request that asks for several (``task_clauses``)."""
        if len(self.ctx.tools) < 2 or not asks_several_tasks(self.request):
            return []
        out = [_Part([stem(w) for w in tokens(text)], _numbers_in(text), claims, tokens(text), text)
               for text, claims in task_clauses(self.request, self.ctx.tools)]
        return out if len(out) > 1 else []

    @cached_property
    def _homes(self) -> dict[str, int]:
        """Each function's one clause that asks for it: the only one that says its own name words,
        or the only one of those that names no other function ("the Electric field at 3m" and
        not "the magnetic field for an electric current"); for a function no part names so, the
        one part most relevant to it, where that part is relevant and names no function ("the
        greatest common divisor of 48 and 36" for ``math.gcd``)."""
        out = {}
        for t in self.ctx.tools:
            mine = [i for i, part in enumerate(self._clauses) if t.name in part.claims]
            alone = [i for i in mine if len(self._clauses[i].claims) == 1]
            pick = mine if len(mine) == 1 else alone
            if not mine:
                rel = self._part_relevances[t.name]
                best = max(rel, default=0.0)
                pick = [i for i, r in enumerate(rel) if r == best and not self._clauses[i].claims] \
                    if best >= RELEVANCE_THRESHOLD and rel.count(best) == 1 else []
            if len(pick) == 1:
                out[t.name] = pick[0]
        return out

    def _places(self, value: Any) -> set[int]:
        """The parts of the request that say ``value`` (none for a list, an object or a flag)."""
        return {i for i in range(len(self._clauses)) if self._said_in(i, value)}

    def _said_in(self, i: int, value: Any) -> bool:
        toks, numbers = self._clauses[i].stems, self._clauses[i].numbers
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return any(_same_number(float(value), n) for n in numbers)
        return isinstance(value, str) and bool(tokens(value)) and _phrase_in([stem(w) for w in tokens(value)], toks)

    def other_task(self, tool: ToolSpec, param: str, value: Any, calls: Sequence[Call],
                   others: dict[str, Any]) -> str | None:
        """Why ``value`` is another task's while the open call's own task has an unused entity
        that could take its place. The call's task is the one part of the request that says all its
        values so far ("the Lakers in the NBA. Also ... Manchester United in the Premier League":
        the Lakers' league is the NBA), or else the function's own part ("a hotel in Seattle" of "a
        flight from Seattle to Boston ... and book a hotel in Boston"); the value must be said only
        in parts that ask for another function, or for this one when its values placed the call. A
        value of a part that asks for no function is shared context ("John has $5000" for each of
        his options), one of a function with a parameter of the same name may be the same thing
        again where the call's part refers back ("the same patient", "the country", "its"; not
        "Invest $2000 in Google and withdraw $1000 from Apple"), and a number the request ties to
        ``param`` stays unless the call's own part ties one too ("Apple for the next 30 days ... and
        then Microsoft for the next 45 days": ``days`` ties every number, and 45 is Microsoft's).
        An earlier call to the function that gave ``param`` a value of the call's own part takes the
        place of an unused one ("the weight of Neutron and Proton in amu? Also the diameter ... in
        femtometers": the second weight is in amu too)."""
        if not self._clauses:
            return None
        placed = [p for v in others.values() if (p := self._places(v))]
        by_values = bool(placed) and all(p == placed[0] for p in placed) and len(placed[0]) == 1
        home = next(iter(placed[0])) if by_values else self._homes.get(tool.name)
        if home is None or self._said_in(home, value):
            return None
        said = self._places(value)
        theirs = [[t for t in self.ctx.tools if self._homes.get(t.name) == i] for i in said]
        again = self._refers_back(home, param)
        if not said or not all(ts and not (again and any(t.param(param) for t in ts))
                               or by_values and tool.name in self._clauses[i].claims
                               for i, ts in zip(said, theirs, strict=True)):
            return None
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        tied = self.tied_to(param) if number else []
        if any(_same_number(float(value), n) for n in tied) and not any(self._said_in(home, n) for n in tied):
            return None
        spec = tool.param(param)
        assert spec is not None
        unused = [e for e in self.left([*calls, Call(tool.name, others)])
                  if (e.number is not None) == number and e.function in (None, tool.name) and _could_hold(spec, e)
                  and self._said_in(home, e.number if number else e.text)
                  and not (number and self.owner(tool, param, e.number or 0.0, calls))
                  and not (asks_unit(param, spec.schema) and not self.writes_unit(e.text, spec.schema))]
        if unused:
            return f"{OTHER_TASK} while {unused[0].text!r} of the call's own task is unused"
        kept = next((v for c in calls if c.name == tool.name and (v := c.arguments.get(param)) is not None
                     and v != value and self._said_in(home, v)), None)
        return None if kept is None else f"{OTHER_TASK} while an earlier call's {kept!r} is the call's own task's"

    def _refers_back(self, i: int, param: str) -> bool:
        """Whether part ``i`` points back at something said before: "same", a pronoun, or a
        determiner before a word of ``param``'s name ("the country" for ``country``)."""
        said = self._clauses[i].said
        named = content_words(param)
        return any(w in _BACK_WORDS or w in _DETERMINERS and j + 1 < len(said) and stem(said[j + 1]) in named
                   for j, w in enumerate(said))

    def opening(self, value: str) -> bool:
        """Whether ``value`` is the request's first three words or more, cut before its end ("Could
        you help me with a few tasks? First, I" as a hotel chain): the user's preamble, never an
        argument; or the whole request of five words or more ("Get stock price of Apple for the last
        5 days in NASDAQ." as the company). No gold value of the training sources is either. Words
        are as a sentence has them, three with letters and two spaced apart at least: a date, a time
        or a web address a user gives alone to answer a question ("2023-03-15 23:59:59") is a value."""
        mine, request = tokens(value), self._request_tokens
        if len(value.split()) < 2 or sum(any(c.isalpha() for c in w) for w in mine) < 3:
            return False
        if len(mine) >= 5 and mine == request:
            return True
        return len(request) > len(mine) + 3 and request[:len(mine)] == mine

    @cached_property
    def _request_tokens(self) -> list[str]:
        return tokens(self.request)

    @cached_property
    def dated(self) -> set[str]:
        """Numbers the request writes only inside dates and times ("1" and "2020" of "January 1,
        2020"): a string parameter takes them whole."""
        spans = [m.span() for pattern in (_SAID_DATE, _SAID_TIME) for m in pattern.finditer(self.request)]
        seen: dict[str, bool] = {}
        for m in _NUMBER.finditer(self.request):
            inside = any(a <= m.start() and m.end() <= b for a, b in spans)
            seen[m.group(0)] = seen.get(m.group(0), True) and inside
        return {text for text, inside in seen.items() if inside}

    def takes(self, param: ParamSpec, entity: Entity) -> bool:
        """Whether ``param`` is where ``entity`` goes, by kind: a number to a numeric parameter (a
        string one only where the number is part of a date), a name to a string parameter; an
        option only by name, anything where the schema has no type or is an object."""
        if entity.to is not None or entity.param not in (None, param.name) or param.choices is not None:
            return _could_hold(param, entity)
        schema = param.schema
        kinds = _types(schema)
        if "array" in kinds and isinstance(schema.get("items"), dict):
            kinds = (kinds - {"array"}) | (_types(schema["items"]) or {"object"})
        if not kinds or "object" in kinds:
            return True
        if entity.number is not None:
            return bool(kinds & {"integer", "number"}) or "string" in kinds and (entity.clock or entity.text in self.dated)
        return "string" in kinds

    def held_elsewhere(self, tool: ToolSpec, calls: Sequence[Call]) -> Entity | None:
        """An entity no call uses yet that another offered function's parameter takes, while none
        of ``tool``'s parameters takes any unused entity; None otherwise, and for a function
        without parameters (its call is the point)."""
        left = self.left(calls)
        if not tool.params or any(self.takes(p, e) for e in left if e.function in (None, tool.name) for p in tool.params):
            return None
        return next((e for e in left for t in self.ctx.tools if t.name != tool.name and e.function in (None, t.name)
                     for p in t.params if self.takes(p, e)), None)

    def offered_said(self, param: ParamSpec, args: dict[str, Any]) -> str | None:
        """A value ``param``'s description offers that the request says and no argument of the
        call already holds ("a vegan menu" for "dietary needs, e.g. vegan, gluten-free")."""
        held = set().union(*(_value_words(v) for v in args.values())) if args else set()
        for option in offered_values(str(param.schema.get("description", ""))):
            ws = tokens(option)
            if ws and all(w in self._said_words for w in ws) and not set(ws) <= held:
                return option
        return None

    @cached_property
    def _said_words(self) -> set[str]:
        return set(tokens(self.request))

    @cached_property
    def named_functions(self) -> dict[str, set[str]]:
        """Functions the request names by a word of their own: a word of the function's name that
        no other offered function's name has ("circle" of ``area_circle.calculate`` beside
        ``area_rectangle.calculate``), when it asks for several tasks. With one function offered,
        none: relevance decides."""
        tools = self.ctx.tools
        if len(tools) < 2 or not asks_several_tasks(self.request):
            return {}
        names = {t.name: content_words(t.name) for t in tools}
        out = {}
        for t in tools:
            own = names[t.name] - set().union(*(v for k, v in names.items() if k != t.name))
            hits = {w for w in own if _covered_by(w, self._request_stems)}
            if hits:
                out[t.name] = hits
        return out

    def uncalled(self, calls: Sequence[Call]) -> list[str]:
        """Named functions that neither these calls nor the request's earlier ones call, unless a
        called function's own text explains the naming words ("speed" is the displacement
        function's ``initial_speed``, not a call for the final-speed one). A word both names
        have explains nothing: the "investment" of ``investment.withdraw`` is the prefix it shares
        with ``investment.invest``, not the "invest" that names the latter."""
        if not self.named_functions:  # the common case: asked for every step judged
            return []
        done = {c.name for c in [*calls, *self.ctx.calls_since_request]} & self._tool_words.keys()

        def explained(name: str) -> set[str]:
            return set().union(*(self._tool_words[d] - (content_words(d) & content_words(name)) for d in done))
        return [n for n, hits in self.named_functions.items()
                if n not in done and any(not _covered_by(w, explained(n)) for w in hits)]

    def waiting(self, calls: Sequence[Call]) -> list[str]:
        """Functions with a part of the request of their own (``_homes``, by their words or by
        relevance) that neither these calls nor the request's earlier ones call, while that part
        says an entity no call uses yet ("the greatest common divisor of 48 and 36" for
        ``math.gcd`` after a call to another function)."""
        if not self._homes:
            return []
        done = {c.name for c in [*calls, *self.ctx.calls_since_request]}
        left = self.left(calls)
        return [n for n, i in self._homes.items() if n not in done
                and any(self._said_in(i, e.text if e.number is None else e.number) for e in left)]

    @cached_property
    def _tool_words(self) -> dict[str, set[str]]:
        return {t.name: content_words(" ".join([t.name, t.description, *(p.name for p in t.params)]))
                for t in self.ctx.tools}

    def cut_list(self, value: list[Any]) -> bool:
        """Whether ``value`` leaves out items of a list the request spells out that has all of
        its own ([22, 33, 42] of "[22,33,42,12,34]"), or a phrase the request coordinates with one
        of its strings (["chicken"] of "uses chicken and mushrooms": ``siblings``)."""
        key = [str(v).lower() for v in value]
        if any(len(run) > len(key) and all(k in run for k in key) for run in self._spelled):
            return True
        strings = [v for v in value if isinstance(v, str)]
        held = content_words(" ".join(strings))  # a sibling of another length may overlap a member ("and rice")
        return bool(strings) and any(not content_words(e.text) <= held
                                     for e in self.siblings([Call("", {"v": v}) for v in strings]))

    @cached_property
    def word_lists(self) -> list[list[str]]:
        """Lists of words the request coordinates ("chicken and mushrooms"): each content word with
        its ``siblings``, in the request's order, for an array of strings to take whole."""
        out: list[list[str]] = []
        for w in dict.fromkeys(w for w in words(self.request) if w not in _STOP and w not in _GENERIC and len(w) > 2):
            found = [w, *(e.text for e in self.siblings([Call("", {"v": w})]))]
            spans = {m.start(): m.group(0) for t in found
                     for m in [re.search(rf"(?<![\w-]){re.escape(t)}(?![\w-])", self.request, re.I)] if m}
            run = [spans[k] for k in sorted(spans)]  # as the request writes them, in its order
            if len(run) > 1 and run not in out:
                out.append(run)
        return out

    @cached_property
    def _spelled(self) -> list[list[str]]:
        return [[str(v).lower() for v in run] for run in _spelled_lists(self.request)]

    @cached_property
    def _request_stems(self) -> set[str]:
        return {stem(w) for w in words(self.request)}

    def names(self, param: str) -> bool:
        """Whether the request speaks of a parameter by its name: at least half of its words
        ("toll roads avoided" names ``avoid_tolls``, "their history" ``include_history``). A
        flag the request names is asked for; one it does not is best left at its default."""
        ws = [w for w in words(param) if w not in _STOP and len(w) > 2]
        ws = [w for w in ws if w not in _GENERIC] or ws
        return bool(ws) and sum(_covered_by(stem(w), self._request_stems) for w in ws) * 2 >= len(ws)

    def tied_to(self, param: str) -> list[float]:
        """Numbers the request ties to the parameter (``word_ties``), where a unit of time decides
        before a nearby word: a number written only in a unit of time ("for 10 seconds", "5 years
        old") ties to a parameter that takes a span of time (``time``, ``age``, ``loan_term``) and
        to no other ("keeps this acceleration for 10 seconds" is ``time``'s 10, not
        ``acceleration``'s)."""
        if param in self._ties:  # asked for every value candidate: read the request once per parameter
            return self._ties[param]
        near = self.word_ties(param)
        timed = self._timed
        if set(words(param)) & _SPANS:
            out = near + [n for n in timed if not any(_same_number(n, m) for m in near)]
        else:
            out = [n for n in near if not any(_same_number(n, m) for m in timed)]
        self._ties[param] = out
        return out

    @cached_property
    def _timed(self) -> list[float]:
        """The numbers the request writes, each time it writes them, in a unit of time."""
        seq = self._request_terms
        said: dict[float, bool] = {}
        for i, (_, n) in enumerate(seq):
            if n is not None:
                unit = seq[i + 1][0] if i + 1 < len(seq) else None
                said[n] = said.get(n, True) and unit in _TIME_UNITS
        return [n for n, timed in said.items() if timed]

    def word_ties(self, param: str, beside: bool = True) -> list[float]:
        """Numbers the request writes right by a word of the parameter's name: "a current of 20"
        ties 20 to ``current``, "accelerated at 4" ties 4 to ``acceleration``; up to three words
        after the word, or one before it ("300 meters" is no tie to ``distance``). A word joined by
        "and" to a word of another parameter's name ties nothing: "the base and height as 6cm and
        10cm" gives each its number in turn ("6 feet tall and weighs 80" still ties 80); nor does
        a word beside a word only another parameter's name has ("total liabilities are $10,000" is
        ``total_liabilities``' and not ``total_revenue``'s, "a final speed of 24" not
        ``initial_speed``'s; ``beside=False`` reads the ties without this, for ``rule_reach``). A
        number after the word that comes before a word of another parameter's name is that one's:
        "180 hits and 600 at-bats. Round to 3 decimals" ties 600 to no ``hits``, 3 to no ``at_bats``."""
        names = {stem(w) for w in words(param) if w not in _STOP and w not in _GENERIC and len(w) > 2}
        others = self._param_stems - names
        seq = self._request_terms
        out: list[float] = []
        for i, (word, _) in enumerate(seq):
            joined = seq[i - 2][0] if i > 1 and seq[i - 1][0] == "and" else None
            if joined and _covered_by(stem(joined), others):  # "base and height as 6 and 10"
                continue
            if names and word is not None and any(_meets(stem(word), n) for n in names):
                near = [b for j in (i - 1, i + 1) if 0 <= j < len(seq) and (b := seq[j][0]) is not None]
                if beside and any(_covered_by(stem(b), others) and not _covered_by(stem(b), names) for b in near):
                    continue
                out += [n for _, n in seq[max(i - 1, 0):i] if n is not None]
                out += [n for j in range(i + 1, min(i + 4, len(seq))) if (n := seq[j][1]) is not None
                        and not self._counts_other(j, names)]
        return out

    def _counts_other(self, j: int, names: set[str]) -> bool:
        """Whether the word written right after number ``j`` is only another numeric parameter's
        ("600 at-bats" counts ``at_bats``; "5 units" no string ``unit``; "6 and height" nothing),
        and no unit: a word written after two numbers or more ("1 atm and ... 2 atm" beside
        ``atm_pressure``) says what they measure, not whose they are."""
        word = self._word_after[j].lower()
        seq = self._request_terms
        if sum(n is not None and w.lower() == word for w, (_, n) in zip(self._word_after, seq)) > 1:
            return False
        after = [stem(w) for w in words(word) if w not in _STOP]
        counted = self._number_stems - names
        return any(_covered_by(w, counted) for w in after) and not any(_covered_by(w, names) for w in after)

    @cached_property
    def _word_after(self) -> list[str]:
        """For each of ``_request_terms``, the word (hyphens kept) written right after it, or ""."""
        return [(m := re.match(r"\s*([A-Za-z][\w'’-]*)", self.request[t.end():])) and m.group(1) or ""
                for t in re.finditer(rf"({_NUMBER.pattern})|[A-Za-z]+", self.request)]

    @cached_property
    def _number_stems(self) -> set[str]:
        return {stem(w) for ps in self._number_params.values() for p in ps for w in words(p)
                if w not in _STOP and w not in _GENERIC and len(w) > 2}

    def owner(self, tool: ToolSpec, param: str, number: float, calls: Sequence[Call]) -> str | None:
        """Why ``number`` belongs to another numeric argument of ``tool`` than ``param``, or None.

        - The request ties it to that argument and not to ``param`` ("a change in time of 10" is
          ``d_time``'s, not ``b_field``'s), unless the argument's words are the function's own
          ("the final temperature when 20 kg" ties nothing to ``temperature1`` of
          ``calculate_final_temperature``).
        - An earlier call to the function gave that argument this number, or one with the same
          unit ("10 years and 20 years": with 20 the earlier ``duration``, 10 is no income), while
          ``param``'s earlier value has another unit, or one of the same spelled-out list ("seasons
          2017, 2018 and 2019"), while ``param``'s earlier value is of none.

        On the training sources' gold calls it names another argument for 3 of 687 numbers
        (``python benchmarks/parallel_values.py``).
        """
        if any(_same_number(number, n) for n in self.tied_to(param)):
            return None
        for other in self._number_params[tool.name]:
            if other != param and any(_same_number(number, n) for n in self.tied_to(other)):
                return f"the request ties {number:g} to {other!r}"
        unit = self._units.get(number)
        for c in calls:
            if c.name != tool.name:
                continue
            mine = c.arguments.get(param)
            for k, v in c.arguments.items():
                if k == param or isinstance(v, bool) or not isinstance(v, (int, float)):
                    continue
                if _same_number(float(v), number) and mine != v:
                    return f"an earlier call's {k!r}"
                kin = unit is not None and self._units.get(float(v)) == unit
                if kin and not (isinstance(mine, (int, float)) and self._units.get(float(mine)) == unit):
                    return f"a number in {unit!r} like an earlier call's {k!r}"
                listed = self._run_of(number)
                if listed and listed == self._run_of(float(v)) and not (
                        isinstance(mine, (int, float)) and not isinstance(mine, bool) and self._run_of(float(mine)) == listed):
                    return f"listed with an earlier call's {k!r}, {v:g}"
        return None

    def joins_lists(self, value: list[Any]) -> bool:
        """Whether ``value`` holds members of two lists of numbers the request spells out apart
        ("dataset_A with the values 12, 24, 36 and dataset_B with the values 15, 30, 45")."""
        runs = {self._run_of(float(v)) for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)}
        return len(runs - {None}) > 1

    def _run_of(self, number: float) -> int | None:
        """Which list of numbers the request spells out holds ``number`` ("2017, 2018 and 2019": with
        2017 an earlier call's ``season``, 2019 is a season too, not a ``player_id``); None for none."""
        return next((i + 1 for i, run in enumerate(self._number_runs) if any(_same_number(number, n) for n in run)),
                    None)

    def names_option(self, choices: Sequence[Any], value: Any) -> bool:
        """Whether the conversation names the option ``value``: in so many words, or, where it
        names none of the options so, by the stems of its words ("the last quarter" names
        ``Quarterly``; "an annual rate compounded monthly" names ``monthly`` and not ``annually``)."""
        if str(value).lower() in self.evidence:
            return True
        if any(str(c).lower() in self.evidence for c in choices):
            return False
        stems = [stem(w) for w in words(str(value))]
        return bool(stems) and all(s in self._request_stems for s in stems)

    def unpaired(self, tool: ToolSpec, param: str, number: float, others: dict[str, Any],
                 calls: Sequence[Call]) -> str | None:
        """Why ``number`` breaks a pair the request writes, or None: the call already holds one
        number of a list the request spells out, with no more members than the function has
        numeric parameters ("the GCD of 96 and 128, and the LCM of 15 and 25": with 96 for
        ``num1``, 15 is no ``num2`` while 128 is unused), and ``number`` is no member of it nor
        tied to ``param`` by a word of its name. It fires on none of the training sources' 687
        gold numbers (``python benchmarks/parallel_values.py``)."""
        if any(_same_number(number, n) for n in self.tied_to(param)):
            return None
        held = [float(v) for v in others.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        used = [*held, *(float(v) for c in [*calls, *self.ctx.calls_since_request] for v in c.arguments.values()
                         if isinstance(v, (int, float)) and not isinstance(v, bool))]
        width = sum(map(takes_number, tool.params))
        for run in self._number_runs:
            if len(run) > width or any(_same_number(number, n) for n in run):
                continue
            mate = next((v for v in held if any(_same_number(v, n) for n in run)), None)
            free = [n for n in run if not any(_same_number(n, u) for u in used)
                    and not self.owner(tool, param, n, calls)]
            if mate is not None and free:
                return f"the request pairs {free[0]:g} with {mate:g}"
        return None

    @cached_property
    def _number_runs(self) -> list[list[float]]:
        """The lists of numbers the request spells out (``_spelled_lists``)."""
        return [[float(v) for v in run] for run in _spelled_lists(self.request)
                if all(isinstance(v, (int, float)) for v in run)]

    @cached_property
    def _number_params(self) -> dict[str, list[str]]:
        """Each tool's numeric parameters whose words are not all the function's own ("the final
        temperature when 20 kg" names ``calculate_final_temperature``, not its ``temperature1``)."""
        return {t.name: [p.name for p in t.params if takes_number(p)
                         and not content_words(p.name) <= content_words(t.name)] for t in self.ctx.tools}

    @cached_property
    def _param_stems(self) -> set[str]:
        return {stem(w) for t in self.ctx.tools for p in t.params for w in words(p.name)
                if w not in _STOP and w not in _GENERIC and len(w) > 2}

    @cached_property
    def _units(self) -> dict[float, str]:
        """The word written right after each number of the request ("years" of "10 years"), where it
        is no stop word."""
        seq = self._request_terms
        out: dict[float, str] = {}
        for i, (_, n) in enumerate(seq):
            after = seq[i + 1][0] if i + 1 < len(seq) else None
            if n is not None and n not in out and after and after not in _STOP:
                out[n] = after
        return out

    @cached_property
    def _request_terms(self) -> list[tuple[str | None, float | None]]:
        """The request as (word, None) and (None, number) in order."""
        return [(None, float(m.group(1).replace(",", ""))) if m.group(1) else (m.group(0).lower(), None)
                for m in re.finditer(rf"({_NUMBER.pattern})|[A-Za-z]+", self.request)]

    @cached_property
    def _request_cased(self) -> list[str]:
        return re.findall(r"[\w'’-]+|,", self.request)

    @cached_property
    def _request_words(self) -> list[str]:
        return [w.lower() for w in self._request_cased]

    def siblings(self, calls: Sequence[Call]) -> list[Entity]:
        """Phrases the request coordinates with a value the calls use: with "copper" used, the
        "aluminum" of "copper and aluminum"; with "navy" used, "purple" and "maroon" of "navy,
        purple and maroon". Lower-case names are no entities on their own, but a list the user
        spells out asks for each of its members. Sibling phrases have the value's word count.
        Whole numbers are coordinated too ("in 1900 and 1950"; not the range "between 50 and
        150"). A sibling is owed to the function
        whose call used the value: "the weight of Neutron and Proton ... also the diameter of a
        Proton and Neutron" owes each function both particles. A name is owed only to a function
        with a parameter that takes it: "heterozygous" beside the option "(Aa)" is no option."""
        seq = self._request_words
        out: list[Entity] = []
        pairs = {(c.name, v.strip() if isinstance(v, str) else str(v)) for c in calls for v in c.arguments.values()
                 if isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool) and v >= 0)}
        for function, value in sorted(pairs):
            ws = [w.lower() for w in re.findall(r"[\w'’-]+", value)]
            k = len(ws)
            number = value.isdigit()
            if not 0 < k <= 3 or not (number or all(_wordlike(w) for w in ws)):
                continue
            for start in (i for i in range(len(seq) - k + 1) if seq[i:i + k] == ws):
                for step in (1, -1):
                    at = start
                    while True:
                        gap = seq[at + k:at + k + 2] if step == 1 else seq[max(at - 2, 0):at]
                        links = [g for g in gap if g in (",", "and")]
                        if not links or (step == 1 and gap[0] not in (",", "and")) or \
                                (step == -1 and gap[-1] not in (",", "and")):
                            break
                        skip = 2 if len(links) == 2 else 1  # ", and"
                        prev, at = at, (at + k + skip if step == 1 else at - k - skip)
                        if number and (first := min(prev, at)) > 0 and seq[first - 1] == "between":
                            break  # "between 50 and 150" is a range, not a list
                        phrase = seq[at:at + k] if at >= 0 else []
                        if len(phrase) != k or not (phrase[0].isdigit() if number else
                                                    all(_wordlike(w) and w not in _STOP for w in phrase)) \
                                or " ".join(phrase) in self._qualifiers \
                                or (value[:1].isupper() and not self._request_cased[at][:1].isupper()):
                            break  # a name's siblings are names: not the "considering" of "to Miami, considering"
                        sibling = Entity(" ".join(phrase), float(phrase[0]) if number else None, function)
                        tool = self.ctx.tool(function)
                        if number or tool is None or any(self.takes(p, sibling) for p in tool.params):
                            out.append(sibling)
        return list(dict.fromkeys(out))

    @cached_property
    def _qualifiers(self) -> set[str]:
        """Names that qualify the one before them ("Colorado" of "Denver, Colorado"): no siblings."""
        return {" ".join(words(n.text)) for n in _name_runs(self.request) if n.qualifier}

    @cached_property
    def _unit_words(self) -> set[str]:
        return unit_words(self.evidence_raw)

    def swallowed(self, tool: ToolSpec, name: str, value: Any, others: dict[str, Any]) -> str | None:
        """Why string ``value`` of ``name`` has swallowed another parameter's number: it holds a
        number of the request (``_held_number``) that an unfilled numeric parameter of ``tool`` (or
        one holding that number) takes, and is no phrase of the request ("France, 1510" of "France
        in 1510"; "500 mg" stays whole) or is an end of a conversion, which names a unit only
        ("20000 Japanese Yen" as the source of ``convert_currency(amount, ...)``)."""
        if not isinstance(value, str) or (held := _held_number(value, self.numbers)) is None:
            return None
        if _phrase_in(tokens(value), self.evidence_seq) and not conversion_side(tool, name):
            return None
        taker = next((p.name for p in tool.params if p.name != name and takes_number(p) and (
            p.name not in others or _value_numbers(others[p.name]) == [held])), None)
        return f"{held:g}, which {taker!r} takes" if taker else None

    @cached_property
    def amount_units(self) -> list[str]:
        """What the request writes right after a number, up to a stop word: the amount's own unit,
        "US dollars" of "for 500 US dollars?", "pounds" of "2 pounds of butter"."""
        out = []
        for m in _AFTER_NUMBER.finditer(self.request):
            kept = []
            for w in m.group(1).split():
                if w.lower() in _STOP and not w.isupper():  # "US" is no stop word
                    break
                kept.append(w)
            if kept:
                out.append(" ".join(kept))
        return out

    def writes_unit(self, value: str, schema: dict[str, Any]) -> bool:
        """Whether ``value`` is a unit as the conversation writes one, or as the parameter's
        description offers one (its examples, quoted options, default): "meters" of "a radius of
        5 meters" or "in meters", not the "circle" of "the first circle" nor the "distance" of
        "the total distance in kilometers"."""
        low = value.strip().lower()
        offered = {w for m in _ASIDES.finditer(str(schema.get("description") or "")) for g in m.groups() if g
                   for w in tokens(g)}
        return low in self._unit_words or all(stem(w) in self._unit_words or w in offered for w in tokens(low))

    @cached_property
    def expressions(self) -> list[str]:
        return [re.sub(r"\s+", "", e) for e in expressions(self.evidence_raw)]

    def says(self, value: Any) -> bool:
        """Whether the conversation gives any part of ``value``: a number it writes, a word of a
        string (by its stem: "rats" gives "rat", "week" "weekly"; stop words only when the value
        is nothing else, as "to" for a spell check), an abbreviation of its words, a member of a
        list. Booleans and None are nobody's words."""
        if isinstance(value, bool) or value is None:
            return False
        if isinstance(value, (list, dict)):
            return any(self.says(v) for v in (value if isinstance(value, list) else value.values()))
        if isinstance(value, (int, float)):
            return any(_same_number(float(value), n) for n in self.numbers)
        text = str(value)
        ws = tokens(text)
        ws = [w for w in ws if w not in _STOP] or ws
        return any(w in self.evidence_words or stem(w) in self._evidence_stems for w in ws) or \
            any(_abbreviates(text, self.evidence_raw[i:i + 80]) for i in self.capital_starts(text)) or \
            _currency_named(text, self.evidence_raw) or _country_named(text, self.evidence_raw)

    @cached_property
    def _evidence_stems(self) -> set[str]:
        return {stem(w) for w in self.evidence_words}

    def capital_starts(self, value: str) -> list[int]:
        """Where words that could start an abbreviation of ``value`` begin in the evidence."""
        first = value.strip()[:1].lower()
        return [m.start() for m in re.finditer(r"\b\w", self.evidence_raw) if self.evidence_raw[m.start()].lower() == first]


def _wordlike(word: str) -> bool:
    """A word a name is made of ("HbA1c" too), not a number or punctuation."""
    return word[:1].isalpha() and word.replace("-", "").isalnum()


def _phrase_in(ws: Sequence[str], seq: Sequence[str]) -> bool:
    n = len(ws)
    return any(list(seq[i:i + n]) == list(ws) for i in range(len(seq) - n + 1))


def _schema_copy(value: Any, name: str, schema: dict[str, Any], evidence: set[str]) -> str | None:
    """Why ``value`` is schema text rather than the user's words, or None."""
    if isinstance(value, list):
        return next((r for v in value if (r := _schema_copy(v, name, schema, evidence))), None)
    if isinstance(value, dict):
        if {"type", "properties"} & set(value) or {"type", "description"} <= set(value):
            return "a JSON Schema as the value"
        return next((r for v in value.values() if (r := _schema_copy(v, name, schema, evidence))), None)
    if not isinstance(value, str):
        return None
    ws = words(value)
    if not ws:
        return None
    grounded = all(w in evidence for w in tokens(value)) or all(w in evidence for w in ws)  # "PayPal" whole too
    low = value.strip().lower()
    if low in _JSON_TYPES and not grounded:
        return "a type name"
    if words(name) == ws:  # even where the user says the word: "the compound C6H12O6", "3 units", "which month"
        return "the parameter's own name"
    desc = str(schema.get("description", ""))
    dws = words(desc)
    if len(ws) >= 4 and dws and _phrase_in(ws, dws) and len(ws) >= 0.6 * len(dws) and not grounded:
        return "the parameter's description"
    m = _EXAMPLE.search(desc)
    if m and not grounded and _phrase_in(ws, words(m.group(1))):
        return "the description's own example"
    return None


_STRFTIME = re.compile(r"%[YymdbBHIMSp](?:[-/.:, T]{0,3}%[YymdbBHIMSp])*")
_SPELLED_TOKEN = r"(?:YYYY|yyyy|MM|mm|DD|dd|HH|hh|SS|ss)"
_SPELLED = re.compile(rf"(?<![A-Za-z]){_SPELLED_TOKEN}(?:[-/.: T]{_SPELLED_TOKEN})+(?![A-Za-z]|[-/.:][A-Za-z])")
_SPELLED_PARTS = {"yyyy": "%Y", "dd": "%d", "hh": "%H", "ss": "%S"}


def _strptime_format(spelled: str) -> str:
    """"YYYY-MM-DD HH:mm:ss" as "%Y-%m-%d %H:%M:%S": MM is the month, but the minutes after an hour."""
    parts = re.split(r"([-/.: T])", spelled)
    out = []
    for i, part in enumerate(parts):
        low = part.lower()
        if low == "mm":
            out.append("%M" if i >= 2 and parts[i - 1] == ":" and parts[i - 2].lower() == "hh" else "%m")
        else:
            out.append(_SPELLED_PARTS.get(low, part))
    return "".join(out)


def stated_format(name: str, schema: dict[str, Any]) -> str | None:
    """The ``strptime`` format a parameter asks its values in: a strftime pattern in its description
    ("Format: %Y-%m-%d %H:%M:%S"), a spelled one ("YYYY-MM-DD", "HH:mm"), or JSON Schema's
    ``format: date``. None when it states none, when the pattern cannot be read back
    ("YYYY-YYYY"), or for a parameter that is itself a format ("date_format")."""
    if "format" in name.lower():
        return None
    text = str(schema.get("description") or "")
    found = _STRFTIME.search(text) or _SPELLED.search(text)
    if found:
        fmt = found.group(0) if found.re is _STRFTIME else _strptime_format(found.group(0))
    elif schema.get("format") == "date":
        fmt = "%Y-%m-%d"
    else:
        return None
    try:  # a pattern that names a part twice, or none, is no format to hold values to
        datetime.strptime(datetime(2001, 2, 3, 4, 5, 6).strftime(fmt), fmt)
    except (ValueError, re.error):
        return None
    return fmt


_MONTH_NAME = r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_ORDINAL = r"(?:st|nd|rd|th)?"
_SAID_DATE = re.compile(
    r"(?<![\w-])(?:(?P<iy>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})"
    rf"|{_MONTH_NAME}\s+(?P<md>\d{{1,2}}){_ORDINAL}(?:,?\s+(?P<my>\d{{4}}))?"
    rf"|(?P<dd>\d{{1,2}}){_ORDINAL}\s+(?:of\s+)?{_MONTH_NAME.replace('mon', 'dmon')},?(?:\s+(?P<dy>\d{{4}}))?)(?![\w-])",
    re.I)
"""A date as people write it: ISO ("2023-03-05"), month first ("March 5th, 2023", "Mar 5") or
day first ("5 March 2023", "the 5th of March")."""
_SAID_TIME = re.compile(
    r"(?<![\w:.])(?:(?P<h>\d{1,2})(?::(?P<m>\d{2}))?(?::(?P<s>\d{2}))?\s?(?P<ap>[ap])\.?m\b\.?"
    r"|(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?(?![\d:])|(?P<noon>noon|midday|midnight))",
    re.I)
"""A time of day: "10:30am", "2 p.m.", "14:00", "noon"."""


def _said_days(text: str) -> list[tuple[int, int | None, int, int]]:
    """(position, year or None, month, day) of each date ``text`` writes."""
    out = []
    for m in _SAID_DATE.finditer(text):
        g = m.groupdict()
        if g["iy"]:
            y, mo, d = int(g["iy"]), int(g["im"]), int(g["id"])
        else:
            mon = (g["mon"] or g["dmon"]).lower()
            mo = next(i + 1 for i, full in enumerate(_MONTHS) if full.startswith(mon[:3]))
            d = int(g["md"] or g["dd"])
            raw = g["my"] or g["dy"]
            y = int(raw) if raw else None
        try:
            datetime(2000 if y is None else y, mo, d)  # a leap year lets 29 February through without a year
        except ValueError:
            continue
        out.append((m.start(), y, mo, d))
    return out


def _said_dates(text: str, year: int | None) -> list[tuple[int, datetime]]:
    """(position, date) of each date ``text`` writes; a date without a year takes ``year``
    (the one year the conversation writes), or is left out."""
    out = []
    for pos, y, mo, d in _said_days(text):
        y = y or year
        if y is None:
            continue
        try:
            out.append((pos, datetime(y, mo, d)))
        except ValueError:  # 29 February of a year that has none
            continue
    return out


@lru_cache(maxsize=4096)  # coverage asks it of the same values at every step
def moments(text: str) -> frozenset[tuple[int, ...]]:
    """The days, years and times of day ``text`` writes, whatever their form: "2022-05-10 at 10
    AM" and "2022-05-10 10:00:00" write the same ones. A value that writes every moment an entity
    of the request writes uses it, though it shares few of its words."""
    found: set[tuple[int, ...]] = set()
    for _, y, mo, d in _said_days(text):
        found.add((0, mo, d))
        if y is not None:
            found.add((1, y))
    found |= {(2, *hms) for _, hms in _said_times(text)}
    return frozenset(found)


def _said_times(text: str) -> list[tuple[int, tuple[int, int, int]]]:
    """(position, (hour, minute, second)) of each time of day ``text`` writes."""
    out = []
    for m in _SAID_TIME.finditer(text):
        g = m.groupdict()
        if g["noon"]:
            hms = (0 if g["noon"].lower() == "midnight" else 12, 0, 0)
        elif g["ap"]:
            h = int(g["h"])
            if not 1 <= h <= 12:
                continue
            hms = (h % 12 + (12 if g["ap"].lower() == "p" else 0), int(g["m"] or 0), int(g["s"] or 0))
        else:
            hms = (int(g["H"]), int(g["M"]), int(g["S"] or 0))
        if hms[0] < 24 and hms[1] < 60 and hms[2] < 60:
            out.append((m.start(), hms))
    return out


def dates_in_format(texts: Sequence[str], fmt: str, limit: int = 3) -> list[str]:
    """The dates and times ``texts`` write (the latest text first), written in ``fmt``, the format
    a parameter states: "March 18, 2023 at 10:30am" as "2023-03-18 10:30:00" for "%Y-%m-%d
    %H:%M:%S". A date is joined with the nearest time its text writes, a time alone with the
    latest date the texts write, and a date with no time at all is midnight; a date without a year
    takes the one year the texts write. Offered to the beam beside the sampled values, so a date
    the policy writes as said can still be chosen as the tool asks it."""
    codes = set(re.findall(r"%[A-Za-z]", fmt))
    wants_date, wants_time = bool(codes & set("%Y %y %m %d %b %B".split())), bool(codes & set("%H %I %M %S".split()))
    if not (wants_date or wants_time):
        return []
    years = {int(y) for t in texts for y in re.findall(r"(?<!\d)((?:19|20)\d{2})(?!\d)", t)}
    year = years.pop() if len(years) == 1 else None
    dated = [(_said_dates(t, year), _said_times(t)) for t in texts]
    latest = next((d for ds, _ in dated for _, d in ds), None)
    found: list[datetime] = []
    for ds, ts in dated:
        for pos, d in ds if wants_date else []:
            if wants_time and ts:
                h, mi, se = min(ts, key=lambda t: abs(t[0] - pos))[1]
                found.append(d.replace(hour=h, minute=mi, second=se))
            else:
                found.append(d)
        if wants_time and (latest is not None or not wants_date):
            base = latest or datetime(1900, 1, 1)
            found += [base.replace(hour=h, minute=mi, second=se) for _, (h, mi, se) in ts]
    out = []
    for when in found:
        text = when.strftime(fmt)
        if text not in out:
            out.append(text)
    return out[:limit]


def conversation_dates(ctx: ScoringContext, fmt: str) -> list[str]:
    """:func:`dates_in_format` over the user's turns (the latest first), then the tools' results."""
    said = [message_text(m) for m in reversed(ctx.messages) if isinstance(m, HumanMessage)]
    results = [message_text(m) for m in reversed(ctx.messages) if isinstance(m, ToolMessage)]
    return dates_in_format(said + results, fmt)


_PERCENT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s?(?:%|percent\b|per cent\b)", re.I)
_AS_DECIMAL = re.compile(r"decimal(?! places| digits| point)|fraction|between 0 and 1|sums? to 1\b"
                         r"|\d\s?%\s?(?:is|=|->|as)\s?0?\.\d|0?\.\d+\s?(?:for|=|is)\s?\d+(?:\.\d+)?\s?%", re.I)


_UNIT_AFTER = re.compile(r"(?:\d\s*|\b(?:in|into|to|per|as|degrees?|units?)\s+)(?=([A-Za-z°µ][\w/°²³^.-]*))", re.I)
"""A unit as a text writes it: right after a number ("5 meters", "10m"), after "in", "into",
"to", "per", "as" ("in miles", "to km/h"), "degrees" ("25 degrees Celsius") or "unit" ("in the
unit ng/dL")."""
_ASIDES = re.compile(r"\(([^)]*)\)|[\"'‘“]([^\"'’”]+)[\"'’”]|(?:e\.g\.|such as|either|defaults? (?:is|to)|default:?)\s*([^.;]+)",
                     re.I)
"""Where a description offers values: in parentheses, in quotes, after "e.g.", "such as",
"either" or "default is"."""


NOT_A_UNIT = "the conversation's word, but not one it writes as a unit"
_POWERED = re.compile(r"\b(?:square|sq\.?|cubic|cu\.?)\s+", re.I)
"""What makes a unit an area's or a volume's: "meters" of "square meters" is another unit."""
OTHER_TASK = "another task's value"
_BACK_WORDS = frozenset("same it its him his her them their they both".split())
_EACH = frozenset("each every both".split())
"""Words by which a part asks its function for each of several things ("in each city")."""
_EACH_FILLER = frozenset("one of the these those my our your two three four five".split())
_DETERMINERS = frozenset("the this that these those".split())
OPENING = "the request's opening words (or all of it), not a value"
UNISSUED = "a token no tool result gave and the user gives as no token"
PREMATURE = "takes a token, which another function issues first: "
CALLED_AGAIN = "called already"


def asks_unit(name: str, schema: dict[str, Any]) -> bool:
    """A free-text string parameter named for a unit (``unit``, ``units``, ``to_unit``...)."""
    return "string" in _types(schema) and "enum" not in schema and bool({"unit", "units"} & set(words(name)))


def unit_words(text: str) -> set[str]:
    """The stems of the words a text writes as units (``_UNIT_AFTER``), and each unit whole ("km/h")."""
    found = [m.group(1).lower().rstrip(".") for m in _UNIT_AFTER.finditer(text)]
    return {w for f in found for w in (f, *map(stem, tokens(f)))}


def percents(text: str) -> list[float]:
    """The shares a text writes as percentages ("4%", "2.5 percent"): the numbers before the sign."""
    return [float(n) for n in _PERCENT.findall(text)]


def named_spans(request: str, name: str, schema: dict[str, Any]) -> list[tuple[int, str]]:
    """The spans of time ``request`` names without a count ("for the next week"), each as the number
    a parameter that counts time takes for it and the words that name it: 7 for a ``timeframe``
    that is "the number of days", 10 for a ``duration`` "in years" over "the past decade". The
    parameter's unit is a plural unit its name holds (``days_ahead``), else the one its description
    counts ("number of upcoming months") or, for a name that takes a span (``duration``), writes
    after "in"; a parameter whose unit is stated nowhere gets none."""
    if not _types(schema) & {"integer", "number"}:
        return []
    own = set(words(name))
    described = str(schema.get("description") or "")
    unit = next((w for w in words(name) if w in ("days", "weeks", "months", "years", "hours")), None)
    if unit is None and (m := _COUNTED_UNIT.search(described) or (own & _SPANS and _IN_UNIT.search(described))):
        unit = m.group(1).lower()
    out: dict[int, str] = {}
    for m in _NAMED_SPAN.finditer(request):
        length = _SPAN_LENGTHS[m.group(1).lower()].get(unit) if unit else None
        if length is not None:
            out.setdefault(length, m.group(0))
    return list(out.items())


def asks_decimal(schema: dict[str, Any]) -> bool:
    """Whether a number parameter's description asks for a share as a decimal ("as a decimal",
    "E.g. 5% is 0.05", "between 0 and 1"). Where it says nothing, or asks for a percentage,
    sources differ (``benchmarks/stated_formats.py``): the policy decides between 4 and 0.04."""
    return "number" in _types(schema) and bool(_AS_DECIMAL.search(str(schema.get("description") or "")))


def _unscaled(value: float, name: str, schema: dict[str, Any], request: str) -> float | None:
    """The amount the request means where ``value`` is the bare number it writes with a magnitude
    (50 of "50 million": 50000000), unless the parameter counts in that magnitude ("revenue in
    millions") or the request also writes the number bare. It scores 0.8, not lower: the one
    training-source gold call with such a number writes it bare ("costs 34.9 million dollars":
    ``costs=34.9``, a parameter that names no unit)."""
    if re.search(r"thousand|million|billion|trillion", f"{name} {schema.get('description', '')}", re.I):
        return None
    scaled = magnitudes(request)
    bare = [float(m.group(0).replace(",", "")) for m in _NUMBER.finditer(request) if m.start() not in scaled]
    if any(_same_number(value, n) for n in bare):
        return None
    return next((amount for start, amount in scaled.items()
                 if _same_number(value, float(_NUMBER.match(request, start).group(0).replace(",", "")))), None)


def _misscaled(value: float, schema: dict[str, Any], said: Sequence[float]) -> bool:
    """4 of the request's "4%" where the parameter asks for a decimal (0.04)."""
    return asks_decimal(schema) and any(math.isclose(value, p) for p in said) and \
        not any(math.isclose(value * 100, p) for p in said)


def _facts(ctx: ScoringContext) -> _Facts:
    """What the verifier reads of a question, once per question (no threshold enters it)."""
    if "verifier" not in ctx.cache:
        ctx.cache["verifier"] = _Facts(ctx)
    return ctx.cache["verifier"]


def relevant_tools(ctx: ScoringContext, threshold: float = RELEVANCE_THRESHOLD) -> list[str]:
    """The tools whose relevance to the conversation reaches ``threshold``, most relevant first."""
    relevance = _facts(ctx).relevance
    return sorted((n for n, r in relevance.items() if r >= threshold), key=lambda n: -relevance[n])


def issued_tokens(ctx: ScoringContext) -> list[str]:
    """The tokens the conversation's tool results gave, latest first: what a token parameter
    takes, so the search offers them (a sampled token is rarely the exact string)."""
    return _facts(ctx).tokens_issued


def owed_after_results(ctx: ScoringContext, threshold: float = RELEVANCE_THRESHOLD,
                       relevance: Mapping[str, float] | None = None) -> str | None:
    """The most relevant tool (reaching ``threshold``) when no call since the last user turn went
    to it, else None: a token fetched for "remind me of the meeting" has its result, but the
    reminder is still owed. ``relevance``: the verifier's own unless given (the benchmark's other
    readings). Chosen on the training sources only (``benchmarks/pending_after_results.py``)."""
    relevance = _facts(ctx).relevance if relevance is None else relevance
    best = max(relevance.values(), default=0.0)
    called = {c.name for c in ctx.calls_since_request}
    return next((n for n, r in relevance.items() if r == best and r >= threshold and n not in called), None)


def paging(name: str) -> bool:
    """Whether a parameter's numbers are a listing's paging, which a user need not say: its name
    is made of paging words (``limit``, ``page_size``, ``per_page``, ``max_cursor``) or asks for the
    most or top of a plural (``max_articles``, ``top_n_keywords``). ``nucleus_count``,
    ``pieces_count`` and ``family_size`` are the user's data."""
    ws = words(name)
    return bool(ws) and (set(ws) <= _LISTING and bool(set(ws) & _PAGING)
                         or ws[0] in ("max", "top") and len(ws) > 1 and ws[-1].endswith("s"))


_STATED_DEFAULT = re.compile(r"\bdefaults?(?:\s+value)?(?:\s+(?:is|to|of)|:|\s*=)\s*['\"]?(-?\d+(?:\.\d+)?)(?!\d|\.\d)", re.I)


def stated_default(param: ParamSpec) -> Any:
    """A parameter's default: its schema's, or a number its description states ("The size of the
    deck. Default is 52.")."""
    if "default" in param.schema:
        return param.schema["default"]
    m = _STATED_DEFAULT.search(str(param.schema.get("description") or ""))
    return float(m.group(1)) if m else None


def _holds_number(value: Any) -> bool:
    """Whether a JSON value holds a number (a list's or an object's members included)."""
    if isinstance(value, (list, dict)):
        return any(_holds_number(v) for v in (value if isinstance(value, list) else value.values()))
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _made_up(facts: _Facts, tool: ToolSpec, args: dict[str, Any]) -> str | None:
    """Why a finished call is made up, or None.

    - The conversation gives none of its values and it invents a number: "What's the time right
      now?" answered with ``calculate_time(distance=1, speed=10)``.
    - The conversation writes no number at all (digits or words) and a required parameter takes
      one, or a list or object holding one: "What's the judgement in case XYZ?" answered with
      ``get_impactful_cases(firm_name="XYZ", year=2021)``. The call cannot be made from what the
      user said; asking, or no call, is the answer.
    - A required list or object is left empty (``interval=[]``): the call lacks what it needs.

    Strings the conversation does not spell may be knowledge (``AAPL`` for Apple, a date for
    "today"), and defaults (``stated_default``), flags, listed options and paging numbers
    (``paging``) invent nothing; a call without arguments is never made up."""

    def invents(name: str, value: Any) -> bool:
        param = tool.param(name)
        return _holds_number(value) and not paging(name) and (param is None or value != stated_default(param)) \
            and not (param and isinstance(value, (int, float)) and any(
                _same_number(float(value), n) for n, _ in named_spans(facts.request, name, param.schema)))

    required = {k: v for k, v in args.items() if (p := tool.param(k)) is not None and p.required}
    if any(v in ([], {}) for v in required.values()):
        return EMPTY_REQUIRED
    if not facts.numbers and any(invents(k, v) for k, v in required.items()):
        return NUMBERLESS
    if any(facts.says(v) for v in args.values()):
        return None
    numbers = {k: v for k, v in args.items() if isinstance(v, (int, float))}  # a number itself, not in a list
    return "the conversation gives none of its values" if any(invents(k, v) for k, v in numbers.items()) else None


def _date_said(when: datetime, fmt: str, facts: _Facts) -> bool:
    """Whether the conversation names every part ``fmt`` writes of ``when``: its numbers (an hour
    also on a 12-hour clock; zero minutes and seconds need not be said) and a month by name."""
    numbers = {abs(n) for n in facts.numbers}
    month = _MONTHS[when.month - 1]
    parts = {
        "%Y": when.year in numbers, "%y": when.year % 100 in numbers or when.year in numbers,
        "%m": when.month in numbers or month in facts.evidence_words or month[:3] in facts.evidence_words,
        "%d": when.day in numbers,
        "%H": when.hour in numbers or (when.hour % 12 or 12) in numbers or (when.hour == 12 and "noon" in facts.evidence_words),
        "%M": when.minute == 0 or when.minute in numbers, "%S": when.second == 0 or when.second in numbers,
    }
    parts["%b"] = parts["%B"] = parts["%m"]
    parts["%I"] = parts["%H"]
    return all(parts.get(d, True) for d in re.findall(r"%[A-Za-z]", fmt))


def _substring_level(value: Any, evidence: str, lv: Levels) -> float:
    """The grounding before word-level matching: a substring test (kept for the ablation)."""
    if isinstance(value, (int, float)):
        text = str(int(value)) if float(value).is_integer() else str(value)
        return lv.grounded if re.search(rf"(?<![\d.]){re.escape(text)}(?!\d|\.\d)", evidence) else lv.ungrounded
    if isinstance(value, str):
        if not value.strip() or _LEAK.search(value):
            return lv.junk
        return lv.grounded if value.lower() in evidence else lv.partly
    if isinstance(value, list):
        return min((_substring_level(v, evidence, lv) for v in value), default=lv.partly)
    if isinstance(value, dict):
        return min((_substring_level(v, evidence, lv) for v in value.values()), default=lv.partly)
    return lv.partly


__all__ = ["ABLATABLE", "NOT_A_UNIT", "SOURCE_UNIT", "SPAN_NAMED", "Entity", "Judgement", "Levels", "VerifierScorer", "asks_decimal", "asks_unit", "content_words", "compound_head", "conversion_side", "named_codes", "param_end", "word_lists", "named_spans",
           "percents", "relevance", "request_entities", "route_legs", "stem", "unit_words", "words"]
