"""Hand-written multi-tool questions (the project's own, from no benchmark) for one property:
the order in which tools are listed must not decide which function is called.

Each question comes with the function names a right answer calls (empty: no tool fits). The
integration test and ``benchmarks/tool_order.py`` answer every question under several
shuffles of the same tool list and compare the chosen functions.
"""

from __future__ import annotations

import random
from typing import Any, Literal

from langchain_core.tools import BaseTool, tool


@tool
def get_stock_price(symbol: str) -> str:
    """Get the latest trading price of a stock by its ticker symbol (for example AAPL or IBM)."""
    return f"{symbol}: 100.0"


@tool
def book_table(restaurant: str, people: int, time: str) -> str:
    """Book a table at a restaurant for a number of people at a given time."""
    return "booked"


@tool
def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get the current weather in a city."""
    return "sunny"


@tool
def convert_currency(amount: float, from_currency: str, to_currency: str) -> str:
    """Convert an amount of money from one currency to another (ISO codes such as USD, EUR)."""
    return "converted"


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email message to a recipient address."""
    return "sent"


@tool
def set_reminder(text: str, time: str) -> str:
    """Set a reminder with a short text at a given time."""
    return "set"


@tool
def translate_text(text: str, target_language: str) -> str:
    """Translate a text into another language."""
    return "translated"


ORDER_TOOLS: list[BaseTool] = [get_stock_price, book_table, get_weather, convert_currency, send_email,
                               set_reminder, translate_text]

ORDER_QUESTIONS: list[tuple[str, tuple[str, ...]]] = [
    ("What is Apple's stock price right now? The ticker is AAPL.", ("get_stock_price",)),
    ("Book a table for 4 at Nopa at 7pm.", ("book_table",)),
    ("Tell me a joke.", ()),
    ("What are the stock prices of MSFT and GOOG?", ("get_stock_price", "get_stock_price")),
    ("Is it raining in Berlin today?", ("get_weather",)),
    ("How many euros is 80 US dollars?", ("convert_currency",)),
    ("Email bob@example.com with the subject 'Lunch' and say I will be late.", ("send_email",)),
    ("Remind me to call mom at 6pm.", ("set_reminder",)),
    ("Translate 'good morning' into Spanish.", ("translate_text",)),
    ("Who painted the Mona Lisa?", ()),
]


def shuffles(tools: list[Any], n: int, seed: int = 0) -> list[list[Any]]:
    """``n`` orders of ``tools``: as given, reversed, then random permutations."""
    rng = random.Random(seed)
    orders = [list(tools), list(reversed(tools))]
    while len(orders) < n:
        order = list(tools)
        rng.shuffle(order)
        orders.append(order)
    return orders[:n]
