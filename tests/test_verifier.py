"""The rule-based verifier: each signal on small hand-made conversations, and each ablation switch."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from langchain_toolprm.core.schema import ToolSpec, normalize_tool, normalize_tools
from langchain_toolprm.core.scorers import ScoringContext
from langchain_toolprm.core.steps import Call, Step, StepTag, segment
from langchain_toolprm.core.verifier import (
    ABLATABLE,
    AROUND_QUOTE,
    ARTICLE_NAME,
    EMPTY_REQUIRED,
    FUNCTION_WORDS,
    GLOSS_NOT_CODE,
    HOLDS_NUMBER,
    JOINED_LISTS,
    KIND_FOR_NAME,
    KIND_WORDS,
    NOT_A_CODE,
    NUMBERLESS,
    ONE_THING,
    OPENING,
    RELEVANCE_THRESHOLD,
    SOURCE_UNIT,
    STRAY_SIGN,
    UNSCALED,
    WRONG_END,
    Levels,
    VerifierScorer,
    _facts,
    asks_decimal,
    asks_one_thing,
    asks_unit,
    compound_head,
    copy_values,
    dates_in_format,
    expressions,
    issued_tokens,
    magnitudes,
    named_spans,
    offered_values,
    paging,
    percents,
    relevance,
    request_entities,
    route_legs,
    stated_default,
    stated_format,
    stated_length,
    stated_options,
    stem,
    task_clauses,
    tokens,
    unit_words,
    words,
)

T = StepTag
LV = Levels()

TOOLS_RAW = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather forecast for a city", "parameters": {
        "type": "object", "properties": {
            "city": {"type": "string", "description": "the city, e.g. London"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer", "minimum": 1},
            "hourly": {"type": "boolean", "default": False},
            "tags": {"type": "array", "items": {"type": "string"}}},
        "required": ["city"]}}},
    {"type": "function", "function": {"name": "convert_currency", "description": "Convert money between currencies",
                                      "parameters": {"type": "object", "properties": {
                                          "amount": {"type": "number"}, "from_currency": {"type": "string"},
                                          "to_currency": {"type": "string"}},
                                          "required": ["amount", "from_currency", "to_currency"]}}},
    {"type": "function", "function": {"name": "book_flight", "description": "Book a flight between two cities",
                                      "parameters": {"type": "object", "properties": {
                                          "origin": {"type": "string"}, "destination": {"type": "string"}},
                                          "required": ["origin", "destination"]}}},
]


@pytest.fixture(scope="module")
def tools() -> list[ToolSpec]:
    return normalize_tools(TOOLS_RAW)


def context(tools: list[ToolSpec], *messages: Any) -> ScoringContext:
    return ScoringContext(tuple(messages), tuple(tools))


@pytest.fixture(scope="module")
def ctx(tools: list[ToolSpec]) -> ScoringContext:
    return context(
        tools,
        SystemMessage("You are helpful."),
        HumanMessage("What is the weather forecast in Paris in celsius for 3 days? Also convert 12.5 US dollars to EUR."),
        AIMessage("I think Berlin is nice."),
        ToolMessage("It is raining in Lyon", tool_call_id="c1"),
    )


def opened(name: str, *args: tuple[str, Any]) -> list[Step]:
    return [Step(T.FUNC_NAME, name), *(Step(T.ARG_VALUE, k, v) for k, v in args)]


def judge(ctx: ScoringContext, steps: list[Step], verifier: VerifierScorer | None = None) -> tuple[float, str]:
    [j] = (verifier or VerifierScorer()).judge(ctx, [steps])
    return j.score, j.reason


def value(ctx: ScoringContext, name: str, v: Any, tool: str = "get_weather", *before: tuple[str, Any],
          verifier: VerifierScorer | None = None) -> float:
    return judge(ctx, opened(tool, *before, (name, v)), verifier)[0]


def numbers_tool(name: str, description: str, *params: str) -> ToolSpec:
    """A tool whose parameters are all required numbers."""
    return normalize_tool({"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": {p: {"type": "number"} for p in params}, "required": list(params)}}})


def currency_tool(name: str, description: str, amount: str = "number") -> ToolSpec:
    """A conversion between currencies: a base, a target and an amount, all required."""
    return normalize_tool({"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": {"base_currency": {"type": "string"}, "target_currency": {"type": "string"},
                                         "amount": {"type": amount}},
        "required": ["base_currency", "target_currency", "amount"]}}})


# ---- text helpers -------------------------------------------------------------------------------
def test_words_tokens_and_stems() -> None:
    assert words("getWeatherForecast") == ["get", "weather", "forecast"]
    assert words("math.factorial_of") == ["math", "factorial", "of"]
    assert tokens("User J46801 paid 12.5 EUR") == ["user", "j46801", "paid", "12.5", "eur"]
    assert stem("areas") == stem("area") and stem("calculating") == stem("calculate")


def test_request_entities() -> None:
    found = {e.text for e in request_entities("What are the prices of MSFT and GOOG? Play 'Blue Moon' in New York 2 times.",
                                              [])}
    assert {"MSFT", "GOOG", "Blue Moon", "New York", "2"} <= found
    assert "What" not in found and "Play" not in found  # sentence openers are no names
    assert {e.text for e in request_entities("Flights from Dr. Lee's town to NYC", [])} >= {"NYC"}  # ends the text
    assert {e.text for e in request_entities("The employee whose ID is 345", [])} == {"345"}  # a plain acronym
    # "I'm" and "I'd" inside a sentence are no names
    assert {e.text for e in request_entities("Second, I'm curious, and I’d like what Albert Einstein did.", [])} == \
        {"Albert Einstein"}


def test_quotes_pair_with_their_own_kind_and_apostrophes_quote_nothing() -> None:
    request = "\"Could you find updates for the game 'Call of Duty' on the 'Playstation'? I'm sure it's out.\""
    assert {e.text for e in request_entities(request, [])} == {"Call of Duty", "Playstation"}
    found = {e.text for e in request_entities("I'm in Lyon and I'd like “Nopa” or \"Zuni\".", [])}
    assert {"Lyon", "Nopa", "Zuni"} <= found and not any("Lyon and" in e for e in found)


def test_an_identifier_or_a_file_name_the_request_writes_is_owed_a_call() -> None:
    def one(name: str, param: str) -> ToolSpec:
        return normalize_tool({"type": "function", "function": {"name": name, "description": "Analysis",
                               "parameters": {"type": "object", "properties": {param: {"type": "string"}},
                                              "required": [param]}}})
    tools = [one("image_objects", "image_url"), one("text_sentiment", "text")]
    request = "Identify objects in my image my_backyard_image_url and analyze the sentiment of journal.txt."
    assert {e.text for e in request_entities(request, tools)} == {"my_backyard_image_url", "journal.txt"}
    # A tool's or a parameter's own name is none.
    assert not request_entities("Fill image_url with the link of text_sentiment.", tools)
    ctx = context(tools, HumanMessage(request))
    score, why = judge(ctx, segment([Call("image_objects", {"image_url": "my_backyard_image_url"}),
                                     Call("text_sentiment", {"text": "my_backyard_image_url"})]))
    assert score < LV.uncovered_most and "journal.txt" in why
    assert judge(ctx, segment([Call("image_objects", {"image_url": "my_backyard_image_url"}),
                               Call("text_sentiment", {"text": "journal.txt"})]))[0] == 1.0
    # An identifier is one value: a span around it is over-long.
    assert value(ctx, "text", "the sentiment of journal.txt", "text_sentiment") == LV.over_long
    assert value(ctx, "text", "/data/journal.txt", "text_sentiment") != LV.over_long  # a path to it
    assert {e.text for e in request_entities("Load my_data.csv and my_data.", [])} == {"my_data.csv", "my_data"}


def test_a_function_the_request_names_is_relevant_however_long_the_request() -> None:
    triangle = numbers_tool("geometry.area_triangle", "Area of a triangle", "base", "height")
    invention = normalize_tool({"type": "function", "function": {
        "name": "science_history.get_invention",
        "description": "Retrieve the inventor and the year of an invention",
        "parameters": {"type": "object", "properties": {"invention_name": {"type": "string"}},
                       "required": ["invention_name"]}}})
    request = ("First, the area of a triangle drawn on my classroom whiteboard with base 12 and height 15, in "
               "square centimetres. Second, who made the invention 'Telephone'?")
    assert relevance(request, invention) < 0.25  # alone it would lose to closing the list
    ctx = context([triangle, invention], HumanMessage(request))
    first = segment([Call("geometry.area_triangle", {"base": 12, "height": 15})])[:-1]
    named = judge(ctx, [*first, Step(T.FUNC_NAME, "science_history.get_invention")])[0]
    assert named > LV.called_again and named > judge(ctx, segment([Call("geometry.area_triangle",
                                                                         {"base": 12, "height": 15})]))[0]


def test_a_tool_is_relevant_to_its_own_task_part_of_a_long_request() -> None:
    gcd = numbers_tool("calculate_gcd", "Calculate the greatest common divisor of two integers", "num1", "num2")
    lcm = numbers_tool("calculate_lcm", "Calculate the least common multiple of two integers", "num1", "num2")
    request = ("Could you please help me with a couple of calculations? First, I need the greatest common divisor "
               "of 56 and 98 using the Euclidean algorithm. After that, I would like to know the greatest common "
               "divisor of 81 and 27, but this time using the binary algorithm. Once we have those, I need the "
               "least common multiple of 15 and 25 using the standard method. And finally, could you find the "
               "least common multiple of 21 and 14 using the reduced method?")
    assert relevance(request, gcd) < RELEVANCE_THRESHOLD  # the whole request dilutes it
    ctx = context([gcd, lcm], HumanMessage(request))
    call = judge(ctx, [Step(T.FUNC_NAME, "calculate_gcd")])[0]
    assert call >= LV.relevant and call > judge(ctx, [Step(T.TOTAL_FINISH, "")])[0]
    # Once the function's result is in, its task is done: its part no longer speaks for it.
    done = context([gcd, lcm], HumanMessage(request), AIMessage("", tool_calls=[
        {"name": "calculate_gcd", "args": {"num1": 56, "num2": 98}, "id": "c1"}]),
        ToolMessage("14", tool_call_id="c1"))
    assert judge(done, [Step(T.FUNC_NAME, "calculate_gcd")])[0] < LV.relevant


def test_numbers_of_a_range_are_no_list() -> None:
    tools = [numbers_tool("find_prime_numbers", "Primes in a range", "start", "end"),
             numbers_tool("get_fibonacci_sequence", "Fibonacci numbers", "count")]
    calls = [Call("find_prime_numbers", {"start": 50, "end": 150}), Call("get_fibonacci_sequence", {"count": 150})]
    ctx = context(tools, HumanMessage("Find all prime numbers between 50 and 150. Then get the fibonacci series upto 150."))
    assert judge(ctx, segment(calls))[0] == 1.0  # 50 is not owed to the fibonacci function too
    listed = context(tools, HumanMessage("Find all prime numbers up to 50 and 150. Then get the fibonacci series upto 150."))
    score, why = judge(listed, segment(calls))
    assert score < LV.uncovered_most and "'50' for get_fibonacci_sequence" in why


def test_a_unit_the_request_writes_as_square_or_cubic_is_that_unit_whole() -> None:
    area = normalize_tool({"type": "function", "function": {"name": "area_triangle", "description": "Triangle area",
                           "parameters": {"type": "object", "properties": {
                               "base": {"type": "number"}, "height": {"type": "number"}, "unit": {"type": "string"}},
                               "required": ["base", "height"]}}})
    ctx = context([area], HumanMessage("The area of a triangle of base 12 meters and height 15, in square meters."))
    assert value(ctx, "unit", "square meters", "area_triangle") == LV.grounded
    assert value(ctx, "unit", "meters", "area_triangle") == LV.partly
    plain = context([area], HumanMessage("The area of a triangle of base 12 meters and height 15 meters."))
    assert value(plain, "unit", "meters", "area_triangle") == LV.grounded


def test_a_possessive_is_no_part_of_the_name() -> None:
    stock = normalize_tool({"type": "function", "function": {"name": "closing_price", "description": "Stock price",
                                                             "parameters": {"type": "object", "properties": {
                                                                 "company": {"type": "string"}},
                                                                 "required": ["company"]}}})
    request = "I need the average closing price of Microsoft's stocks and of O'Hare's airline, Let's say Delta."
    assert {e.text for e in request_entities(request, [])} == {"Microsoft", "O'Hare", "Delta"}
    ctx = context([stock], HumanMessage(request))
    assert value(ctx, "company", "Microsoft", "closing_price") == LV.grounded  # not "part of a name"
    assert value(ctx, "company", "Microsoft's", "closing_price") == LV.default  # below the name itself


@pytest.mark.parametrize(("text", "names"), [
    ("Hospitals within 5 km of Denver, Colorado.", {"Denver"}),  # a name qualifying the one before it
    ("The weather in Tokyo, Japan right now?", {"Tokyo"}),
    ("The weather in Paris, London and Rome?", {"Paris", "London", "Rome"}),  # a list
    ("The weather in Paris, London, and Rome?", {"Paris", "London", "Rome"}),
])
def test_a_name_that_qualifies_the_one_before_it_is_no_entity(text: str, names: set[str]) -> None:
    assert {e.text for e in request_entities(text, []) if e.number is None} == names


@pytest.mark.parametrize(("text", "names"), [
    ("When was the signing of the Treaty of Lisbon?", {"Treaty of Lisbon"}),
    ("The President of the United States during the Civil War?", {"President of the United States", "Civil War"}),
    ("Who is the CEO of Tesla?", {"CEO", "Tesla"}),  # not after an acronym
    ("Is Paris of the 1920s in a book?", {"Paris"}),  # nor before a word that is no name
])
def test_of_inside_a_name_keeps_it_whole(text: str, names: set[str]) -> None:
    assert {e.text for e in request_entities(text, []) if e.number is None} == names


def test_a_qualified_place_is_one_call(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("What's the weather forecast in Seattle, Washington?"))
    assert judge(ctx, segment([Call("get_weather", {"city": "Seattle"})]))[0] == 1.0
    assert judge(ctx, segment([Call("get_weather", {"city": "Seattle, Washington"})]))[0] == 1.0
    # Without the qualifying comma both are places, and a list of one leaves the other unused.
    two = context(tools, HumanMessage("What's the weather forecast in Seattle and Washington?"))
    assert judge(two, segment([Call("get_weather", {"city": "Seattle"})]))[0] < LV.partly


# ---- relevance ----------------------------------------------------------------------------------
def test_relevance_ranks_the_tool_the_request_speaks_of(tools: list[ToolSpec]) -> None:
    weather, convert, flight = tools
    request = "What's the weather forecast in Tokyo?"
    assert relevance(request, weather) > 0.5 > relevance(request, flight)
    assert relevance("Book me a flight from Paris to Rome", flight) > relevance("Book me a flight from Paris to Rome",
                                                                                 weather)
    assert relevance("Who wrote Dracula?", weather) == relevance("Who wrote Dracula?", convert) == 0.0
    # an "-ular" adjective names its "-le" noun's tool
    circle, square = (numbers_tool(f"geometry_{shape}.calculate", f"Area of a {shape}", "size") for shape in ("circle", "square"))
    request = "The area of a circular fountain of radius 3."
    assert relevance(request, circle) > relevance(request, square)  # both say "area"
    assert relevance("A molecular weight", numbers_tool("molecule_weight", "Weight", "mass")) > 0.5
    # a compound written as one word names what its head names; a prefix makes another word
    geo = numbers_tool("geodistance.find", "Find it", "size")
    assert relevance("Find the distance between New York City and Los Angeles.", geo) >= RELEVANCE_THRESHOLD
    assert compound_head("geodistanc", "distanc") and not compound_head("research", "search")
    # ... not one the tool spells out as a name ("the Open Library" is no kind of library)
    request = "Can I find a historical fiction book at the New York public library?"
    library = numbers_tool("library.search_books", "Search for a book in a given library", "size")
    named = numbers_tool("openlibrary.books_search", "Search for a book in the Open Library", "size")
    assert relevance(request, library) > relevance(request, named)
    # ... but a compound the user writes is often a value they coin, and names nothing
    reset = numbers_tool("ForgotPassword", "Reset a password", "code")
    delete = numbers_tool("DeleteAccount", "Delete an account", "token")
    coined = "Yes, my password is newpassword. I want to delete my account."
    assert relevance(coined, reset) == relevance(coined.replace("newpassword", "qwerty"), reset) < \
        relevance(coined, delete)
    # a thing of a kind names the tool that speaks of the kind: a euro is a currency, rain is weather
    assert relevance("I have 100 euro. How much is it in USD?", convert) >= RELEVANCE_THRESHOLD > \
        relevance("I have 100 euro. How much is it in USD?", flight)
    assert relevance("Is it raining in Berlin today?", weather) >= RELEVANCE_THRESHOLD > \
        relevance("Is it raining in Berlin today?", convert)
    # a question "When was ...?" asks for a date: it speaks of a tool named for dates
    dated = numbers_tool("get_event_date", "Retrieve the date of a historical event", "event")
    assert relevance("When was the signing of the Treaty of Lisbon?", dated) >= RELEVANCE_THRESHOLD > \
        relevance("What happens when the Treaty of Lisbon is signed?", dated)


def test_function_name_scores_follow_relevance(ctx: ScoringContext, tools: list[ToolSpec]) -> None:
    weather, _ = judge(ctx, [Step(T.FUNC_NAME, "get_weather")])
    flight, why = judge(ctx, [Step(T.FUNC_NAME, "book_flight")])
    assert LV.relevant <= weather <= 1.0 and flight < LV.irrelevant
    assert why.startswith("relevance")
    assert judge(ctx, [Step(T.FUNC_NAME, "unknown")])[0] == 0.0


def test_a_task_with_its_result_no_longer_makes_its_tool_relevant(tools: list[ToolSpec]) -> None:
    """After a call's result, the tool counts the user's words since whole and the earlier ones at
    half: a new request for another tool is not outranked by the finished one, and a follow-up for
    the same tool still finds it, named again or not."""
    call = {"name": "get_weather", "args": {"city": "Oslo"}, "id": "c1"}
    done = (HumanMessage("What is the weather forecast in Oslo?"), AIMessage("", tool_calls=[call]),
            ToolMessage("Snow", tool_call_id="c1"), AIMessage("It snows in Oslo, says the weather forecast."))
    new_task = context(tools, *done, HumanMessage("Thanks. Now book me a flight from Oslo to Rome."))
    assert judge(new_task, [Step(T.FUNC_NAME, "book_flight")])[0] > judge(new_task, [Step(T.FUNC_NAME, "get_weather")])[0]
    for follow_up in ("And the weather forecast for Rome?", "Thanks! And what about in Rome?"):
        again = context(tools, *done, HumanMessage(follow_up))
        assert judge(again, [Step(T.FUNC_NAME, "get_weather")])[0] >= LV.relevant, follow_up
        assert judge(again, segment([]))[0] == LV.no_call_when_relevant
    # before any result, the whole conversation counts (a task stated over several turns)
    spread = context(tools, HumanMessage("I need the weather forecast."), AIMessage("Which city?"), HumanMessage("Oslo"))
    assert judge(spread, [Step(T.FUNC_NAME, "get_weather")])[0] >= LV.relevant


def test_no_call_wins_only_when_no_tool_is_relevant(tools: list[ToolSpec]) -> None:
    joke = context(tools, HumanMessage("Tell me a joke."))
    weather = context(tools, HumanMessage("Weather forecast for Oslo?"))
    assert judge(joke, segment([]))[0] == LV.no_call
    assert judge(weather, segment([]))[0] == LV.no_call_when_relevant
    # Once the request's calls have their results, closing with no call is right.
    call = {"name": "get_weather", "args": {"city": "Oslo"}, "id": "c1"}
    answered = context(tools, HumanMessage("Weather forecast for Oslo?"), AIMessage("", tool_calls=[call]),
                       ToolMessage("Snow", tool_call_id="c1"))
    assert judge(answered, segment([]))[0] == LV.no_call


def test_a_result_that_is_only_a_step_leaves_the_request_owed(tools: list[ToolSpec]) -> None:
    """A rate looked up for a flight booking: its result is there, but the booking, the most
    relevant tool, has had no call since the request, so ``[]`` does not win; after the booking's
    own result it does."""
    rate = {"name": "convert_currency", "args": {"amount": 1, "from_currency": "EUR", "to_currency": "NOK"}, "id": "c1"}
    asked = (HumanMessage("Book a flight from Oslo to Rome, and tell me what 1 EUR is in NOK."),
             AIMessage("", tool_calls=[rate]), ToolMessage("11.2", tool_call_id="c1"))
    ctx = context(tools, *asked)
    score, why = judge(ctx, segment([]))
    assert score == LV.no_call_when_relevant and "'book_flight'" in why
    book = {"name": "book_flight", "args": {"origin": "Oslo", "destination": "Rome"}, "id": "c2"}
    booked = context(tools, *asked, AIMessage("", tool_calls=[book]), ToolMessage("booked", tool_call_id="c2"))
    assert judge(booked, segment([])) == (LV.no_call, "the request's calls have their results")
    # without relevance (an ablation) the results alone decide, as before
    assert VerifierScorer(relevance=False).judge(ctx, [segment([])])[0].score == LV.no_call


# ---- coverage -----------------------------------------------------------------------------------
def test_closing_with_an_unused_entity_scores_lower(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("What's the weather forecast in Paris and in London?"))
    one = segment([Call("get_weather", {"city": "Paris"})])
    both = segment([Call("get_weather", {"city": "Paris"}), Call("get_weather", {"city": "London"})])
    score, why = judge(ctx, one)
    assert LV.uncovered < score < LV.uncovered_most < LV.partly and "London" in why
    assert judge(ctx, both)[0] == 1.0


def test_closing_ranks_lists_by_the_share_of_entities_they_use(tools: list[ToolSpec]) -> None:
    # A stray capitalised phrase no call can use ("Grand Tour") must not make a two-city list tie
    # with a one-city list: then the likelier, shorter list wins and the second city is lost.
    ctx = context(tools, HumanMessage("For the Grand Tour: the weather forecast in Paris, and in London?"))
    one = judge(ctx, segment([Call("get_weather", {"city": "Paris"})]))
    both = judge(ctx, segment([Call("get_weather", {"city": "Paris"}), Call("get_weather", {"city": "London"})]))
    assert "Grand Tour" in one[1] and "Grand Tour" in both[1]
    assert LV.uncovered < one[0] < both[0] < LV.uncovered_most


def test_a_code_the_request_gives_for_a_name_is_that_name() -> None:
    # "The ticker is AAPL" names Apple's code: one company, one call (the tool-order questions'
    # first; before, a second call for "Apple" won over closing at 0.75).
    def stock(description: str) -> list[ToolSpec]:
        return normalize_tools([{"type": "function", "function": {
            "name": "get_stock_price", "description": description, "parameters": {
                "type": "object", "properties": {"symbol": {"type": "string"}}, "required": ["symbol"]}}}])

    asked = "What is Apple's stock price right now? The ticker is AAPL."
    plain = stock("Get the latest stock price for a ticker symbol.")
    example = stock("Get the latest trading price of a stock by its ticker symbol (for example AAPL or IBM).")
    assert [(e.text, e.alias) for e in request_entities(asked, plain)] == [("Apple", "AAPL")]
    # A code the tool gives as its example is no name of the request, but still Apple's code.
    assert [(e.text, e.alias) for e in request_entities(asked, example)] == [("Apple", "AAPL")]
    for tools in (plain, example):
        ctx = context(tools, HumanMessage(asked))
        for value in ("AAPL", "Apple"):
            assert judge(ctx, segment([Call("get_stock_price", {"symbol": value})])) == \
                (1.0, "every entity of the request is used")
    both = context(plain, HumanMessage("Compare Amazon and Apple; the tickers are AMZN and AAPL."))
    score, why = judge(both, segment([Call("get_stock_price", {"symbol": "AMZN"})]))
    assert score < 1.0 and "'Apple'" in why and "Amazon" not in why
    # Without a word for codes a capitalised code is a thing of its own, though its letters run
    # through a name ("AMD" through "Amsterdam").
    two = request_entities("The weather in Amsterdam and the AMD share price", [])
    assert [e.text for e in two] == ["Amsterdam", "AMD"] and two[0].alias is None


def test_another_call_must_add_something(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("What's the weather forecast in Paris?"))
    done = segment([Call("get_weather", {"city": "Paris"})])[:-1]  # one call, list still open
    assert judge(ctx, [*done, Step(T.FUNC_NAME, "get_weather")])[0] == LV.nothing_new
    two = context(tools, HumanMessage("Weather forecast for Paris and Rome?"))
    again = [*done, *opened("get_weather", ("city", "paris ")), Step(T.PARAM_FINISH), Step(T.FUNC_FINISH)]
    new = [*done, *opened("get_weather", ("city", "Rome")), Step(T.PARAM_FINISH), Step(T.FUNC_FINISH)]
    assert judge(two, again)[0] == LV.nothing_new
    assert judge(two, new)[0] == 1.0


def test_members_of_a_list_the_user_spells_out_are_each_owed_a_call(tools: list[ToolSpec]) -> None:
    # Lower-case names are no entities, but once a call uses one member of "oslo, bergen and
    # tromso" the others are unused until calls carry them too.
    ctx = context(tools, HumanMessage("weather forecast for oslo, bergen and tromso"))
    one = segment([Call("get_weather", {"city": "oslo"})])
    score, why = judge(ctx, one)
    assert score < LV.partly and "'bergen'" in why and "'tromso'" in why
    three = segment([Call("get_weather", {"city": c}) for c in ("oslo", "bergen", "tromso")])
    assert judge(ctx, three)[0] == 1.0
    # A stop word ends the list: "Paris, and a hotel" owes nothing.
    hotel = context(tools, HumanMessage("weather forecast for paris, and a hotel"))
    assert judge(hotel, segment([Call("get_weather", {"city": "paris"})]))[0] == 1.0


def test_a_number_word_does_not_take_an_unused_numbers_place(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("Weather in Paris for two periods: 3 days and 5 days."))
    first = segment([Call("get_weather", {"city": "Paris", "days": 3})])[:-1]
    score, why = judge(ctx, [*first, *opened("get_weather", ("city", "Paris"), ("days", 2))])
    assert score == LV.partly and "'5'" in why
    assert judge(ctx, [*first, *opened("get_weather", ("city", "Paris"), ("days", 5))])[0] == LV.grounded
    # With every number used, the number word is the user's own value.
    assert value(context(tools, HumanMessage("Weather in Paris for two days.")), "days", 2) == LV.grounded


def test_numbers_cover_and_ground_whole_values(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("Play Maroon 5 for 15 minutes, a 5% raise, twice."))
    assert value(ctx, "days", 15) == LV.grounded
    assert value(ctx, "days", 1) == LV.ungrounded  # "1" only inside "15"
    assert value(ctx, "days", 2, verifier=VerifierScorer(coverage=False)) == LV.grounded  # "twice"
    assert value(ctx, "days", 2) == LV.partly  # ... but in the place of the unused "15"
    assert value(ctx, "amount", 0.05, "convert_currency") == LV.grounded  # 5%
    # Scientific notation is one number; an exponent is none.
    sci = context(tools, HumanMessage("Convert 2e-3 dollars, accelerating at 4 m/s^2."))
    assert value(sci, "amount", 0.002, "convert_currency") == LV.grounded
    assert value(sci, "amount", 2, "convert_currency") == LV.ungrounded


def test_a_flag_the_request_names_is_set_and_one_it_does_not_is_left(tools: list[ToolSpec]) -> None:
    hourly = context(tools, HumanMessage("Hourly weather forecast for Paris"))
    assert value(hourly, "hourly", True) == LV.grounded
    assert value(hourly, "hourly", False) == LV.partly
    score, why = judge(hourly, [*opened("get_weather", ("city", "Paris")), Step(T.PARAM_FINISH)])
    assert score == LV.unsaid and "'hourly'" in why
    plain = context(tools, HumanMessage("Weather forecast for Paris"))
    assert value(plain, "hourly", True) == value(plain, "hourly", False) == LV.default
    assert judge(plain, [*opened("get_weather", ("city", "Paris")), Step(T.PARAM_FINISH)])[0] == 1.0


def test_a_number_the_request_puts_by_a_parameters_name_belongs_to_it(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("Weather in Paris in 3 places for 5 days."))
    score, why = judge(ctx, opened("get_weather", ("city", "Paris"), ("days", 3)))
    assert score == LV.partly and "'5'" in why and "'days'" in why
    assert value(ctx, "days", 5, "get_weather", ("city", "Paris")) == LV.grounded
    # Once an earlier call has used it, the tie does not hold another call to it.
    done = segment([Call("get_weather", {"city": "Paris", "days": 5})])[:-1]
    assert judge(ctx, [*done, *opened("get_weather", ("city", "Paris"), ("days", 3))])[0] == LV.grounded


@pytest.mark.parametrize(("params", "request_text", "first", "wrong", "kept", "later"), [
    # a number tied to another argument, or given to it by an earlier call, is not this one's
    (("b_field", "area", "d_time"),
     "The force for a magnetic field of 5 Tesla through a 2 square meter loop and change in time of 4 seconds, "
     "then repeat with a change in time of 10 seconds.",
     {"b_field": 5, "area": 2, "d_time": 4}, [("b_field", 10, "ties 10 to 'd_time'"),
                                               ("b_field", 2, "earlier call's 'area'")],
     ("b_field", 5), ("d_time", 10)),
    # a number with the unit of an earlier call's argument is that argument's
    (("labor_cost", "material_cost", "length"),
     "The cost of a fence 10 meters and 20 meters long if the labor cost is $10,000 and the material cost is $3,000.",
     {"labor_cost": 10000, "material_cost": 3000, "length": 20}, [("labor_cost", 10, "like an earlier call's 'length'")],
     ("labor_cost", 10000), ("length", 10)),
    # a member of the list whose member an earlier call gave another argument is that argument's
    (("player_id", "season"),
     "Did player 3142 top the scorers in the seasons 2017, 2018 and 2019?",
     {"player_id": 3142, "season": 2017}, [("player_id", 2019, "listed with an earlier call's 'season', 2017")],
     ("player_id", 3142), ("season", 2018)),
])
def test_a_number_that_is_another_arguments_is_not_this_ones(params: tuple[str, ...], request_text: str,
                                                              first: dict[str, Any], wrong: list[tuple[str, Any, str]],
                                                              kept: tuple[str, Any], later: tuple[str, Any]) -> None:
    tool = numbers_tool("f", "A function of numbers", *params)
    ctx = context([tool], HumanMessage(request_text))
    done = segment([Call("f", first)])[:-1]
    for name, number, reason in wrong:
        score, said = judge(ctx, [*done, *opened("f", (name, number))])
        assert score == LV.partly and reason in said
    # The first call's value again is right: the unused number is the other argument's to take.
    assert judge(ctx, [*done, *opened("f", kept)])[0] == LV.grounded
    rest = {k: v for k, v in first.items() if k not in (kept[0], later[0])}
    assert judge(ctx, [*done, *opened("f", kept, *rest.items(), later)])[0] == LV.grounded


def test_a_word_beside_another_parameters_own_word_ties_no_number() -> None:
    margin = numbers_tool("net_profit_margin", "Net profit margin", "net_income", "total_revenue")
    debt = numbers_tool("debt_ratio", "Debt ratio", "total_liabilities", "total_assets")
    ctx = context([margin, debt], HumanMessage("The net profit margin if the net income is $20,000 and the total "
                                               "revenue is $100,000. Also the debt ratio if the total liabilities "
                                               "are $10,000 and the total assets are $30,000."))
    # "total liabilities are $10,000" no longer ties 10,000 to total_revenue, so it is the other task's
    score, why = judge(ctx, opened("net_profit_margin", ("net_income", 20000), ("total_revenue", 10000)))
    assert score == LV.partly and "'100,000' of the call's own task is unused" in why
    assert judge(ctx, opened("net_profit_margin", ("net_income", 20000), ("total_revenue", 100000)))[0] == LV.grounded


def test_a_number_before_another_parameters_word_is_that_ones() -> None:
    tool = numbers_tool("calculate_batting_average", "Batting average", "hits", "at_bats", "decimal_places")
    ctx = context([tool], HumanMessage("Calculate the batting average for a baseball player who has 180 hits and "
                                       "600 at-bats. Round to 3 decimals."))
    assert judge(ctx, opened("calculate_batting_average", ("hits", 180), ("at_bats", 600)))[0] == LV.grounded
    score, why = judge(ctx, opened("calculate_batting_average", ("hits", 180), ("at_bats", 3)))
    assert score == LV.partly and "ties 3 to 'decimal_places'" in why
    # A word after several numbers is their unit, whatever parameter it names.
    pressure = numbers_tool("calc_absolute_pressure", "Absolute pressure", "atm_pressure", "gauge_pressure")
    ctx = context([pressure], HumanMessage("The absolute pressure given atmospheric pressure of 1 atm and a gauge "
                                           "pressure of 2 atm."))
    assert judge(ctx, opened("calc_absolute_pressure", ("atm_pressure", 1), ("gauge_pressure", 2)))[0] == LV.grounded


def test_a_number_in_a_unit_of_time_is_the_span_parameters_before_a_nearer_word() -> None:
    tool = numbers_tool("final_speed", "Final speed of a car", "initial_speed", "acceleration", "time")
    ctx = context([tool], HumanMessage("A car starts at 5 m/s and accelerates at a rate of 2 m/s^2. The driver "
                                       "keeps this acceleration for 10 seconds. What is the final speed?"))
    score, why = judge(ctx, opened("final_speed", ("initial_speed", 5), ("acceleration", 10)))
    assert score == LV.partly and "ties 10 to 'time'" in why
    assert judge(ctx, opened("final_speed", ("initial_speed", 5), ("acceleration", 2)))[0] == LV.grounded
    assert judge(ctx, opened("final_speed", ("initial_speed", 5), ("acceleration", 2), ("time", 10)))[0] == LV.grounded
    # A number written in a unit of time once and bare once ("10 seconds ... 10 of them") keeps its word tie.
    ctx = context([tool], HumanMessage("The acceleration is 10 for 10 seconds; the initial speed is 5."))
    assert judge(ctx, opened("final_speed", ("initial_speed", 5), ("acceleration", 10)))[0] == LV.grounded


# ---- grounding ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("v", "level"), [
    ("Paris", LV.grounded),                    # the user's word
    ("Lyon", LV.grounded),                     # tool results are evidence
    ("Berlin", LV.ungrounded),                 # only the assistant said it
    ("Madrid", LV.ungrounded),
    ('Paris"}, ', LV.junk),
    ("   ", LV.junk),
])
def test_string_grounding(ctx: ScoringContext, v: str, level: float) -> None:
    assert value(ctx, "city", v) == level


def test_abbreviations_of_the_users_words(ctx: ScoringContext) -> None:
    before = ("amount", 12.5)
    assert value(ctx, "from_currency", "USD", "convert_currency", before) == LV.grounded  # "US dollars"
    assert value(ctx, "to_currency", "EUR", "convert_currency", before) == LV.grounded
    assert value(ctx, "to_currency", "GBP", "convert_currency", before) == LV.ungrounded


def test_over_long_and_swallowing_spans(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("Book a flight from New York to Philadelphia tomorrow."))
    assert value(ctx, "origin", "New York", "book_flight") == LV.grounded
    assert value(ctx, "origin", "New York to Philadelphia", "book_flight") == LV.over_long
    assert value(ctx, "origin", "New York Philadelphia", "book_flight", ("destination", "Philadelphia")) == LV.over_long
    assert value(ctx, "origin", "Philadelphia", "book_flight", ("destination", "Philadelphia")) == LV.over_long


def test_part_of_a_name_and_part_of_a_token(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("Ask Dr. Lee about user J46801."))
    assert value(ctx, "city", "Dr. Lee") == LV.grounded
    assert value(ctx, "city", "Lee") == LV.default  # a part of the name the user gave whole
    assert value(ctx, "city", "J46801") == LV.grounded
    assert value(ctx, "city", "46801") == LV.ungrounded  # not a token of the request


def test_lists_and_literals(ctx: ScoringContext) -> None:
    assert value(ctx, "tags", ["Paris"]) == LV.grounded
    assert value(ctx, "tags", ["Paris", "Oslo"]) == LV.ungrounded
    assert value(ctx, "hourly", False) == LV.default
    assert value(ctx, "unit", "celsius") == LV.grounded and value(ctx, "unit", "fahrenheit") == LV.default


# ---- schema copy --------------------------------------------------------------------------------
@pytest.mark.parametrize("v", ["string", "object", "city", "London"])
def test_schema_text_as_a_value(tools: list[ToolSpec], v: str) -> None:
    ctx = context(tools, HumanMessage("What's the weather forecast where I am?"))
    score, why = judge(ctx, opened("get_weather", ("city", v)))
    assert score == LV.schema_copy, why


def test_schema_words_the_user_says_are_fine(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("What's the weather forecast in London?"))
    assert value(ctx, "city", "London") == LV.grounded  # the description's example, but the user said it
    pay = normalize_tools([{"type": "function", "function": {"name": "pay", "description": "Pay a bill", "parameters": {
        "type": "object", "properties": {"method": {"type": "string", "description": "how, e.g. PayPal"}}}}}])
    said = context(pay, HumanMessage("Pay the bill with PayPal."))
    assert value(said, "method", "PayPal", "pay") == LV.grounded  # one word to the user, two to a camelCase split


# ---- validity, finishing, duplicates -------------------------------------------------------------
@pytest.mark.parametrize(("name", "v"), [("city", 3), ("unit", "kelvin"), ("days", 0), ("days", "3"),
                                         ("hourly", "yes"), ("tags", "Paris"), ("country", "FR")])
def test_schema_invalid_value_scores_zero(ctx: ScoringContext, name: str, v: Any) -> None:
    assert value(ctx, name, v) == 0.0


def test_finish_needs_required_arguments(ctx: ScoringContext) -> None:
    for tag in (T.PARAM_FINISH, T.FUNC_FINISH):
        tail = [Step(T.PARAM_FINISH)] + ([Step(tag)] if tag is T.FUNC_FINISH else [])
        missing = [*opened("convert_currency", ("amount", 12.5)), *tail]
        complete = [*opened("convert_currency", ("amount", 12.5), ("from_currency", "USD"), ("to_currency", "EUR")),
                    *tail]
        assert judge(ctx, missing)[0] == 0.0 and judge(ctx, complete)[0] == 1.0


def test_duplicates_and_answered_calls(tools: list[ToolSpec]) -> None:
    asked = {"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}
    ctx = context(tools, HumanMessage("Weather forecast in Paris and Rome?"), AIMessage("", tool_calls=[asked]),
                  ToolMessage("Sunny", tool_call_id="c1"))
    finish = [Step(T.PARAM_FINISH), Step(T.FUNC_FINISH)]
    assert judge(ctx, [*opened("get_weather", ("city", "Paris")), *finish])[0] == LV.junk  # its result is there
    listed = segment([Call("get_weather", {"city": "Rome"})])[:-1]
    assert judge(ctx, [*listed, *opened("get_weather", ("city", "Rome")), *finish])[0] == LV.duplicate


def test_a_call_the_conversation_gives_no_value_of_loses_to_no_call() -> None:
    tools = normalize_tools([
        {"type": "function", "function": {"name": "calculate_time", "description": "Time to cover a distance at a speed",
                                          "parameters": {"type": "object", "properties": {
                                              "distance": {"type": "number"}, "speed": {"type": "number"},
                                              "exact": {"type": "boolean"}}, "required": ["distance", "speed"]}}},
        {"type": "function", "function": {"name": "get_stock_price", "description": "Current price of a stock",
                                          "parameters": {"type": "object", "properties": {
                                              "symbol": {"type": "string"}, "limit": {"type": "integer"}},
                                              "required": ["symbol"]}}},
    ])
    finish = [Step(T.PARAM_FINISH), Step(T.FUNC_FINISH)]
    now = context(tools, HumanMessage("What's the time right now?"))
    made_up = [*opened("calculate_time", ("distance", 1), ("speed", 10), ("exact", False)), *finish]
    assert judge(now, made_up)[0] == LV.made_up < judge(now, segment([]))[0] == LV.no_call_when_relevant
    assert judge(now, made_up, VerifierScorer(grounding=False))[0] == 1.0
    trip = context(tools, HumanMessage("How long to drive 120 km?"))  # one value said is enough
    assert judge(trip, [*opened("calculate_time", ("distance", 120), ("speed", 90)), *finish])[0] == 1.0
    # Knowledge in a string (a ticker for a company) and paging numbers invent nothing.
    apple = context(tools, HumanMessage("What's Apple's stock price?"))
    assert judge(apple, [*opened("get_stock_price", ("symbol", "AAPL"), ("limit", 10)), *finish])[0] == 1.0


def test_a_required_number_where_the_conversation_writes_none_loses_to_no_call() -> None:
    def tool(name: str, required: list[str]) -> dict[str, Any]:
        return {"type": "function", "function": {"name": name, "description": "Impactful cases of a law firm", "parameters": {
            "type": "object", "properties": {"firm_name": {"type": "string"}, "year": {"type": "integer"},
                                             "limit": {"type": "integer"}}, "required": required}}}

    tools = normalize_tools([tool("get_cases_in_year", ["firm_name", "year", "limit"]),
                             tool("get_cases", ["firm_name", "limit"])])
    finish = [Step(T.PARAM_FINISH), Step(T.FUNC_FINISH)]
    case = context(tools, HumanMessage("What were the impactful cases of law firm XYZ?"))
    invented = [*opened("get_cases_in_year", ("firm_name", "XYZ"), ("year", 2021), ("limit", 5)), *finish]
    assert judge(case, invented) == (LV.made_up, NUMBERLESS)
    assert judge(case, invented)[0] < judge(case, segment([]))[0] == LV.no_call_when_relevant
    assert judge(case, invented, VerifierScorer(grounding=False))[0] == 1.0
    # An optional number, or a paging one, invents nothing the call needs.
    assert judge(case, [*opened("get_cases", ("firm_name", "XYZ"), ("year", 2021), ("limit", 5)), *finish])[0] == 1.0
    # Where the conversation writes a number, in digits or in words, the rule stands aside.
    for said in ("in 2021", "over the last three years"):
        dated = context(tools, HumanMessage(f"What were the impactful cases of law firm XYZ {said}?"))
        assert judge(dated, invented)[0] == 1.0


def test_a_required_list_left_empty_or_holding_an_invented_number_loses_to_no_call() -> None:
    tools = normalize_tools([
        {"type": "function", "function": {"name": "get_calories", "description": "Calories of a recipe's ingredients",
                                          "parameters": {"type": "object", "properties": {
                                              "ingredients": {"type": "array", "items": {"type": "object", "properties": {
                                                  "name": {"type": "string"}, "quantity": {"type": "number"}}}},
                                              "dish": {"type": "string"}}, "required": ["ingredients"]}}},
    ])
    finish = [Step(T.PARAM_FINISH), Step(T.FUNC_FINISH)]
    lasagna = context(tools, HumanMessage("What's the recipe for lasagna?"))
    assert judge(lasagna, [*opened("get_calories", ("ingredients", []), ("dish", "lasagna")), *finish]) == \
        (LV.made_up, EMPTY_REQUIRED)
    nested = [*opened("get_calories", ("ingredients", [{"name": "pasta", "quantity": 1}])), *finish]
    assert judge(lasagna, nested) == (LV.made_up, NUMBERLESS)
    said = context(tools, HumanMessage("Calories of lasagna with 200 g of pasta?"))
    assert judge(said, [*opened("get_calories", ("ingredients", [{"name": "pasta", "quantity": 200}])), *finish])[0] == 1.0


def test_a_span_of_time_named_without_a_count_is_what_a_counting_parameter_takes() -> None:
    tools = normalize_tools([{"type": "function", "function": {
        "name": "air_quality_forecast", "description": "Air quality forecast for a location",
        "parameters": {"type": "object", "properties": {
            "location": {"type": "string"}, "days": {"type": "integer", "description": "Number of days for the forecast."}},
            "required": ["location", "days"]}}}])
    finish = [Step(T.PARAM_FINISH), Step(T.FUNC_FINISH)]
    week = context(tools, HumanMessage("What will the air quality index of New York be for the next week?"))
    assert judge(week, [*opened("air_quality_forecast", ("location", "New York"), ("days", 7)), *finish]) == \
        (1.0, "call complete")
    assert judge(week, opened("air_quality_forecast", ("location", "New York"), ("days", 7))) == \
        (LV.grounded, "a span of time the request names, 'next week'")
    assert judge(week, [*opened("air_quality_forecast", ("location", "New York"), ("days", 5)), *finish]) == \
        (LV.made_up, NUMBERLESS)
    days = {"type": "integer", "description": "Number of days for the forecast."}
    assert named_spans("over the past decade", "duration", {"type": "integer", "description": "The period in years."}) \
        == [(10, "past decade")]
    assert named_spans("for the upcoming month", "months", {"type": "integer"}) == [(1, "upcoming month")]
    assert named_spans("for the upcoming month", "days_ahead", {"type": "integer"}) == [(30, "upcoming month")]
    # A calendar year, a rate, a parameter that states no unit of time, a string: no span.
    for request, name, schema in [("this year", "days", days), ("20 miles a day", "days", days),
                                  ("the next week", "limit", {"type": "integer", "description": "How many."}),
                                  ("the next week", "days", {"type": "string"})]:
        assert named_spans(request, name, schema) == [], request


def test_a_conversions_source_is_the_amounts_own_unit(tools: list[ToolSpec]) -> None:
    exchange = currency_tool("currency_exchange", "Convert an amount from a base currency to a target currency")
    ctx = context([exchange], HumanMessage("How many Canadian dollars can I get for 500 US dollars?"))
    assert value(ctx, "base_currency", "USD", "currency_exchange") == LV.grounded  # "500 US dollars"
    assert value(ctx, "target_currency", "Canadian dollars", "currency_exchange") == LV.grounded
    assert judge(ctx, opened("currency_exchange", ("base_currency", "Canadian dollars"))) == \
        (LV.partly, f"{SOURCE_UNIT}, 'US dollars'")
    assert value(ctx, "target_currency", "US dollars", "currency_exchange") == LV.partly
    # No number with a unit after it ("Convert 100 from USD to EUR"): the way from one to the other decides.
    plain = context([exchange], HumanMessage("Convert 100 from USD to EUR"))
    assert judge(plain, opened("currency_exchange", ("base_currency", "EUR"))) == \
        (LV.partly, f"{WRONG_END}, from 'USD' to 'EUR'")
    assert value(plain, "base_currency", "USD", "currency_exchange") == LV.grounded
    # any tool whose parameters name their ends: a translation from English to French
    translate = normalize_tool({"type": "function", "function": {
        "name": "translate", "description": "Translate a text", "parameters": {"type": "object", "properties": {
            "text": {"type": "string"}, "source_language": {"type": "string"}, "target_language": {"type": "string"}}}}})
    french = context([translate], HumanMessage("Translate Hello, how are you? from English to French."))
    assert value(french, "source_language", "French", "translate") == LV.partly
    assert value(french, "target_language", "French", "translate") == LV.grounded
    # a chain of ways starts one at each stop: Paris is both a source and a target
    chain = context([translate], HumanMessage("Route it from London to Paris and then from Paris to Rome."))
    assert value(chain, "source_language", "Paris", "translate") == value(chain, "target_language", "Paris", "translate")
    # A tool that converts nothing has no ends: a source and a target of a plan for 30 days.
    plan = normalize_tool({"type": "function", "function": {
        "name": "create_plan", "description": "Replicate data between two data centers",
        "parameters": {"type": "object", "properties": {
            "source_location": {"type": "string"}, "target_location": {"type": "string"}, "days": {"type": "integer"}}}}})
    backup = context([plan], HumanMessage("Replicate the primary center to the cloud center, kept for 30 days."))
    assert value(backup, "source_location", "primary center", "create_plan") == LV.grounded


def test_a_code_that_spells_a_name_and_its_noun_uses_the_name() -> None:
    exchange = currency_tool("currency_exchange", "Convert an amount from a base currency to a target currency")
    ctx = context([exchange], HumanMessage("How many Canadian dollars can I get for 500 US dollars?"))
    right = Call("currency_exchange", {"base_currency": "USD", "target_currency": "CAD", "amount": 500})
    assert judge(ctx, segment([right])) == (1.0, "every entity of the request is used")  # "CAD": Canadian dollars
    wrong = Call("currency_exchange", {"base_currency": "USD", "target_currency": "EUR", "amount": 500})
    assert "'Canadian'" in judge(ctx, segment([wrong]))[1]


def test_a_list_that_leaves_out_a_coordinated_word_is_cut_short() -> None:
    recipes = normalize_tool({"type": "function", "function": {
        "name": "recipe_search", "description": "Find recipes", "parameters": {"type": "object", "properties": {
            "ingredients": {"type": "array", "items": {"type": "string"}}}}}})
    ctx = context([recipes], HumanMessage("Find a healthy lunch recipe that uses chicken and mushrooms."))
    assert judge(ctx, opened("recipe_search", ("ingredients", ["chicken"]))) == \
        (LV.partly, "part of a list the request spells out")
    assert value(ctx, "ingredients", ["chicken", "mushrooms"], "recipe_search") == LV.grounded
    assert _facts(ctx).word_lists == [["chicken", "mushrooms"]]
    # a verb after "and" coordinates nothing
    park = context([recipes], HumanMessage("Find a park that allows camping and has scenic views."))
    assert _facts(park).word_lists == [] and value(park, "ingredients", ["camping"], "recipe_search") == LV.grounded


def test_a_value_around_a_quoted_phrase_is_over_long() -> None:
    auction = normalize_tool({"type": "function", "function": {
        "name": "fetch_artwork_price", "description": "Fetch the price of an artwork at auctions",
        "parameters": {"type": "object", "properties": {
            "artwork_name": {"type": "string"}, "artist": {"type": "string"}, "file": {"type": "string"}},
            "required": ["artwork_name"]}}})
    ctx = context([auction], HumanMessage("Find the price of Van Gogh's painting 'Starry Night' from \"notes.txt\"."))
    assert judge(ctx, opened("fetch_artwork_price", ("artwork_name", "Van Gogh's Starry Night"))) == \
        (LV.over_long, f"{AROUND_QUOTE} 'Starry Night'")
    assert value(ctx, "artwork_name", "Starry Night", "fetch_artwork_price") == LV.grounded
    assert value(ctx, "file", "docs/notes.txt", "fetch_artwork_price") != LV.over_long  # a path to the quoted file
    # several quotes joined are no span around one ("'2H', '7D' and 'AC'" as one hand)
    cards = context([auction], HumanMessage("Rate the hand '2H', '7D' and 'AC'."))
    assert value(cards, "artwork_name", "2H 7D AC", "fetch_artwork_price") != LV.over_long


def test_the_tools_own_words_for_a_thing_the_request_names_are_no_value() -> None:
    def lookup(name: str, description: str, param: str, **more: dict) -> ToolSpec:
        return normalize_tool({"type": "function", "function": {"name": name, "description": description,
                                                                "parameters": {"type": "object", "properties": {
                                                                    param: {"type": "string"}, **more},
                                                                    "required": [param]}}})
    pope = lookup("get_papal_biography", "The biography of a Pope", "papal_name", include={"type": "boolean"})
    ctx = context([pope], HumanMessage("Get the biography and main contributions of Pope Innocent III."))
    assert judge(ctx, opened("get_papal_biography", ("papal_name", "Pope"))) == \
        (LV.partly, f"{KIND_FOR_NAME}, 'Innocent III'")
    assert value(ctx, "papal_name", "Pope Innocent III", "get_papal_biography") == LV.grounded
    case = lookup("get_case_details", "Details of a Supreme Court case given its title", "case_title")
    ctx = context([case], HumanMessage("Retrieve the details of a Supreme Court case titled 'Roe v. Wade'."))
    assert value(ctx, "case_title", "Supreme Court case", "get_case_details") == LV.partly
    assert value(ctx, "case_title", "Roe v. Wade", "get_case_details") == LV.grounded
    # a name another parameter could take is that one's; a name far from the words is another thing
    scan = lookup("estimate_cost", "Cost of a scan such as an MRI scan", "procedure", city={"type": "string"})
    assert value(context([scan], HumanMessage("Estimate the cost of an MRI scan in Boston.")), "procedure",
                 "MRI scan", "estimate_cost") == LV.grounded
    far = context([case], HumanMessage("Retrieve the details of a Supreme Court case. I read about it in Boston."))
    assert value(far, "case_title", "Supreme Court case", "get_case_details") == LV.grounded
    # an option the parameter states is the tool's own word and a right value
    rectangle = normalize_tool({"type": "function", "function": {
        "name": "get_rectangle_property", "description": "A property of the rectangle (like length, width)",
        "parameters": {"type": "object", "properties": {"perimeter": {"type": "number"}, "property": {
            "type": "string", "description": "It can be length, width or diagonal."}}, "required": ["property"]}}})
    ctx = context([rectangle], HumanMessage("What are the length and the width of a rectangle of perimeter 14?"))
    assert value(ctx, "property", "length", "get_rectangle_property") == LV.grounded


def test_a_name_with_the_sentences_article_scores_below_the_name() -> None:
    fact = normalize_tool({"type": "function", "function": {
        "name": "history_fact.fetch", "description": "Facts of a historical event", "parameters": {
            "type": "object", "properties": {"event": {"type": "string"}}, "required": ["event"]}}})
    ctx = context([fact], HumanMessage("What was the Treaty of Paris about? And The Hobbit?"))
    assert judge(ctx, opened("history_fact.fetch", ("event", "the Treaty of Paris"))) == (LV.default, ARTICLE_NAME)
    assert value(ctx, "event", "Treaty of Paris", "history_fact.fetch") == LV.grounded
    assert value(ctx, "event", "The Hobbit", "history_fact.fetch") == LV.grounded  # a title's own article


def test_some_words_of_the_parameters_own_name_are_the_kind_not_a_value() -> None:
    emission = normalize_tool({"type": "function", "function": {
        "name": "calculate_vehicle_emission", "description": "Annual emissions of a vehicle",
        "parameters": {"type": "object", "properties": {
            "vehicle_type": {"type": "string"}, "miles_driven": {"type": "number"}, "application_name": {
                "type": "string"}, "old_password": {"type": "string"}}, "required": ["vehicle_type"]}}})
    ctx = context([emission], HumanMessage("What is the carbon footprint of a gas-powered vehicle driving 1500 miles "
                                           "for Application A? My old password is password."))
    assert judge(ctx, opened("calculate_vehicle_emission", ("vehicle_type", "vehicle"))) == (LV.partly, KIND_WORDS)
    assert value(ctx, "vehicle_type", "gas", "calculate_vehicle_emission") == LV.grounded
    assert value(ctx, "application_name", "Application A", "calculate_vehicle_emission") == LV.grounded  # a name
    assert value(ctx, "old_password", "password", "calculate_vehicle_emission") == LV.grounded  # given as itself


def test_a_list_joining_two_lists_the_request_spells_out_is_over_long() -> None:
    test = normalize_tool({"type": "function", "function": {
        "name": "t_test", "description": "A t-test of two datasets", "parameters": {"type": "object", "properties": {
            "dataset_A": {"type": "array", "items": {"type": "number"}},
            "dataset_B": {"type": "array", "items": {"type": "number"}}}, "required": ["dataset_A", "dataset_B"]}}})
    ctx = context([test], HumanMessage("The significance between dataset_A with the values 12, 24, 36 and dataset_B "
                                       "with the values 15, 30, 45."))
    assert judge(ctx, opened("t_test", ("dataset_A", [12, 24, 36, 15, 30, 45]))) == (LV.over_long, JOINED_LISTS)
    assert value(ctx, "dataset_A", [12, 24, 36], "t_test") == LV.grounded


def test_a_value_another_argument_holds_in_other_spelling_is_the_same_value() -> None:
    athlete = normalize_tool({"type": "function", "function": {
        "name": "find_athlete", "description": "Find an athlete's profile",
        "parameters": {"type": "object", "properties": {"name": {"type": "string"}, "team": {"type": "string"}},
                       "required": ["name"]}}})
    ctx = context([athlete], HumanMessage("Find me the detailed profile of basketball player LeBron James"))
    assert judge(ctx, opened("find_athlete", ("name", "lebron_james"), ("team", "LeBron James"))) == \
        (LV.over_long, "the same value as 'name'")
    assert value(ctx, "name", "LeBron James", "find_athlete") == LV.grounded


def test_an_optional_argument_given_the_functions_own_name_words_is_no_value() -> None:
    field = normalize_tool({"type": "function", "function": {
        "name": "calculate_electric_field_strength", "description": "Electric field strength of a point charge",
        "parameters": {"type": "object", "properties": {
            "charge": {"type": "number"}, "distance": {"type": "number"}, "medium": {"type": "string"},
            "shape": {"type": "string", "enum": ["point", "electric"]}}, "required": ["charge", "distance"]}}})
    ctx = context([field], HumanMessage("Calculate the electric field strength 4 meters away from a charge of 0.01 "
                                        "Coulombs in vacuum."))
    assert judge(ctx, opened("calculate_electric_field_strength", ("charge", 0.01), ("distance", 4),
                             ("medium", "electric"))) == (LV.partly, FUNCTION_WORDS)
    assert value(ctx, "medium", "vacuum", "calculate_electric_field_strength") == LV.grounded
    assert value(ctx, "shape", "electric", "calculate_electric_field_strength") == LV.grounded  # an option


def test_a_number_written_with_a_magnitude_is_the_amount() -> None:
    dividend = numbers_tool("quarterly_dividend_per_share", "Quarterly dividend per share of a company",
                            "total_payout", "outstanding_shares")
    ctx = context([dividend], HumanMessage("What's the quarterly dividend per share of a company with 100 million "
                                           "outstanding shares and total dividend payout of 50 million dollars?"))
    assert judge(ctx, opened("quarterly_dividend_per_share", ("total_payout", 50))) == \
        (LV.partly, f"{UNSCALED}, 5e+07")
    assert value(ctx, "total_payout", 50_000_000, "quarterly_dividend_per_share") == LV.grounded
    right = Call("quarterly_dividend_per_share", {"total_payout": 50_000_000, "outstanding_shares": 100_000_000})
    assert judge(ctx, segment([right])) == (1.0, "every entity of the request is used")
    assert copy_values(ctx.request, {"type": "integer"})[:2] == [100_000_000, 50_000_000]
    # "$1.2M" after a currency sign; a bare "5M" is no amount; a parameter counted in millions takes 50
    assert magnitudes("revenues of $1M in 2019 and $1.2M in 2020") == {13: 1_000_000, 29: 1_200_000}
    assert magnitudes("a 5M cable") == {}
    millions = numbers_tool("payout", "Payout", "total_payout_in_millions")
    assert value(context([millions], ctx.messages[0]), "total_payout_in_millions", 50, "payout") == LV.grounded


def test_a_request_that_asks_for_one_thing_gets_one_call() -> None:
    cases = normalize_tool({"type": "function", "function": {
        "name": "get_lawsuit_cases", "description": "Retrieve the lawsuit cases of a company in a year",
        "parameters": {"type": "object", "properties": {
            "company_name": {"type": "string"}, "year": {"type": "integer"}, "status": {"type": "string"}},
            "required": ["company_name", "year"]}}})
    first = [*segment([Call("get_lawsuit_cases", {"company_name": "Facebook", "year": 2018})])[:-1]]
    one = context([cases], HumanMessage("Find all Patent lawsuit cases of Facebook in 2018."))
    assert asks_one_thing(one.request)
    assert judge(one, [*first, Step(T.FUNC_NAME, "get_lawsuit_cases")]) == (LV.nothing_new, ONE_THING)
    assert judge(one, [*first, Step(T.TOTAL_FINISH)])[0] > LV.nothing_new  # "Patent" unused, but one call closes
    # two companies, a list comma, a second sentence, a count: more than one thing
    for request in ("Find the lawsuit cases of Facebook and Google in 2018.", "Find lawsuits of Facebook, Google.",
                    "Find the lawsuits of Facebook in 2018. Find those of Google too.",
                    "Find the lawsuits of two companies, Facebook in 2018 plus Google."):
        several = context([cases], HumanMessage(request))
        assert not asks_one_thing(request)
        assert judge(several, [*first, Step(T.FUNC_NAME, "get_lawsuit_cases")])[1] != ONE_THING
    assert asks_one_thing("How much CO2 does a car produce per year, with fuel efficiency of 25 MPG?")


def test_a_currencys_code_grounds_and_uses_its_name() -> None:
    converter = currency_tool("currency_converter", "Convert an amount of money between two currencies")
    ctx = context([converter], HumanMessage("Calculate the current cost in British Pounds if I need to convert 200 US dollars."))
    assert judge(ctx, opened("currency_converter", ("target_currency", "GBP"))) == \
        (LV.grounded, "the code of a currency the conversation names")
    right = Call("currency_converter", {"base_currency": "USD", "target_currency": "GBP", "amount": 200})
    assert judge(ctx, segment([right])) == (1.0, "every entity of the request is used")
    assert value(ctx, "target_currency", "JPY", "currency_converter") == LV.ungrounded  # no yen said
    # a bare "dollar" names no currency of its own
    bare = context([converter], HumanMessage("Convert 5 dollars into euros."))
    assert value(bare, "base_currency", "CAD", "currency_converter") == LV.ungrounded
    assert value(bare, "target_currency", "EUR", "currency_converter") == LV.grounded


HOLIDAYS = normalize_tool({"type": "function", "function": {
    "name": "PublicHolidayNextPublicHolidays", "description": "The next public holidays of a country",
    "parameters": {"type": "object", "properties": {"countryCode": {
        "type": "string", "description": "Two-character country code. For instance, CN or cn represents China."}},
        "required": ["countryCode"]}}})
"""ToolAlpaca's holiday tool: a parameter that takes a country's two-character code."""


def test_a_countrys_code_grounds_even_as_the_descriptions_example() -> None:
    ctx = context([HOLIDAYS], HumanMessage("What are the upcoming public holidays in Germany?"))
    assert judge(ctx, opened("PublicHolidayNextPublicHolidays", ("countryCode", "DE"))) == \
        (LV.grounded, "the code of a country the conversation names")
    assert value(ctx, "countryCode", "FR", "PublicHolidayNextPublicHolidays") == LV.ungrounded  # no France said
    china = context([HOLIDAYS], HumanMessage("Is today a public holiday in China?"))
    assert value(china, "countryCode", "CN", "PublicHolidayNextPublicHolidays") == LV.grounded  # the example, and right
    assert value(ctx, "countryCode", "CN", "PublicHolidayNextPublicHolidays") == LV.schema_copy  # the example only


def test_a_name_or_a_length_the_parameter_does_not_take_is_no_code() -> None:
    airport = normalize_tool({"type": "function", "function": {
        "name": "get_airport", "description": "Airport details", "parameters": {"type": "object", "properties": {
            "icao": {"type": "string", "description": "The ICAO code of the airport."},
            "region": {"type": "string", "description": "The region whose building code applies"}},
            "required": ["icao"]}}})
    ctx = context([HOLIDAYS, airport], HumanMessage("The next holidays in Germany and in the USA? And Munich airport, EDDM?"))
    for name, why in (("Germany", "7 characters where the parameter states 2"),
                      ("USA", "3 characters where the parameter states 2")):
        assert judge(ctx, opened("PublicHolidayNextPublicHolidays", ("countryCode", name))) == \
            (LV.partly, f"{NOT_A_CODE}: {why}")
    assert value(ctx, "countryCode", "DE", "PublicHolidayNextPublicHolidays") == LV.grounded
    assert value(ctx, "countryCode", "us", "PublicHolidayNextPublicHolidays") == LV.grounded
    # no length stated: a country's name is still no code, the code itself is
    assert judge(ctx, opened("get_airport", ("icao", "Germany"))) == (LV.partly, f"{NOT_A_CODE}: the name of 'DE'")
    assert value(ctx, "icao", "EDDM", "get_airport") == LV.grounded
    # a description that speaks of codes later does not make its parameter take one
    munich = context([airport], HumanMessage("Munich airport in Germany, EDDM?"))
    assert value(munich, "region", "Germany", "get_airport", ("icao", "EDDM")) == LV.grounded
    # two lengths stated: neither is the length
    assert stated_length({"description": "A two-letter state code or a 5-digit zip code"}) is None
    assert stated_length({"description": "Up to 3 letters"}) is None
    assert stated_length({"description": "a 5-digit zip code"}) == 5
    # an ungrounded value stays ungrounded
    assert value(ctx, "countryCode", "France", "PublicHolidayNextPublicHolidays") == LV.ungrounded


def test_an_option_the_request_names_by_its_gloss_is_the_options_code() -> None:
    weather = normalize_tool({"type": "function", "function": {
        "name": "current_get", "description": "Get current weather", "parameters": {"type": "object", "properties": {
            "query": {"type": "string"}, "units": {"type": "string", "description": (
                "One of: [m, s, f]. The unit identifier (m: Metric, s: Scientific, f: Fahrenheit).")}},
            "required": ["query"]}}})
    ctx = context([weather], HumanMessage("The current weather in Toronto, in Fahrenheit?"))
    assert judge(ctx, opened("current_get", ("units", "f"))) == \
        (LV.grounded, "the option the conversation names by its gloss, 'Fahrenheit'")
    assert judge(ctx, opened("current_get", ("units", "Fahrenheit"))) == (LV.partly, f"{GLOSS_NOT_CODE} 'f'")
    assert value(ctx, "units", "s", "current_get") < LV.grounded  # "Scientific" is not said


def test_words_that_hold_another_arguments_number_score_partly() -> None:
    leader = normalize_tool({"type": "function", "function": {
        "name": "historic_leader_search", "description": "Retrieve a historic leader of a country in a year",
        "parameters": {"type": "object", "properties": {
            "location": {"type": "string"}, "date": {"type": "integer"}, "title": {"type": "string"}},
            "required": ["location", "date"]}}})
    ctx = context([leader], HumanMessage("Who was the ruler of France in 1510?"))
    assert judge(ctx, opened("historic_leader_search", ("location", "France, 1510"))) == \
        (LV.partly, f"{HOLDS_NUMBER}, 1510, which 'date' takes")
    assert value(ctx, "location", "France", "historic_leader_search") == LV.grounded
    # another number in the date: the words' number is none of its
    assert value(ctx, "location", "France, 1510", "historic_leader_search", ("date", 1511)) == LV.grounded
    # no other parameter takes a number: the number is part of the words ("Room 101")
    room = normalize_tool({"type": "function", "function": {"name": "find_room", "description": "Find a room",
                                                            "parameters": {"type": "object", "properties": {
                                                                "room": {"type": "string"}}}}})
    assert value(context([room], HumanMessage("Where is Room 101?")), "room", "Room 101", "find_room") == LV.grounded
    # an end of a conversion names a unit only, even where the request writes the amount with it
    exchange = currency_tool("convert_currency", "Convert an amount from a base currency to a target currency", "integer")
    yen = context([exchange], HumanMessage("How much will 20000 Japanese Yen be in United States Dollar?"))
    assert judge(yen, opened("convert_currency", ("base_currency", "20000 Japanese Yen"))) == \
        (LV.partly, f"{HOLDS_NUMBER}, 20000, which 'amount' takes")
    assert value(yen, "base_currency", "JPY", "convert_currency") == LV.grounded


def test_a_default_the_description_states_invents_nothing() -> None:
    tools = normalize_tools([{"type": "function", "function": {
        "name": "full_house_probability", "description": "Probability of a full house in poker",
        "parameters": {"type": "object", "properties": {
            "deck_size": {"type": "integer", "description": "The size of the deck. Default is 52."},
            "hand_size": {"type": "integer", "description": "The size of the hand. Defaults to 5."}},
            "required": ["deck_size", "hand_size"]}}}])
    finish = [Step(T.PARAM_FINISH), Step(T.FUNC_FINISH)]
    poker = context(tools, HumanMessage("What is the probability of getting a full house in poker?"))
    assert stated_default(tools[0].param("deck_size")) == 52
    assert judge(poker, [*opened("full_house_probability", ("deck_size", 52), ("hand_size", 5)), *finish])[0] == 1.0
    assert judge(poker, [*opened("full_house_probability", ("deck_size", 52), ("hand_size", 7)), *finish]) == \
        (LV.made_up, NUMBERLESS)


def test_paging_parameters_are_named_by_paging_words_alone() -> None:
    for name in ("limit", "page_size", "per_page", "maxCursor", "next_page_key", "max_articles", "top_n_keywords", "count"):
        assert paging(name), name
    for name in ("nucleus_count", "pieces_count", "family_size", "max_time", "daylights_offset", "year"):
        assert not paging(name), name


def test_every_step_scores_in_range_with_a_reason(ctx: ScoringContext) -> None:
    steps = segment([Call("get_weather", {"city": "Paris", "days": 3}), Call("convert_currency", {
        "amount": 12.5, "from_currency": "USD", "to_currency": "EUR"})])
    judged = VerifierScorer().judge(ctx, [steps[: i + 1] for i in range(len(steps))])
    assert all(0.0 <= j.score <= 1.0 and j.reason for j in judged)
    assert VerifierScorer().score(ctx, [steps]) == [judged[-1].score]
    assert VerifierScorer().score(ctx, []) == []


# ---- ablations ----------------------------------------------------------------------------------
def test_each_signal_switches_off(tools: list[ToolSpec]) -> None:
    assert set(ABLATABLE) == {"relevance", "coverage", "grounding", "schema_copy"}
    joke = context(tools, HumanMessage("Tell me a joke."))
    off = VerifierScorer(relevance=False)
    assert judge(joke, [Step(T.FUNC_NAME, "book_flight")], off)[0] == 1.0
    assert judge(joke, segment([]), off)[0] == 1.0
    two = context(tools, HumanMessage("What's the weather forecast in Paris and in London?"))
    one = segment([Call("get_weather", {"city": "Paris"})])
    assert judge(two, one, VerifierScorer(coverage=False))[0] == 1.0
    flight = context(tools, HumanMessage("Book a flight from New York to Philadelphia."))
    assert value(flight, "origin", "New York to Philadelphia", "book_flight",
                 verifier=VerifierScorer(grounding=False)) == LV.grounded  # the old substring test
    blank = context(tools, HumanMessage("What's the weather forecast where I am?"))
    assert value(blank, "city", "string", verifier=VerifierScorer(schema_copy=False)) == LV.ungrounded


# ---- values copied from the request ---------------------------------------------------------------
def test_copy_values_offers_the_requests_own_values() -> None:
    text = "Ship 3 boxes to 12 Oak Street in Springfield, 2.5 kg each."
    assert copy_values(text, {"type": "integer"}) == [3, 12]
    assert copy_values(text, {"type": "number"}) == [3, 12, 2.5]
    strings = copy_values(text, {"type": "string"})
    assert "12 Oak Street" in strings and "Springfield" in strings and len(strings) <= 6
    assert copy_values(text, {"type": "boolean"}) == []
    assert copy_values(text, {"anyOf": [{"type": "integer"}, {"type": "null"}]}) == [3, 12]


def test_a_list_cut_short_scores_partly(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("Weather forecast for 'Oslo', 'Bergen' and 'Tromso' on days 1, 2 and 3."))
    assert value(ctx, "tags", ["Oslo", "Bergen", "Tromso"]) == LV.grounded
    assert value(ctx, "tags", ["Oslo", "Bergen"]) == LV.partly
    assert value(ctx, "tags", ["1", "2", "3"]) == LV.grounded
    names = context(tools, HumanMessage("Weather forecast tags for Oslo and Bergen."))
    assert value(names, "tags", ["Oslo"]) == LV.partly and value(names, "tags", ["Oslo", "Bergen"]) == LV.grounded


@pytest.mark.parametrize(("text", "items", "lists"), [
    ("Scores: 85, 90, 88 and 92; set bins to 5.", "integer", [[85, 90, 88, 92]]),
    ("Cash flows [200,300,400] at 8%", "number", [[200, 300, 400]]),  # in brackets: no thousands
    ("Incomes of 10,000 and 2,500.5", "number", [[10000, 2500.5]]),  # outside: 10,000 is one number
    ("Incomes of 10,000 and 2,500.5", "integer", []),  # not all whole
    ("For the 2nd, 3rd and 4th floors of Sample3", "integer", [[2, 3, 4]]),
    ("Predictors 'Age', 'Income' or 'Education'.", "string", [["Age", "Income", "Education"]]),
    ("Predictors 'Age', 'Income' or 'Education'.", "integer", []),
    ("Between 1 and 3, then 'x'", "string", []),
    ("Stock prices of Microsoft and Google", "string", [["Microsoft", "Google"]]),  # names joined by "and"
    ("A melody on C, F or G", "string", [["C", "F", "G"]]),
    ("Hotels in Denver, Colorado", "string", []),  # a qualified place is no list
    ("The area under y=x^2 from x=1 to x=3.", "number", [[1, 3]]),  # a range's ends
    ("Land cases between 2015 and 2021", "integer", [[2015, 2021]]),
    ("A 4 ft x 4 ft statue and a 6.5x3 one", "integer", [[4, 4]]),  # sizes; 6.5 is no integer
    ("A 4 ft x 4 ft statue and a 6.5x3 one", "number", [[4, 4], [6.5, 3]]),
])
def test_copy_values_offers_the_lists_the_request_spells_out(text: str, items: str, lists: list[Any]) -> None:
    from langchain_toolprm.core.verifier import copy_values

    assert copy_values(text, {"type": "array", "items": {"type": items}}) == lists
    assert copy_values(text, {"type": "array", "items": [{"type": items}]}) == []  # tuple-style items


def test_closing_arguments_with_an_unused_entity_scores_lower(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("Weather forecast for Oslo for 5 days."))
    short = [*opened("get_weather", ("city", "Oslo")), Step(T.PARAM_FINISH)]
    full = [*opened("get_weather", ("city", "Oslo"), ("days", 5)), Step(T.PARAM_FINISH)]
    score, why = judge(ctx, short)
    assert score == LV.unsaid and "'5'" in why
    assert judge(ctx, full)[0] == 1.0
    assert judge(ctx, short, VerifierScorer(coverage=False))[0] == 1.0
    # An unused city cannot go into a unit: closing Paris's arguments is fine while London waits.
    # (the fixture's weather tool also has a list of strings, which could take a city).
    narrow = normalize_tools([{"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]},
                                         "days": {"type": "integer"}}, "required": ["city"]}}}])
    paris = [*opened("get_weather", ("city", "Paris")), Step(T.PARAM_FINISH)]
    assert judge(context(narrow, HumanMessage("What's the weather in Paris and in London?")), paris)[0] == 1.0
    assert judge(context(tools, HumanMessage("What's the weather in Paris and in London?")), paris)[0] == LV.unsaid
    assert judge(context(narrow, HumanMessage("Weather in Paris and London for 3 days.")), paris)[0] == LV.unsaid


def test_codes_in_a_tool_text_cover_the_users_full_words() -> None:
    def tool(description: str) -> ToolSpec:  # no word of the tool names the kind, currency
        return normalize_tools([{"type": "function", "function": {"name": "convert_money", "description": description,
                                 "parameters": {"type": "object", "properties": {"amount": {"type": "number"}}}}}])[0]

    assert relevance("How much is 250 US dollars in euros?", tool("Convert money")) == 0.0  # its text has no codes
    coded = tool("Convert money (ISO codes such as USD, EUR)")
    assert relevance("How much is 250 US dollars in euros?", coded) >= 0.25
    assert relevance("Apples in the USA", coded) == 0.0  # a code must spell the words' own starts


def test_a_later_call_repeating_a_value_while_another_is_unused(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("Weather forecast in Paris for 3 days, and in Rome for 5 days."))
    first = segment([Call("get_weather", {"city": "Paris", "days": 3})])[:-1]
    again = judge(ctx, [*first, *opened("get_weather", ("city", "Rome"), ("days", 3))])
    new = judge(ctx, [*first, *opened("get_weather", ("city", "Rome"), ("days", 5))])
    assert again[0] == LV.partly and "'5'" in again[1] and new[0] == LV.grounded
    # A repeat is fine when nothing of its kind is left to use: the same company in both calls.
    ctx2 = context(tools, HumanMessage("Weather forecast in Paris for 3 days, and again for 5 days."))
    assert judge(ctx2, [*first, *opened("get_weather", ("city", "Paris"))])[0] == LV.grounded


# ---- functions the request names ------------------------------------------------------------------
AIR = {"type": "function", "function": {"name": "get_air_quality", "description": "Air quality index of a city",
                                        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                       "required": ["city"]}}}


def test_a_function_the_request_names_is_owed_a_call() -> None:
    # Both calls use the same city, so entity coverage alone closes after the first: the second
    # function is owed because the request names it ("air quality"), not because of a value.
    tools = normalize_tools([*TOOLS_RAW, AIR])
    ctx = context(tools, HumanMessage("Get the weather forecast in Paris, and also its air quality."))
    weather = segment([Call("get_weather", {"city": "Paris"})])
    both = segment([Call("get_weather", {"city": "Paris"}), Call("get_air_quality", {"city": "Paris"})])
    score, why = judge(ctx, weather)
    assert LV.uncovered <= score < LV.uncovered_most and "get_air_quality()" in why
    assert judge(ctx, both)[0] == 1.0
    open_ = weather[:-1]
    assert judge(ctx, [*open_, Step(T.FUNC_NAME, "get_weather")])[0] == LV.nothing_new
    assert judge(ctx, [*open_, Step(T.FUNC_NAME, "get_air_quality")])[0] > LV.called_again
    rome = context(tools, HumanMessage("Get the weather forecast in Paris and Rome, then the air quality in Paris."))
    assert judge(rome, [*open_, Step(T.FUNC_NAME, "get_weather")])[0] == LV.called_again  # the named one first
    assert judge(rome, [*open_, Step(T.FUNC_NAME, "get_air_quality")])[0] > LV.called_again
    assert judge(ctx, both[:-1])[0] == LV.new_function_only  # no new entity, a named function
    assert LV.uncovered_most < LV.new_function_only < 1.0
    assert judge(ctx, weather, VerifierScorer(coverage=False))[0] == 1.0
    # Without words that ask for several tasks a named function is no task of its own: in one-task
    # requests such words name parameters or topics far more often than second calls.
    one_task = context(tools, HumanMessage("Get the weather forecast with air quality in Paris."))
    assert judge(one_task, weather)[0] == 1.0
    # a semicolon between requests asks for several
    listed = context(tools, HumanMessage("For Paris, tell me the following: the weather forecast; its air quality."))
    assert judge(listed, weather)[0] < LV.uncovered_most


def test_a_word_the_called_function_explains_owes_nothing() -> None:
    # "hourly" names get_hourly_forecast, but get_weather has an ``hourly`` flag: no second call.
    hourly = {"type": "function", "function": {"name": "get_hourly_forecast", "description": "Hour by hour",
                                               "parameters": {"type": "object", "properties": {
                                                   "city": {"type": "string"}}, "required": ["city"]}}}
    tools = normalize_tools([*TOOLS_RAW, hourly])
    ctx = context(tools, HumanMessage("First, the hourly weather forecast for Paris, please."))
    assert judge(ctx, segment([Call("get_weather", {"city": "Paris", "hourly": True})]))[0] == 1.0
    assert "get_weather()" in judge(ctx, segment([Call("get_hourly_forecast", {"city": "Paris"})]))[1]


def test_a_word_both_names_share_explains_nothing() -> None:
    # investment.withdraw's name has "investment", which its sibling's name has too: it does not
    # explain the "invest" that names investment.invest.
    def fund(verb: str) -> dict[str, Any]:
        return {"type": "function", "function": {"name": f"investment.{verb}", "description": f"{verb.title()} an amount",
                                                 "parameters": {"type": "object", "properties": {
                                                     "company": {"type": "string"}, "amount": {"type": "number"}},
                                                     "required": ["company", "amount"]}}}
    tools = normalize_tools([fund("invest"), fund("withdraw")])
    ctx = context(tools, HumanMessage("Invest $2000 in Google and withdraw $1000 from Apple."))
    withdrawn = segment([Call("investment.withdraw", {"company": "Apple", "amount": 1000})])
    score, why = judge(ctx, withdrawn)
    assert score < LV.uncovered_most and "investment.invest()" in why
    # the part of the request that asks for the withdrawal says Apple, not Google
    score, why = judge(ctx, opened("investment.withdraw", ("company", "Google")))
    assert score == LV.partly and "'Apple' of the call's own task" in why
    assert value(ctx, "company", "Apple", "investment.withdraw") == LV.grounded


def test_a_part_that_refers_back_may_take_another_parts_value_again() -> None:
    def records(name: str, *more: str) -> ToolSpec:
        return normalize_tool({"type": "function", "function": {"name": name, "description": "Patient records",
                               "parameters": {"type": "object", "properties": {
                                   "patient": {"type": "string"}, **{m: {"type": "string"} for m in more}},
                                   "required": ["patient"]}}})
    tools = [records("get_hearing_loss"), records("book_cardiology_visit", "doctor")]
    for request in ("Get the hearing loss of patient Ann Lee. Then book a cardiology visit with Dr Kim for the "
                    "same patient.", "Get the hearing loss of patient Ann Lee. Then book a cardiology visit with "
                    "Dr Kim for her.", "Get the hearing loss of patient Ann Lee. Then book a cardiology visit for "
                    "the patient with Dr Kim."):
        ctx = context(tools, HumanMessage(request))
        assert value(ctx, "patient", "Ann Lee", "book_cardiology_visit") == LV.grounded, request
    ctx = context(tools, HumanMessage("Get the hearing loss of patient Ann Lee. Then book a cardiology visit with "
                                      "Dr Kim for patient Bo Chen."))
    score, why = judge(ctx, opened("book_cardiology_visit", ("patient", "Ann Lee")))
    assert score == LV.partly and "of the call's own task" in why


@pytest.mark.parametrize("word", ["each city", "both these cities", "every one of the cities"])
def test_each_owes_its_parts_function_a_call_for_every_value_named_so(word: str) -> None:
    def shop(name: str) -> ToolSpec:
        return normalize_tool({"type": "function", "function": {"name": name, "description": "Guitar shops",
                               "parameters": {"type": "object", "properties": {
                                   "city": {"type": "string"}, "product": {"type": "string"}},
                                   "required": ["city", "product"]}}})
    tools = [shop("lowest_price"), shop("store_count")]
    calls = [Call("lowest_price", {"city": "Austin", "product": "guitar"}),
             Call("lowest_price", {"city": "Boston", "product": "guitar"}),
             Call("store_count", {"city": "Boston", "product": "guitar"})]
    ctx = context(tools, HumanMessage("Find the lowest price of a guitar in Austin and the lowest price in Boston. "
                                      f"Also tell me how many stores carry it in {word}."))
    score, why = judge(ctx, segment(calls))
    assert score < LV.uncovered_most and "'Austin' for store_count" in why
    open_list = segment(calls)[:-1]
    assert judge(ctx, [*open_list, Step(T.FUNC_NAME, "store_count")])[0] > LV.called_again
    again = [*open_list, *opened("store_count", ("city", "Boston"))]
    assert judge(ctx, again)[0] == LV.partly  # Boston again while Austin is owed
    assert judge(ctx, segment([*calls, Call("store_count", {"city": "Austin", "product": "guitar"})]))[0] == 1.0
    # Without "each" the part asks for Boston's stores only.
    ctx = context(tools, HumanMessage("Find the lowest price of a guitar in Austin and the lowest price in Boston. "
                                      "Also tell me how many stores carry it in Boston."))
    assert judge(ctx, segment(calls))[0] == 1.0


def test_words_joined_by_and_take_their_numbers_in_turn_without_ties() -> None:
    tool = numbers_tool("rectangle_area", "Area", "width", "length")
    ctx = context([tool], HumanMessage("The area of a rectangle with its width and length as 4m and 9m."))
    assert value(ctx, "width", 4, "rectangle_area") == LV.grounded
    assert value(ctx, "length", 9, "rectangle_area", ("width", 4)) == LV.grounded
    # A number before "and" keeps its word's tie: "weighs 80 and height 6".
    ctx = context([tool], HumanMessage("A rectangle of width 80 and length 6."))
    assert judge(ctx, opened("rectangle_area", ("width", 6)))[0] == LV.partly


def test_tiny_numbers_are_told_apart() -> None:
    tool = numbers_tool("potential", "Electrostatic potential", "charge1", "charge2")
    ctx = context([tool], HumanMessage("The potential between two charged bodies of 1e-9 and 2e-9."))
    score, why = judge(ctx, opened("potential", ("charge1", 1e-9), ("charge2", 2)))
    assert score == LV.partly and "'2e-9' is unused" in why
    assert value(ctx, "charge2", 2e-9, "potential", ("charge1", 1e-9)) == LV.grounded


def test_a_parameter_named_by_the_functions_own_words_owns_no_number() -> None:
    tool = numbers_tool("calculate_final_temperature", "Mixing", "mass1", "temperature1")
    ctx = context([tool], HumanMessage("The final temperature when 20 kg of water at 30 degree Celsius is mixed."))
    assert value(ctx, "mass1", 20, "calculate_final_temperature") == LV.grounded


def test_each_function_is_owed_every_member_of_a_list_its_call_took_one_of() -> None:
    def tool(name: str, param: str, kind: str) -> ToolSpec:
        return normalize_tool({"type": "function", "function": {"name": name, "description": name.replace("_", " "),
                               "parameters": {"type": "object", "properties": {param: {"type": kind}},
                                              "required": [param]}}})
    particles = [tool("get_weight", "particle", "string"), tool("get_diameter", "particle", "string")]
    ctx = context(particles, HumanMessage("What is the weight of Neutron and Proton? Also what is the diameter "
                                          "of a Proton and Neutron?"))
    mixed = [Call("get_weight", {"particle": "Neutron"}), Call("get_diameter", {"particle": "Proton"})]
    score, why = judge(ctx, segment(mixed))
    assert score < LV.partly and "'proton' for get_weight" in why
    # get_diameter's own sibling makes its second call new.
    assert judge(ctx, segment([*mixed, Call("get_diameter", {"particle": "Neutron"})])[:-1])[0] == LV.grounded
    every = [*mixed, Call("get_weight", {"particle": "Proton"}), Call("get_diameter", {"particle": "Neutron"})]
    assert judge(ctx, segment(every))[0] == 1.0
    years = [tool("life_expectancy", "year", "integer"), tool("gdp", "year", "integer")]
    ctx = context(years, HumanMessage("The life expectancy in 1900 and 1950? Also the GDP in these years."))
    score, why = judge(ctx, segment([Call("life_expectancy", {"year": 1900}), Call("gdp", {"year": 1950})]))
    assert score < LV.partly and "'1950' for life_expectancy" in why
    every = [Call("life_expectancy", {"year": y}) for y in (1900, 1950)] + [Call("gdp", {"year": y}) for y in (1900, 1950)]
    assert judge(ctx, segment(every))[0] == 1.0


def test_a_token_comes_from_a_result_or_is_called_one() -> None:
    """API-Bank's task APIs take the token GetUserToken issues: the user's email is no token, so the
    token call ranks first while none has been issued."""
    get_token, query = normalize_tools([
        {"type": "function", "function": {"name": "GetUserToken", "description": "Get the user token by username and password.",
         "parameters": {"type": "object", "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                        "required": ["username", "password"]}}},
        {"type": "function", "function": {"name": "QueryAlarm", "description": "Query the alarm clock of the user.",
         "parameters": {"type": "object", "properties": {"token": {"type": "string", "description": "The token of the user."}},
                        "required": ["token"]}}}])
    ask = HumanMessage("Check my alarm. My email is jane@example.com, username JaneSmith, password secret.")
    ctx = context([get_token, query], ask)
    score, why = judge(ctx, segment([Call("QueryAlarm", {"token": "jane@example.com"})])[:2])
    assert score == LV.ungrounded and "token" in why
    score, why = judge(ctx, segment([Call("QueryAlarm", {"token": "x"})])[:1])  # the name: the issuer goes first
    assert score == LV.premature and "GetUserToken" in why
    assert judge(ctx, segment([Call("GetUserToken", {"username": "JaneSmith", "password": "secret"})])[:1])[0] > LV.premature
    both = segment([Call("GetUserToken", {"username": "JaneSmith", "password": "secret"}), Call("QueryAlarm", {"token": "x"})])
    after_issuer = [i for i, s in enumerate(both) if s.name == "QueryAlarm"][0]
    assert judge(ctx, both[:after_issuer + 1])[0] < LV.uncovered  # not beside the issuer whose result it needs
    assert judge(ctx, segment([Call("GetUserToken", {"username": "JaneSmith", "password": "secret"})])[:3])[0] == 1.0
    issued = AIMessage("", tool_calls=[{"name": "GetUserToken", "args": {"username": "JaneSmith", "password": "secret"},
                                        "id": "c1"}])
    ctx = context([get_token, query], ask, issued, ToolMessage("{'token': 'o8i7u6y5t4'}", tool_call_id="c1"))
    assert judge(ctx, segment([Call("QueryAlarm", {"token": "o8i7u6y5t4"})])[:2])[0] == 1.0
    assert judge(ctx, segment([Call("QueryAlarm", {"token": "o8i7u6y5t4"})])[:1])[0] > LV.premature  # issued now
    assert judge(ctx, segment([Call("QueryAlarm", {"token": "o8i7"})])[:2])[0] == LV.ungrounded  # part of one is none
    assert issued_tokens(ctx) == ["o8i7u6y5t4"]
    assert judge(ctx, segment([Call("QueryAlarm", {"token": "secret"})])[:2])[0] == LV.ungrounded  # the user's word
    # just before a result's "token" is no token the user named
    again = ToolMessage('{"access_token": "zz-91", "expires": 3600}', tool_call_id="c2")
    assert issued_tokens(context([get_token, query], ask, issued, ToolMessage("{'token': 'o8i7u6y5t4'}", tool_call_id="c1"),
                                 again)) == ["zz-91", "o8i7u6y5t4"]  # latest first
    ctx = context([get_token, query], HumanMessage("Check my alarm, my access token is tk-55aa91."))
    assert judge(ctx, segment([Call("QueryAlarm", {"token": "tk-55aa91"})])[:2])[0] == 1.0
    said = context([get_token, query], HumanMessage("Check my alarm. My username is JaneSmith and my password is password."))
    assert judge(said, segment([Call("GetUserToken", {"username": "JaneSmith", "password": "password"})])[:3])[0] == 1.0
    assert judge(context([get_token, query], ask),  # the parameter's own name, not given as its value
                 segment([Call("GetUserToken", {"username": "JaneSmith", "password": "password"})])[:3])[0] == LV.schema_copy
    ctx = context([get_token, query], HumanMessage("What is the price of the CAKE token?"))
    assert judge(ctx, segment([Call("QueryAlarm", {"token": "CAKE"})])[:2])[0] == 1.0  # named a token after it
    ctx = context([get_token, query], ask)
    assert judge(ctx, segment([Call("QueryAlarm", {"token": "jane@example.com"})])[:2],
                 VerifierScorer(grounding=False))[0] > LV.ungrounded  # the grounding ablation switches it off too


# ---- stated formats -------------------------------------------------------------------------------
def test_stated_formats_are_read_from_descriptions_and_schemas() -> None:
    def fmt(description: str, name: str = "date", **schema: Any) -> str | None:
        return stated_format(name, {"type": "string", "description": description, **schema})

    assert fmt("The date of the stock price. Format: %Y-%m-%d") == "%Y-%m-%d"
    assert fmt("in the pattern of %Y-%m-%d %H:%M:%S") == "%Y-%m-%d %H:%M:%S"
    assert fmt("Format: yyyy-mm-dd.") == "%Y-%m-%d"  # mm is the month in a date...
    assert fmt("Start and end (YYYY-MM-DD HH:MM:SS)") == "%Y-%m-%d %H:%M:%S"  # ...and the minutes after an hour
    assert fmt("Date of the concert in 'mm-yyyy' format.") == "%m-%Y"
    assert fmt("The time, as HH:mm") == "%H:%M"
    assert fmt("The day", format="date") == "%Y-%m-%d"
    assert fmt("in the format of MM-DD-YYY.") is None  # a pattern cut short is no pattern
    assert fmt("Specific season in format 'YYYY-YYYY'.") is None  # a year twice cannot be parsed back
    assert fmt("Default is 'YYYY-MM-DD HH:mm:ss'.", name="date_format") is None  # the format itself is the value
    assert fmt("The city") is None


@pytest.mark.parametrize(("texts", "fmt", "expected"), [
    (["March 18, 2023 at 10:30am"], "%Y-%m-%d %H:%M:%S", ["2023-03-18 10:30:00"]),
    (["9 am on March 17th, 2023"], "%Y-%m-%d %H:%M:%S", ["2023-03-17 09:00:00"]),  # the nearest time
    (["the 5th of March 2023 at noon"], "%Y-%m-%d", ["2023-03-05"]),
    (["at 7pm on 2022-01-03"], "%H:%M", ["19:00"]),
    (["Check the stock on March 15, 2022"], "%Y-%m-%d %H:%M:%S", ["2022-03-15 00:00:00"]),  # no time: midnight
    (["Check the stock on March 15, 2022"], "%H:%M", []),  # no time to give
    (["Set it for 2:00 PM", "My meeting is on December 15th, 2023"], "%Y-%m-%d %H:%M:%S",
     ["2023-12-15 14:00:00", "2023-12-15 00:00:00"]),  # a time alone takes the latest date said
    (["Set it for 2:00 PM"], "%Y-%m-%d %H:%M:%S", []),  # no date anywhere
    (["On April 12th, please", "my plans for 2023"], "%Y-%m-%d", ["2023-04-12"]),  # the one year said
    (["April 12th", "between 2022 and 2023"], "%Y-%m-%d", []),  # two years: none is guessed
    (["I have 3 apples and 2023 plans, may 40 people come?"], "%Y-%m-%d", []),
    (["February 30th, 2023"], "%Y-%m-%d", []),  # no such day
])
def test_dates_are_offered_in_the_stated_format(texts: list[str], fmt: str, expected: list[str]) -> None:
    assert dates_in_format(texts, fmt) == expected


def test_a_date_written_in_another_form_uses_the_requests_date() -> None:
    """Coverage reads days, years and times, not words: the offered "2022-05-10 10:00:00" uses the
    user's "2022-05-10 at 10 AM" (so no second call is owed it), and "19:30:00" uses the 7 of
    "7:30 pm"; another day or hour does not."""
    from langchain_toolprm.core.verifier import Entity, moments

    assert moments("2022-05-10 at 10 AM") == moments("2022-05-10 10:00:00")
    assert moments("March 5th") == {(0, 3, 5)} and moments("the city") == frozenset()
    said = Entity("2022-05-10 at 10 AM")
    assert said.used_by([Call("AddReminder", {"time": "2022-05-10 10:00:00"})])
    assert not said.used_by([Call("AddReminder", {"time": "2022-05-10 11:00:00"})])
    evening = [Call("AddReminder", {"time": "2023-04-01 19:30:00"})]
    assert Entity("7", 7.0, clock=True).used_by(evening) and not Entity("8", 8.0, clock=True).used_by(evening)
    assert not Entity("7", 7.0).used_by(evening)  # 7 people are no hour
    from langchain_toolprm.core.verifier import request_entities
    assert [e.clock for e in request_entities("A table for 4 at 7pm", []) if e.number] == [False, True]
    [reminder] = normalize_tools([{"type": "function", "function": {"name": "AddReminder", "description": "Add a reminder",
                                   "parameters": {"type": "object", "properties": {
                                       "content": {"type": "string"},
                                       "time": {"type": "string", "description": "Format: %Y-%m-%d %H:%M:%S"}}}}}])
    ctx = context([reminder], HumanMessage('Remind me to "Call mom" at "2022-05-10 at 10 AM"'))
    steps = [*opened("AddReminder", ("content", "Call mom"), ("time", "2022-05-10 10:00:00")),
             Step(T.PARAM_FINISH), Step(T.FUNC_FINISH), Step(T.TOTAL_FINISH)]
    assert judge(ctx, steps)[0] == 1.0


def test_a_value_not_in_the_stated_format_scores_below_one_in_it() -> None:
    [stock] = normalize_tools([{"type": "function", "function": {"name": "QueryStock", "description": "Stock price",
                                "parameters": {"type": "object", "properties": {
                                    "stock_code": {"type": "string"},
                                    "date": {"type": "string", "description": "The date. Format: %Y-%m-%d"},
                                    "time": {"type": "string", "description": "Format: %Y-%m-%d %H:%M:%S"}},
                                    "required": ["stock_code", "date"]}}}])
    ctx = context([stock], HumanMessage("The stock price of SQ on March 15th, 2022 at 3 pm?"))
    said, misformatted = value(ctx, "date", "2022-03-15", "QueryStock"), value(ctx, "date", "March", "QueryStock")
    assert said == LV.grounded and misformatted == LV.misformatted
    assert "stated format %Y-%m-%d" in judge(ctx, opened("QueryStock", ("date", "March")))[1]
    # in the format but another day: the usual word-level grounding, above a misformatted value
    assert LV.misformatted < value(ctx, "date", "2022-03-01", "QueryStock") < LV.grounded
    assert value(ctx, "time", "2022-03-15 15:00:00", "QueryStock") == LV.grounded  # 3 pm on a 24-hour clock
    assert value(ctx, "time", "2022-03-15", "QueryStock") == LV.misformatted
    # the dates the search offers for each parameter are the request's, in its format, and ground
    assert dates_in_format([ctx.messages[-1].content], "%Y-%m-%d") == ["2022-03-15"]
    assert [value(ctx, "time", v, "QueryStock") for v in dates_in_format([ctx.messages[-1].content], "%Y-%m-%d %H:%M:%S")] \
        == [LV.grounded]
    # the switch: without grounding, the old substring test judges it alone
    assert value(ctx, "date", "March", "QueryStock", verifier=VerifierScorer(grounding=False)) == LV.grounded
    # a date in numbers uses the request's month name: the list closes with every entity used
    asked = context([stock], HumanMessage("The stock price of SQ on March 15th, 2022?"))
    assert judge(asked, segment([Call("QueryStock", {"stock_code": "SQ", "date": "2022-03-15"})])) == \
        (1.0, "every entity of the request is used")
    assert "'March'" in judge(asked, segment([Call("QueryStock", {"stock_code": "SQ", "date": "2022-05-15"})]))[1]


def test_arithmetic_the_request_writes_is_offered_and_grounded_whole() -> None:
    assert expressions("Can you calculate (5+6)*3 for me? And 12 / 4?") == ["(5+6)*3", "12 / 4"]
    assert expressions("On 2022-03-15, call 555-1234 about the (2) rooms") == []  # dates, phones, no operator
    assert copy_values("Can you calculate (5+6)*3 for me?", {"type": "string"})[0] == "(5+6)*3"
    [calc] = normalize_tools([{"type": "function", "function": {"name": "Calculator", "description": "Arithmetic",
                               "parameters": {"type": "object", "properties": {"formula": {"type": "string"}},
                                              "required": ["formula"]}}}])
    ctx = context([calc], HumanMessage("Can you calculate (5+6)*3 for me?"))
    assert value(ctx, "formula", "(5+6)*3", "Calculator") == LV.grounded
    assert value(ctx, "formula", "5 + 6", "Calculator") == LV.default < LV.grounded  # a piece of it


def test_a_percentage_where_a_decimal_is_asked_for_scores_as_misformatted() -> None:
    assert percents("rates of 4%, 2.5 percent and 7 % a year; 10 years") == [4.0, 2.5, 7.0]
    assert asks_decimal({"type": "number", "description": "The annual interest rate as a decimal."})
    assert asks_decimal({"type": "number", "description": "Enter as a decimal. E.g, 5% is 0.05"})
    assert asks_decimal({"type": "number", "description": "The interest rate per period (e.g., 0.05 for 5%)"})
    assert not asks_decimal({"type": "number", "description": "The interest rate as a percentage."})
    assert not asks_decimal({"type": "number", "description": "The annual interest rate."})  # sources differ: the policy decides
    assert not asks_decimal({"type": "integer", "description": "Number of decimal places."})
    rate = normalize_tool({"type": "function", "function": {"name": "future_value", "description": "Future value", "parameters": {
        "type": "object", "properties": {
            "present_value": {"type": "number"},
            "rate": {"type": "number", "description": "The annual interest rate as a decimal."},
            "growth": {"type": "number", "description": "The growth rate."}},
        "required": ["present_value", "rate"]}}})
    ctx = context([rate], HumanMessage("What will $5000 be worth at 4% a year, growing 3%?"))
    assert value(ctx, "rate", 0.04, "future_value") == LV.grounded
    assert value(ctx, "rate", 4, "future_value") == LV.misformatted
    assert "decimal is asked" in judge(ctx, opened("future_value", ("rate", 4)))[1]
    assert value(ctx, "growth", 3, "future_value") == value(ctx, "growth", 0.03, "future_value") == LV.grounded
    assert value(ctx, "present_value", 5000, "future_value") == LV.grounded
    # the fraction is offered first, so the search can write what the parameter asks for
    assert copy_values(ctx.request, rate.param("rate").schema)[:2] == [0.04, 0.03]
    assert 0.04 not in copy_values(ctx.request, rate.param("growth").schema)
    # the switch: without grounding, no scale is read
    assert value(ctx, "rate", 4, "future_value", verifier=VerifierScorer(grounding=False)) == LV.grounded


def test_the_parameters_own_name_is_no_value_even_where_the_request_says_it() -> None:
    weight = normalize_tool({"type": "function", "function": {"name": "molecular_weight", "description": "Weight",
                             "parameters": {"type": "object", "properties": {
                                 "compound": {"type": "string"}, "to_unit": {"type": "string"}},
                                 "required": ["compound"]}}})
    ctx = context([weight], HumanMessage("What is the molecular weight of the compound C6H12O6 (Glucose)?"))
    score, reason = judge(ctx, opened("molecular_weight", ("compound", "compound")))
    assert score == LV.schema_copy and "own name" in reason
    assert value(ctx, "compound", "C6H12O6", "molecular_weight") == LV.grounded
    plain = context([weight], HumanMessage("What does one compound weigh in grams?"))
    assert value(plain, "compound", "compound", "molecular_weight") == LV.schema_copy
    # a name in parentheses after another only qualifies it: no entity of its own, owed no call
    [compound] = request_entities(ctx.request, [weight])
    assert (compound.text, compound.alias) == ("C6H12O6", "Glucose")
    assert compound.used_by([Call("molecular_weight", {"compound": "glucose"})])  # either name uses it


def test_a_unit_parameter_takes_a_word_the_request_writes_as_a_unit() -> None:
    assert asks_unit("to_unit", {"type": "string"}) and asks_unit("units", {"type": "string"})
    assert not asks_unit("unit", {"type": "string", "enum": ["m", "cm"]})  # options: the enum decides
    assert not asks_unit("unit_price", {"type": "number"}) and not asks_unit("community", {"type": "string"})
    assert {"meter", "meters", "km/h", "celsius", "ng/dl"} <= unit_words(
        "a radius of 5 meters, the speed in km/h, 25 degrees Celsius, in the unit ng/dL")
    area = normalize_tool({"type": "function", "function": {"name": "circle_area", "description": "Area of a circle",
                           "parameters": {"type": "object", "properties": {
                               "radius": {"type": "number"},
                               "units": {"type": "string", "description": "The units (e.g. 'cm' or 'inches')."}},
                               "required": ["radius"]}}})
    ctx = context([area], HumanMessage("What is the total area of the first circle, with a radius of 5 meters?"))
    score, reason = judge(ctx, opened("circle_area", ("radius", 5), ("units", "circle")))
    assert score == LV.partly and "as a unit" in reason  # the request's word, not where it writes a unit
    assert value(ctx, "units", "area", "circle_area") == LV.partly
    assert value(ctx, "units", "meters", "circle_area") == LV.grounded
    # finishing without the optional unit now beats writing a word that is none
    assert judge(ctx, opened("circle_area", ("radius", 5)) + [Step(T.PARAM_FINISH)])[0] == 1.0
    said = context([area], HumanMessage("The radius is 5 and I want the area in inches, not in the circle's units."))
    assert value(said, "units", "inches", "circle_area") == LV.grounded
    assert value(said, "units", "circle", "circle_area") == LV.partly  # "in the circle's": no unit after "in"
    # an option the description offers is a unit even where the request writes it elsewhere
    offered = context([area], HumanMessage("The radius is 5; cm please."))
    assert value(offered, "units", "cm", "circle_area") == LV.grounded
    assert value(ctx, "units", "circle", "circle_area", verifier=VerifierScorer(grounding=False)) == LV.grounded


def test_each_leg_of_a_route_is_owed_a_call(tools: list[ToolSpec]) -> None:
    request = "Flights from New York to Los Angeles, then from Los Angeles to Miami, and from Miami back to New York."
    assert [(leg.text, leg.to) for leg in route_legs(request)] == [
        ("New York", "Los Angeles"), ("Los Angeles", "Miami"), ("Miami", "New York")]
    assert [(leg.text, leg.to) for leg in route_legs(
        "the route from my home in San Francisco to my office in Palo Alto, then return to Palo Alto from San Jose")] \
        == [("San Francisco", "Palo Alto"), ("San Jose", "Palo Alto")]
    assert route_legs("Flights to Paris and Rome from London, and hotels in Paris") == []  # no leg between two names
    ctx = context(tools, HumanMessage(request))
    two = [Call("book_flight", {"origin": "New York", "destination": "Los Angeles"}),
           Call("book_flight", {"origin": "Los Angeles", "destination": "Miami"})]
    # every city is used by the first two calls; only the third leg tells that a call is owed
    score, why = judge(ctx, segment(two))
    assert LV.uncovered <= score < LV.uncovered_most and "'Miami' to 'New York'" in why
    assert judge(ctx, [*segment(two)[:-1], Step(T.FUNC_NAME, "book_flight")])[0] > LV.nothing_new
    back = [*two, Call("book_flight", {"origin": "Miami", "destination": "New York"})]
    assert judge(ctx, segment(back)[:-1])[0] == 1.0 and judge(ctx, segment(back))[0] == 1.0
    # a leg keeps no call open: it is owed a call of its own, not this call's optional arguments
    # (every city is used once the second call has its cities; only the Miami-New York leg is left)
    flight = normalize_tool({"type": "function", "function": {"name": "book_flight", "description": "Book a flight",
                             "parameters": {"type": "object", "properties": {
                                 "origin": {"type": "string"}, "destination": {"type": "string"},
                                 "cabin": {"type": "string"}}, "required": ["origin", "destination"]}}})
    cabin = context([flight], HumanMessage(request))
    second = [*segment(two[:1])[:-1], *opened("book_flight", ("origin", "Los Angeles"), ("destination", "Miami"))]
    assert judge(cabin, [*second, Step(T.PARAM_FINISH)]) == (1.0, "arguments complete")
    assert judge(ctx, segment(two), VerifierScorer(coverage=False))[0] == 1.0
    # the open call's origin starts an unused leg: its destination is that leg's other end
    first = segment(two[:1])[:-1]
    astray = judge(ctx, [*first, *opened("book_flight", ("origin", "Los Angeles"), ("destination", "New York"))])
    assert astray[0] == LV.partly and "leg from 'Los Angeles' goes to 'Miami'" in astray[1]
    assert value(ctx, "destination", "Miami", "book_flight", ("origin", "Los Angeles")) == LV.grounded


def test_a_later_call_keeps_the_optional_arguments_an_earlier_one_set(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("The 3-day weather forecast in Paris and in Rome, with tags sunny."))
    first = segment([Call("get_weather", {"city": "Paris", "days": 3, "tags": ["sunny"]})])[:-1]
    score, why = judge(ctx, [*first, *opened("get_weather", ("city", "Rome")), Step(T.PARAM_FINISH)])
    assert score == LV.unsaid and "'days'" in why
    kept = opened("get_weather", ("city", "Rome"), ("days", 3), ("tags", ["sunny"]))
    assert judge(ctx, [*first, *kept, Step(T.PARAM_FINISH)])[0] == 1.0
    # a default the earlier call wrote out is nothing to keep, and another function's arguments bind nothing
    plain = segment([Call("get_weather", {"city": "Paris", "hourly": False})])[:-1]
    two = context(tools, HumanMessage("The weather forecast in Paris and in Rome."))
    assert judge(two, [*plain, *opened("get_weather", ("city", "Rome")), Step(T.PARAM_FINISH)])[0] == 1.0
    assert judge(ctx, [*first, *opened("get_weather", ("city", "Rome")), Step(T.PARAM_FINISH)],
                 VerifierScorer(coverage=False))[0] == 1.0


def test_a_value_of_another_tasks_clause_gives_way_to_the_calls_own() -> None:
    hotel = normalize_tool({"type": "function", "function": {"name": "reserve_hotel", "description": "Reserve a room",
                            "parameters": {"type": "object", "properties": {
                                "city": {"type": "string"}, "nights": {"type": "integer"}}, "required": ["city"]}}})
    train = normalize_tool({"type": "function", "function": {"name": "buy_train_ticket", "description": "Buy a ticket",
                            "parameters": {"type": "object", "properties": {
                                "origin": {"type": "string"}, "destination": {"type": "string"},
                                "passengers": {"type": "integer"}}, "required": ["origin", "destination"]}}})
    request = "Get me a train ticket from Lyon to Geneva for 2 people and find a hotel in Geneva for 3 nights."
    assert task_clauses(request, [train, hotel]) == [
        ("Get me a train ticket from Lyon to Geneva for 2 people", {"buy_train_ticket"}),
        ("and find a hotel in Geneva for 3 nights.", {"reserve_hotel"})]
    # a sentence that opens with no task word and names no new function carries its part on
    assert task_clauses("Then I need a hotel. It is for 3 nights in Geneva. Could you reserve one? Also a train.",
                        [train, hotel]) == [
        ("Then I need a hotel. It is for 3 nights in Geneva. Could you reserve one?", {"reserve_hotel"}),
        ("Also a train.", {"buy_train_ticket"})]
    # "and" or "but" before the task word still opens a part
    assert task_clauses("A hotel in Geneva for 2 nights. And finally, a hotel in Lyon.", [train, hotel]) == [
        ("A hotel in Geneva for 2 nights.", {"reserve_hotel"}), ("And finally, a hotel in Lyon.", {"reserve_hotel"})]
    ctx = context([train, hotel], HumanMessage(request))
    # Lyon is said only where the request asks for the train; the hotel's own clause has Geneva
    score, why = judge(ctx, opened("reserve_hotel", ("city", "Lyon")))
    assert score == LV.partly and "'Geneva' of the call's own task" in why
    assert value(ctx, "city", "Geneva", "reserve_hotel") == LV.grounded
    assert value(ctx, "nights", 2, "reserve_hotel") == LV.partly
    assert value(ctx, "nights", 3, "reserve_hotel") == LV.grounded
    # a value both clauses say, and shared context that asks for no function, stay fine
    assert value(ctx, "destination", "Geneva", "buy_train_ticket") == LV.grounded
    shared = context([train, hotel], HumanMessage("We are 2 people. Get me a train ticket from Lyon to Geneva and "
                                                 "find a hotel in Geneva for 3 nights."))
    assert value(shared, "passengers", 2, "buy_train_ticket") == LV.grounded
    # the call's own values place it: a second ticket's passengers are those of its own part
    twice = context([train, hotel], HumanMessage("Get me a train ticket from Lyon to Geneva for 2 people. Also a "
                                                "train ticket from Paris to Nice for 5 people, and a hotel in Nice."))
    score, why = judge(twice, opened("buy_train_ticket", ("origin", "Paris"), ("passengers", 2)))
    assert score == LV.partly and "'5' of the call's own task" in why
    assert value(twice, "passengers", 5, "buy_train_ticket", ("origin", "Paris")) == LV.grounded
    # one task, or the coverage switch off: no clause rule
    one = context([train, hotel], HumanMessage("A hotel in Lyon near the train to Geneva."))
    assert value(one, "city", "Lyon", "reserve_hotel") == LV.grounded
    assert value(ctx, "city", "Lyon", "reserve_hotel", verifier=VerifierScorer(coverage=False)) == LV.grounded


def test_closing_without_a_value_the_description_offers_and_the_request_says_scores_lower() -> None:
    assert offered_values("Dietary needs, e.g. vegan, gluten-free or halal.") == ["vegan", "gluten-free", "halal"]
    assert offered_values("The city (for example 'Paris') to search in") == ["Paris"]
    assert offered_values("The number of results") == []
    tool = normalize_tool({"type": "function", "function": {"name": "find_restaurants", "description": "Restaurants",
                           "parameters": {"type": "object", "properties": {
                               "location": {"type": "string"},
                               "diet": {"type": "string", "description": "Dietary needs, e.g. vegan, gluten-free"}},
                               "required": ["location"]}}})
    ctx = context([tool], HumanMessage("Find restaurants in Lyon with a gluten-free menu."))
    score, why = judge(ctx, [*opened("find_restaurants", ("location", "Lyon")), Step(T.PARAM_FINISH)])
    assert score == LV.unsaid and "'gluten-free'" in why and "'diet'" in why
    full = opened("find_restaurants", ("location", "Lyon"), ("diet", "gluten-free"))
    assert judge(ctx, [*full, Step(T.PARAM_FINISH)])[0] == 1.0
    # a request that says no offered value, or an argument that already holds it, leaves the call free to close
    plain = context([tool], HumanMessage("Find restaurants in Lyon."))
    assert judge(plain, [*opened("find_restaurants", ("location", "Lyon")), Step(T.PARAM_FINISH)])[0] == 1.0
    held = context([tool], HumanMessage("Find restaurants in Vegan Town."))
    assert judge(held, [*opened("find_restaurants", ("location", "Vegan Town")), Step(T.PARAM_FINISH)])[0] == 1.0
    assert judge(ctx, [*opened("find_restaurants", ("location", "Lyon")), Step(T.PARAM_FINISH)],
                 VerifierScorer(coverage=False))[0] == 1.0


# ---- what each function's parameters can take -----------------------------------------------------
BOOKS = normalize_tools([
    {"type": "function", "function": {"name": "top_books", "description": "The best-selling books of a shop",
                                      "parameters": {"type": "object", "properties": {
                                          "count": {"type": "integer"}, "order": {"type": "string", "enum": ["sales", "title"]}},
                                          "required": ["count"]}}},
    {"type": "function", "function": {"name": "find_reviews", "description": "Reviews of an author since a date",
                                      "parameters": {"type": "object", "properties": {
                                          "author": {"type": "string"}, "since": {"type": "string"}},
                                          "required": ["author"]}}},
    {"type": "function", "function": {"name": "shop_hours", "description": "Opening hours of the shop",
                                      "parameters": {"type": "object", "properties": {}}}},
])


def test_a_function_that_takes_nothing_left_ranks_below_one_that_does() -> None:
    ctx = context(BOOKS, HumanMessage("List the top 10 books by sales, then the top 3 by title, and reviews of "
                                      "Le Guin since March 4, 2021."))
    done = segment([Call("top_books", {"count": 10, "order": "sales"}),
                    Call("find_reviews", {"author": "Le Guin", "since": "March 4, 2021"})])[:-1]
    # '3' is left: only top_books has a number parameter; a date's numbers went into a string.
    score, why = judge(ctx, [*done, Step(T.FUNC_NAME, "find_reviews")])
    assert score == LV.holds_none and "'3'" in why
    assert judge(ctx, [*done, Step(T.FUNC_NAME, "top_books")])[0] > LV.holds_none
    # A function without parameters is called for itself, never for a value.
    assert judge(ctx, [*done, Step(T.FUNC_NAME, "shop_hours")])[0] != LV.holds_none
    # With nothing of a kind only another function takes, the rule stays out of the way.
    first = segment([Call("top_books", {"count": 10, "order": "sales"})])[:-1]
    assert judge(ctx, [*first, Step(T.FUNC_NAME, "find_reviews")])[0] > LV.holds_none
    assert LV.uncovered_most < LV.holds_none < LV.relevant


def test_a_number_written_only_inside_a_date_does_not_fill_a_numeric_argument() -> None:
    ctx = context(BOOKS, HumanMessage("Reviews of Le Guin since March 4, 2021, and the top 3 books by sales."))
    facts = _facts(ctx)
    assert facts.dated == {"4", "2021"}
    reviews = segment([Call("find_reviews", {"author": "Le Guin", "since": "March 4, 2021"})])[:-1]
    score, why = judge(ctx, [*reviews, *opened("top_books", ("count", 4))])
    assert score == LV.partly and "date's number" in why and "'3'" in why
    assert judge(ctx, [*reviews, *opened("top_books", ("count", 3))])[0] == LV.grounded
    # A parameter named for a date's part takes it.
    year = normalize_tool({"type": "function", "function": {"name": "sales_in", "description": "Book sales of a year",
                                                            "parameters": {"type": "object", "properties": {
                                                                "year": {"type": "integer"}}, "required": ["year"]}}})
    ctx2 = context([*BOOKS, year], HumanMessage("Reviews of Le Guin since March 4, 2021, and the top 3 books."))
    assert judge(ctx2, [*reviews, *opened("sales_in", ("year", 2021))])[0] == LV.grounded


def test_an_option_the_request_names_by_its_stem_is_named_where_none_is_named_whole() -> None:
    trends = normalize_tool({"type": "function", "function": {"name": "house_price_trends", "description": "House prices",
                                                              "parameters": {"type": "object", "properties": {
                                                                  "location": {"type": "string"},
                                                                  "period": {"type": "string", "enum": [
                                                                      "Monthly", "Quarterly", "Yearly"]}},
                                                                  "required": ["location"]}}})
    ctx = context([trends], HumanMessage("The average house price in Austin over the last quarter?"))
    assert value(ctx, "period", "Quarterly", "house_price_trends") == LV.grounded
    assert value(ctx, "period", "Yearly", "house_price_trends") == LV.default
    # an option named whole wins over one a word's stem names
    ctx = context([trends], HumanMessage("The yearly average house price in Austin, reported monthly?"))
    assert value(ctx, "period", "Monthly", "house_price_trends") == LV.grounded
    assert value(ctx, "period", "Quarterly", "house_price_trends") == LV.default


def test_an_earlier_calls_value_of_the_own_part_beats_another_parts() -> None:
    def fact(name: str) -> ToolSpec:
        return normalize_tool({"type": "function", "function": {"name": name, "description": f"The {name} of a particle",
                                                                "parameters": {"type": "object", "properties": {
                                                                    "particle": {"type": "string"}, "unit": {"type": "string"}},
                                                                    "required": ["particle", "unit"]}}})
    weight, diameter = fact("getWeight"), fact("getDiameter")
    ctx = context([weight, diameter], HumanMessage("What is the weight of Neutron and Proton in amu? Also what is the "
                                                   "diameter of a Proton and Neutron in femtometers?"))
    first = segment([Call("getWeight", {"particle": "Neutron", "unit": "amu"})])[:-1]
    score, why = judge(ctx, [*first, *opened("getWeight", ("particle", "Proton"), ("unit", "femtometers"))])
    assert score == LV.partly and "an earlier call's 'amu'" in why
    assert judge(ctx, [*first, *opened("getWeight", ("particle", "Proton"), ("unit", "amu"))])[0] == LV.grounded


def test_a_part_that_names_no_function_is_the_home_of_the_one_it_is_relevant_to() -> None:
    gcd = numbers_tool("math.gcd", "Greatest common divisor of two integers", "num1", "num2")
    note = numbers_tool("music.note_duration", "Duration between two music notes", "first_note_frequency",
                        "second_note_frequency", "tempo")
    ctx = context([gcd, note], HumanMessage(
        "First, I need the greatest common divisor of two integers, 48 and 36. Lastly, for a music project, the "
        "duration between two notes: the first note frequency is 440 and the second 880, at a tempo of 100."))
    first = segment([Call("music.note_duration", {"first_note_frequency": 440, "second_note_frequency": 880,
                                                  "tempo": 100})])[:-1]
    score, why = judge(ctx, [*first, *opened("music.note_duration", ("first_note_frequency", 48))])
    assert score == LV.partly and "earlier call's 440" in why
    assert judge(ctx, [*first, *opened("math.gcd", ("num1", 48))])[0] == LV.grounded


def test_a_second_call_waits_while_another_functions_part_has_unused_values() -> None:
    gcd = numbers_tool("math.gcd", "Greatest common divisor of two integers", "num1", "num2")
    note = numbers_tool("music.note_duration", "Duration between two music notes", "first_note_frequency",
                        "second_note_frequency", "tempo")
    request = ("First, I need the greatest common divisor of two integers, 48 and 36. Lastly, for a music project, "
               "the duration between two notes: the first note frequency is 440 and the second 880, at a tempo of 100.")
    ctx = context([gcd, note], HumanMessage(request))
    music = Call("music.note_duration", {"first_note_frequency": 440, "second_note_frequency": 880, "tempo": 100})
    first = segment([music])[:-1]
    score, why = judge(ctx, [*first, Step(T.FUNC_NAME, "music.note_duration")])
    assert score == LV.called_again and "math.gcd()'s part" in why
    assert judge(ctx, [*first, Step(T.FUNC_NAME, "math.gcd")])[0] > LV.called_again
    both = segment([music, Call("math.gcd", {"num1": 48, "num2": 36})])[:-1]  # nothing waits once it is called
    assert "part of the request" not in judge(ctx, [*both, Step(T.FUNC_NAME, "music.note_duration")])[1]
    # a part that says no value of its own does not hold a second call back
    ctx = context([gcd, note], HumanMessage(request.replace("48 and 36", "the usual ones")))
    assert "part of the request" not in judge(ctx, [*first, Step(T.FUNC_NAME, "music.note_duration")])[1]


def test_a_number_that_breaks_a_pair_the_request_writes_is_not_the_calls() -> None:
    gcd = numbers_tool("gcd", "Greatest common divisor", "num1", "num2")
    lcm = numbers_tool("lcm", "Least common multiple", "num1", "num2")
    ctx = context([gcd, lcm], HumanMessage("Calculate the GCD of 96 and 128, and the LCM of 15 and 25."))
    score, why = judge(ctx, opened("gcd", ("num1", 96), ("num2", 15)))
    assert score == LV.partly and "pairs 128 with 96" in why
    assert judge(ctx, opened("gcd", ("num1", 96), ("num2", 128)))[0] == LV.grounded
    # a list longer than the function's numbers is a list of calls, and a number tied by its name stays
    area = numbers_tool("area", "Area of a rectangle", "length", "width")
    ctx = context([area], HumanMessage("The areas for lengths 5, 10 and 15 with width 3."))
    assert judge(ctx, opened("area", ("length", 5), ("width", 3)))[0] == LV.grounded
    ctx = context([area], HumanMessage("The areas for lengths 5 and 10 with width 3."))
    assert judge(ctx, opened("area", ("length", 5), ("width", 3)))[0] == LV.grounded


def test_a_number_every_part_ties_to_the_parameter_is_still_its_own_parts() -> None:
    def forecast(name: str, place: str) -> ToolSpec:
        return normalize_tool({"type": "function", "function": {"name": name, "description": f"The {name}", "parameters": {
            "type": "object", "properties": {place: {"type": "string"}, "days": {"type": "integer"}},
            "required": [place, "days"]}}})
    stock, weather = forecast("stock_forecast", "company"), forecast("weather_forecast", "location")
    ctx = context([stock, weather], HumanMessage(
        "Can you tell me the stock forecast for Apple for the next 30 days, and then provide the stock forecast for "
        "Microsoft for the next 45 days? After that, give the weather forecast for Paris for the next 7 days."))
    score, why = judge(ctx, opened("stock_forecast", ("company", "Microsoft"), ("days", 7)))
    assert score == LV.partly and "'45' of the call's own task is unused" in why
    assert judge(ctx, opened("stock_forecast", ("company", "Microsoft"), ("days", 45)))[0] == LV.grounded


def test_options_a_description_states_as_the_only_ones_are_options() -> None:
    assert stated_options("Specific property required. It can be length, width or diagonal.") == \
        ["length", "width", "diagonal"]
    assert stated_options("The team. It can be either 'men' or 'women'. Default is 'men'.") == ["men", "women"]
    assert stated_options("The era, can be 'modern', 'baroque', etc.") == ["modern", "baroque"]
    assert stated_options("The date, can be in the format YYYY-MM-DD.") == []  # one option is no choice
    rect = normalize_tool({"type": "function", "function": {
        "name": "rectangle_property", "description": "A property of a rectangle from its perimeter and area",
        "parameters": {"type": "object", "properties": {
            "perimeter": {"type": "number"}, "area": {"type": "number"},
            "property": {"type": "string", "description": "It can be length, width or diagonal."}},
            "required": ["perimeter", "area", "property"]}}})
    ctx = context([rect], HumanMessage("What are the length and the width of a rectangle with perimeter 14 and area 12?"))
    one = segment([Call("rectangle_property", {"perimeter": 14, "area": 12, "property": "length"})])
    score, why = judge(ctx, one)
    assert score < LV.uncovered_most and "width" in why


def test_options_of_one_parameter_the_request_names_are_each_owed_a_call() -> None:
    rain = normalize_tool({"type": "function", "function": {
        "name": "rainfall", "description": "Rainfall statistics of a place",
        "parameters": {"type": "object", "properties": {
            "place": {"type": "string"},
            "span": {"type": "string", "enum": ["month", "year", "ten_years"]}}, "required": ["place", "span"]}}})
    ctx = context([rain], HumanMessage("Rainfall in the Sahel for the last year and the last ten years?"))
    assert [(e.text, e.param) for e in request_entities(ctx.request, [rain]) if e.param] == \
        [("year", "span"), ("ten_years", "span")]
    one = segment([Call("rainfall", {"place": "Sahel", "span": "year"})])
    score, why = judge(ctx, one)
    assert score < LV.uncovered_most and "ten_years" in why
    assert judge(ctx, segment([Call("rainfall", {"place": "Sahel", "span": "year"}),
                               Call("rainfall", {"place": "Sahel", "span": "ten_years"})]))[0] == 1.0
    # The place again in the second call is no repeat to avoid: an option is only its own argument's.
    again = [*one[:-1], *opened("rainfall", ("place", "Sahel"))]
    assert judge(ctx, again)[0] == LV.grounded
    assert judge(ctx, [*again, Step(T.ARG_VALUE, "span", "year")])[0] == LV.partly
    # One option named, or one inside a longer one's words ("like new"), owes nothing.
    assert not [e for e in request_entities("Rainfall in the Sahel last year.", [rain]) if e.param]
    shop = normalize_tool({"type": "function", "function": {"name": "price", "description": "Price of a used game",
                                                            "parameters": {"type": "object", "properties": {
                                                                "condition": {"type": "string", "enum": ["New", "Like New"]}}}}})
    assert not [e for e in request_entities("The price of Halo in like new condition", [shop]) if e.param]
    # Options that differ only by case are three entities, each used only by its own value.
    gene = normalize_tool({"type": "function", "function": {"name": "genotype_share", "description": "Share of a genotype",
                                                            "parameters": {"type": "object", "properties": {
                                                                "genotype": {"type": "string", "enum": ["AA", "Aa", "aa"]}},
                                                                "required": ["genotype"]}}})
    three = context([gene], HumanMessage("The shares of genotypes AA, Aa and aa?"))
    assert [(e.text, e.param) for e in request_entities(three.request, [gene])] == \
        [("AA", "genotype"), ("Aa", "genotype"), ("aa", "genotype")]  # no name "AA" beside the option
    score, why = judge(three, segment([Call("genotype_share", {"genotype": "AA"})]))
    assert score < LV.uncovered_most and "'Aa'" in why and "'aa'" in why


def test_a_sign_the_request_does_not_write_before_a_value_is_no_part_of_it(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("Weather for city 546382, and for Nice at 12pm; the tag is y=3x+2."))
    for stray, sign in ((">546382", ">"), (">= 12pm", ">="), (": Nice", ":"), (">(546382)", ">")):
        assert judge(ctx, opened("get_weather", ("city", stray))) == (LV.partly, f"{STRAY_SIGN} {sign!r}")
    assert value(ctx, "city", "546382") == LV.grounded
    assert value(ctx, "tags", [">Nice"]) == LV.partly  # in a list too
    # A sign the request writes there, or signs with no word after them, are left to the other rules.
    written = context(tools, HumanMessage("Weather where the rating is >=4 and the tag is =SUM(A1)."))
    assert value(written, "city", ">= 4") == LV.grounded
    assert value(written, "tags", ["=SUM(A1)"]) == LV.grounded
    for signs in (">=", "<", ":"):
        assert not judge(ctx, opened("get_weather", ("city", signs)))[1].startswith(STRAY_SIGN)


def test_the_requests_opening_words_are_no_value(tools: list[ToolSpec]) -> None:
    ctx = context(tools, HumanMessage("Could you help me with two things? First, the weather in Paris for 3 days."))
    score, why = judge(ctx, opened("get_weather", ("city", "Could you help me with two things? First, the")))
    assert score == LV.junk and why == OPENING
    assert value(ctx, "city", "Paris") == LV.grounded
    # Two words, or a whole request of four, are not the preamble cut short.
    assert value(ctx, "city", "Could you") > LV.junk
    whole = context(tools, HumanMessage("Paris weather in May"))
    assert value(whole, "city", "Paris weather in May") > LV.junk
    # The whole request of five words or more is none either (a request quoted whole is one phrase).
    quoted = context(tools, HumanMessage("'Get the weather of Paris for the next 5 days.'"))
    assert judge(quoted, opened("get_weather", ("city", "Get the weather of Paris for the next 5 days."))) == \
        (LV.junk, OPENING)
    # A date, a time or a web address given alone to answer a question is the value itself.
    for answer in ("2023-03-15 23:59:59", "https://example.com/voice22.wav"):
        alone = context(tools, HumanMessage("The weather, please."), AIMessage("Which one?"), HumanMessage(answer))
        assert value(alone, "city", answer) > LV.junk
