"""API-Bank's level-1 APIs (and level 2's ToolSearcher), re-implemented from their descriptions,
the recorded dialogues and the known error texts, over one episode's databases.

Each API is a function of an :class:`Episode` and its (already type-checked) arguments: it
returns the API's output or raises :class:`ApiError` with the API's own error text, which the
environment hands back as the result (API-Bank records failures the same way). APIs that called
a web service answer offline: from the database API-Bank ships for them, from the results the
level-1 dialogues recorded (Dictionary, Translate), or by the fixed answer the recordings show
(GetToday, DocumentQA). ``docs/apibank_tools.md`` lists what each one does.
"""

from __future__ import annotations

import ast
import operator
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .bm25 import BM25, tokenize
from .data import ApiSpec

DATETIME, DATE = "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"
TODAY = "2023-03-31"
"""GetToday's answer in every recorded dialogue (API-Bank fixes the date rather than read the clock)."""
VERIFICATION_CODE = 970420
"""The code ForgotPassword issues in every recorded dialogue (level 1 and level 2)."""
TOOL_SEARCHER = ApiSpec(
    "ToolSearcher", "Searches the API catalogue for the API that best matches the keywords.",
    {"keywords": {"type": "str", "description": "Keywords describing the wanted API."}},
    {"best_matches": {"type": "Union[List[dict], dict]",
                      "description": "The best matching API, preceded by GetUserToken when it takes a token."}},
)


class ApiError(Exception):
    """An API's failure; the message is the API's error text and becomes the call's result."""


@dataclass(frozen=True)
class Offline:
    """What the offline APIs answer from, built once per data folder (never written)."""

    search_engine: BM25
    documents: list[dict[str, Any]]
    tool_index: BM25
    tools: list[ApiSpec]
    dictionary: dict[str, Any]
    translations: dict[tuple[str, str], str]


@dataclass
class Episode:
    """One episode's world: its own copy of every database an API writes, the shared read-only
    ones, the seeded generator for issued identifiers, and the APIs' short-lived state."""

    db: dict[str, Any]
    offline: Offline
    rng: random.Random
    today: str = TODAY
    password_reset: str | None = None
    bank_accounts: dict[str, dict[str, str]] = field(default_factory=dict)
    outbox: list[dict[str, str]] = field(default_factory=list)


ApiFunction = Callable[..., Any]
APIS: dict[str, ApiFunction] = {}


def api(name: str) -> Callable[[ApiFunction], ApiFunction]:
    def register(fn: ApiFunction) -> ApiFunction:
        APIS[name] = fn
        return fn
    return register


# ---------------------------------------------------------------- shared checks


def parse_time(value: str, fmt: str = DATETIME) -> str:
    """``value`` in ``fmt`` (zero-padded); else Python's own parse error, as API-Bank reports it."""
    try:
        return datetime.strptime(value.strip(), fmt).strftime(fmt)
    except ValueError as exc:
        raise ApiError(str(exc)) from None


def user_of(ep: Episode, token: str) -> str:
    """The user a token belongs to. A token stops working when its account is deleted."""
    for username, account in ep.db["Account"].items():
        if account["token"] == token:
            return username
    raise ApiError("The token is invalid.")


def _next_id(table: dict[str, Any]) -> str:
    return str(max((int(k) for k in table if k.isdigit()), default=0) + 1)


def _find(table: dict[str, Any], username: str, matches: Callable[[dict[str, Any]], bool]) -> str | None:
    """The key of the user's first entry that ``matches``."""
    return next((k for k, v in table.items() if v["username"] == username and matches(v)), None)


def _not_blank(value: str, message: str) -> str:
    if not value.strip():
        raise ApiError(message)
    return value


# ---------------------------------------------------------------- accounts


@api("GetUserToken")
def get_user_token(ep: Episode, username: str, password: str) -> dict[str, str]:
    account = ep.db["Account"].get(username)
    if account is None:
        raise ApiError("The username does not exist.")
    if account["password"] != password:
        raise ApiError("The password is incorrect.")
    return {"token": account["token"]}


@api("RegisterUser")
def register_user(ep: Episode, username: str, password: str, email: str) -> dict[str, str]:
    if username in ep.db["Account"]:
        raise ApiError("The username already exists.")
    token = "".join(ep.rng.choices(string.ascii_lowercase + string.digits, k=32))
    ep.db["Account"][username] = {"password": password, "token": token, "email": email}
    return {"token": token}


@api("DeleteAccount")
def delete_account(ep: Episode, token: str) -> dict[str, str]:
    del ep.db["Account"][user_of(ep, token)]
    return {"status": "success"}


@api("ModifyPassword")
def modify_password(ep: Episode, token: str, old_password: str, new_password: str) -> dict[str, str]:
    account = ep.db["Account"][user_of(ep, token)]
    if account["password"] != old_password:
        raise ApiError("The old password is incorrect.")
    account["password"] = new_password
    return {"status": "success"}


@api("ForgotPassword")
def forgot_password(ep: Episode, status: str, username: str | None = None, email: str | None = None,
                    verification_code: int | None = None, new_password: str | None = None) -> int | str:
    """Two calls: 'Forgot Password' issues a code for the account, 'Verification Code' spends it."""
    if status == "Forgot Password":
        if username is None or email is None:
            raise ApiError("The username and email are required for the first call.")
        account = ep.db["Account"].get(username)
        if account is None:
            raise ApiError("The username does not exist.")
        if account["email"] != email:
            raise ApiError("The email is incorrect.")
        ep.password_reset = username
        return VERIFICATION_CODE
    if status == "Verification Code":
        if ep.password_reset is None or ep.password_reset not in ep.db["Account"]:
            raise ApiError("You need to call the API with status 'Forgot Password' at first.")
        if new_password is None or verification_code is None:
            raise ApiError("The new password and verification code are required for the second call.")
        if verification_code != VERIFICATION_CODE:
            raise ApiError("The verification code is incorrect.")
        ep.db["Account"][ep.password_reset]["password"] = new_password
        ep.password_reset = None
        return "success"
    raise ApiError("The status is only 'Forgot Password' or 'Verification Code'.")


# ---------------------------------------------------------------- agenda, alarms, reminders, meetings


@api("AddAgenda")
def add_agenda(ep: Episode, token: str, content: str, time: str, location: str) -> str:
    time = parse_time(time)
    _not_blank(content, "Content should not be null")
    table = ep.db["Agenda"]
    table[_next_id(table)] = {"content": content, "time": time, "location": location,
                              "username": user_of(ep, token)}
    return "success"


def _agenda(ep: Episode, token: str, content: str, time: str, missing: str) -> str:
    """The user's agenda item with this content or at this time; else the API's not-found text."""
    time = parse_time(time)
    key = _find(ep.db["Agenda"], user_of(ep, token), lambda v: v["content"] == content or v["time"] == time)
    if key is None:
        raise ApiError(f"You have no {missing} about {content}" if content.strip()
                       else f"You have no {missing} at time : {time}")
    return key


@api("DeleteAgenda")
def delete_agenda(ep: Episode, token: str, content: str, time: str, location: str) -> str:
    del ep.db["Agenda"][_agenda(ep, token, content, time, "meeting")]  # sic: DeleteAgenda says "meeting"
    return "success"


@api("ModifyAgenda")
def modify_agenda(ep: Episode, token: str, content: str, time: str, location: str) -> str:
    key = _agenda(ep, token, content, time, "agenda")
    ep.db["Agenda"][key].update(content=content, time=parse_time(time), location=location)
    return "success"


@api("QueryAgenda")
def query_agenda(ep: Episode, token: str, content: str, time: str, location: str) -> dict[str, Any]:
    return ep.db["Agenda"][_agenda(ep, token, content, time, "agenda")]


@api("AddAlarm")
def add_alarm(ep: Episode, token: str, time: str) -> str:
    time = parse_time(time)
    table = ep.db["Alarm"]
    table[_next_id(table)] = {"time": time, "username": user_of(ep, token)}
    return "success"


def _alarm(ep: Episode, token: str, time: str, message: str) -> str:
    time = parse_time(time)
    key = _find(ep.db["Alarm"], user_of(ep, token), lambda v: v["time"] == time)
    if key is None:
        raise ApiError(message.format(time=time))
    return key


@api("DeleteAlarm")
def delete_alarm(ep: Episode, token: str, time: str) -> str:
    del ep.db["Alarm"][_alarm(ep, token, time, "You have no alarm clock at time : {time}")]
    return "success"


@api("ModifyAlarm")
def modify_alarm(ep: Episode, token: str, from_time: str, to_time: str) -> str:
    to_time = parse_time(to_time)
    key = _alarm(ep, token, from_time, "You have no agenda at time : {time}")  # sic: API-Bank's text
    ep.db["Alarm"][key]["time"] = to_time
    return "success"


@api("QueryAlarm")
def query_alarm(ep: Episode, token: str, time: str) -> dict[str, Any]:
    return ep.db["Alarm"][_alarm(ep, token, time, "You have no alarm clock at time : {time}")]


def _reminder(ep: Episode, token: str, content: str, time: str) -> tuple[str | None, str, str]:
    """(key of the user's reminder with this content or at this time, username, normalised time)."""
    time = parse_time(time)
    _not_blank(content, "Content should not be null")
    username = user_of(ep, token)
    return _find(ep.db["Reminder"], username, lambda v: v["content"] == content or v["time"] == time), username, time


def _existing_reminder(ep: Episode, token: str, content: str, time: str) -> str:
    key, _, time = _reminder(ep, token, content, time)
    if key is None:
        raise ApiError(f"You have no reminder about {content} or at time : {time}")
    return key


@api("AddReminder")
def add_reminder(ep: Episode, token: str, content: str, time: str) -> str:
    _, username, time = _reminder(ep, token, content, time)
    table = ep.db["Reminder"]
    table[_next_id(table)] = {"content": content, "time": time, "username": username}
    return "success"


@api("DeleteReminder")
def delete_reminder(ep: Episode, token: str, content: str, time: str) -> str:
    del ep.db["Reminder"][_existing_reminder(ep, token, content, time)]
    return "success"


@api("ModifyReminder")
def modify_reminder(ep: Episode, token: str, content: str, time: str) -> str:
    key = _existing_reminder(ep, token, content, time)
    ep.db["Reminder"][key].update(content=content, time=parse_time(time))
    return "success"


@api("QueryReminder")
def query_reminder(ep: Episode, token: str, content: str, time: str) -> dict[str, Any]:
    return ep.db["Reminder"][_existing_reminder(ep, token, content, time)]


_MEETING = ("meeting_topic", "start_time", "end_time", "location", "attendees")


@api("AddMeeting")
def add_meeting(ep: Episode, token: str, meeting_topic: str, start_time: str, end_time: str,
                location: str, attendees: list[str]) -> str:
    start_time, end_time = parse_time(start_time), parse_time(end_time)
    _not_blank(meeting_topic, "Meeting Topic should not be null")
    table = ep.db["Meeting"]
    table[_next_id(table)] = {"meeting_topic": meeting_topic, "start_time": start_time, "end_time": end_time,
                              "location": location, "attendees": list(attendees), "username": user_of(ep, token)}
    return "success"


def _meeting(ep: Episode, token: str, meeting_topic: str, start_time: str) -> str:
    """The user's meeting on this topic or starting at this time."""
    start_time = parse_time(start_time) if start_time.strip() else ""
    if not meeting_topic.strip() and not start_time:
        raise ApiError("Meeting Topic and start_time should not be null both")
    key = _find(ep.db["Meeting"], user_of(ep, token),
                lambda v: v["meeting_topic"] == meeting_topic or v["start_time"] == start_time)
    if key is None:
        raise ApiError(f"You have no meeting about {meeting_topic}" if meeting_topic.strip()
                       else f"You have no meeting at time : {start_time}")
    return key


@api("DeleteMeeting")
def delete_meeting(ep: Episode, token: str, meeting_topic: str, start_time: str, end_time: str,
                   location: str, attendees: list[str]) -> str:
    del ep.db["Meeting"][_meeting(ep, token, meeting_topic, start_time)]
    return "success"


@api("ModifyMeeting")
def modify_meeting(ep: Episode, token: str, meeting_topic: str, start_time: str, end_time: str,
                   location: str, attendees: list[str]) -> str:
    entry = ep.db["Meeting"][_meeting(ep, token, meeting_topic, start_time)]
    values = (meeting_topic, parse_time(start_time), parse_time(end_time), location, list(attendees))
    entry.update(zip(_MEETING, values))
    return "success"


@api("QueryMeeting")
def query_meeting(ep: Episode, token: str, meeting_topic: str, start_time: str, end_time: str,
                  location: str, attendees: list[str]) -> dict[str, Any]:
    return ep.db["Meeting"][_meeting(ep, token, meeting_topic, start_time)]


# ---------------------------------------------------------------- bank, hotel, hospital, health


@api("QueryBalance")
def query_balance(ep: Episode, token: str) -> float:
    try:
        username = user_of(ep, token.strip())
    except ApiError:
        raise ApiError("The token is incorrect.") from None
    if username not in ep.db["Bank"]:
        raise ApiError("The user does not have an account.")
    return ep.db["Bank"][username]["balance"]


@api("OpenBankAccount")
def open_bank_account(ep: Episode, account: str, password: str, name: str) -> str:
    """Accounts opened in this episode; an account name already taken answers ``failed``."""
    if account in ep.bank_accounts:
        return "failed"
    ep.bank_accounts[account] = {"password": password, "name": name}
    return "success"


@api("BookHotel")
def book_hotel(ep: Episode, hotel_name: str, check_in_time: str, check_out_time: str, room_count: int,
               adult_count: int, child_count: int) -> str:
    """An order for a hotel fails when it overlaps an existing order for that hotel."""
    check_in, check_out = parse_time(check_in_time, DATE), parse_time(check_out_time, DATE)
    if adult_count > 2 and room_count == 1:
        raise ApiError("The number of adults is greater than 2. Two rooms are ordered.")
    table = ep.db["Hotel"]
    for order in table.values():
        if order["hotel_name"] == hotel_name and (order["check_in_time"] <= check_in < order["check_out_time"]
                                                  or order["check_in_time"] < check_out <= order["check_out_time"]):
            raise ApiError("The room is not available.")
    order_id = str(len(table) + 1)
    table[order_id] = {"hotel_name": hotel_name, "check_in_time": check_in, "check_out_time": check_out,
                       "room_count": room_count, "adult_count": adult_count, "child_count": child_count}
    return order_id


@api("AppointmentRegistration")
def appointment_registration(ep: Episode, patient_name: str, date: str, doctor_name: str) -> str:
    """A new 8-digit appointment ID (from the episode's seeded generator)."""
    patient_name, doctor_name = patient_name.strip(), doctor_name.strip()
    if not patient_name or not doctor_name:
        raise ApiError("Patient name or doctor name cannot be empty.")
    date = parse_time(date, DATE)
    table = ep.db["Appointments"]
    for entry in table.values():
        if entry["patient_name"] == patient_name and entry["date"] == date:
            raise ApiError("This appointment has already been registered." if entry["doctor_name"] == doctor_name
                           else "This patient has already been registered in this day.")
    appointment_id = str(ep.rng.randint(10_000_000, 99_999_999))
    while appointment_id in table:
        appointment_id = str(ep.rng.randint(10_000_000, 99_999_999))
    table[appointment_id] = {"patient_name": patient_name, "date": date, "doctor_name": doctor_name}
    return appointment_id


@api("CancelRegistration")
def cancel_registration(ep: Episode, appointment_id: str) -> str:
    if ep.db["Appointments"].pop(appointment_id.strip(), None) is None:
        raise ApiError("The appointment ID is incorrect.")
    return "success"


@api("ModifyRegistration")
def modify_registration(ep: Episode, appointment_id: str, new_appointment_date: str | None = None,
                        new_appointment_doctor: str | None = None) -> str:
    """Changes the date and/or the doctor; every given field must differ from the booking."""
    entry = ep.db["Appointments"].get(appointment_id.strip())
    if entry is None:
        raise ApiError("The appointment ID does not exist.")
    date = parse_time(new_appointment_date, DATE) if new_appointment_date is not None else None
    doctor = new_appointment_doctor.strip() if new_appointment_doctor is not None else None
    if doctor == "":
        raise ApiError("Fail because the doctor name is empty.")
    same_date, same_doctor = date in (None, entry["date"]), doctor in (None, entry["doctor_name"])
    if same_date and same_doctor:
        raise ApiError("Fail because no modification is made.")
    if date is not None and same_date:
        raise ApiError("Fail because date is not changed.")
    if doctor is not None and same_doctor:
        raise ApiError("Fail because doctor is not changed.")
    entry.update({k: v for k, v in (("date", date), ("doctor_name", doctor)) if v is not None})
    return "success"


@api("QueryRegistration")
def query_registration(ep: Episode, patient_name: str, date: str) -> dict[str, Any]:
    date, patient_name = parse_time(date, DATE), patient_name.strip()
    found = {k: v for k, v in ep.db["Appointments"].items() if v["patient_name"] == patient_name and v["date"] == date}
    if not found:
        raise ApiError("No appointments found.")
    return found


@api("RecordHealthData")
def record_health_data(ep: Episode, user_id: str, time: str, health_data: list[Any]) -> str:
    """Adds the measurements to the user's record at that time (a new record if none)."""
    user_id = user_id.strip().upper()
    if not user_id:
        raise ApiError("The user id cannot be empty.")
    time = parse_time(time)
    if not health_data:
        raise ApiError("The health data cannot be empty.")
    if not all(isinstance(d, dict) and set(d) == {"name", "value"} for d in health_data):
        raise ApiError("The health data has invalid format.")
    names = [d["name"] for d in health_data]
    if len(set(names)) != len(names):
        raise ApiError("The health data cannot contain duplicate items.")
    records = ep.db["HealthData"].setdefault(user_id, [])
    record = next((r for r in records if r["time"] == time), None)
    if record is None:
        record = {"time": time}
        records.append(record)
    record.update({d["name"]: d["value"] for d in health_data})
    return "success"


@api("QueryHealthData")
def query_health_data(ep: Episode, user_id: str, start_time: str, end_time: str) -> list[dict[str, Any]]:
    user_id = user_id.strip().upper()
    if not user_id:
        raise ApiError("The user id cannot be empty.")
    start, end = parse_time(start_time), parse_time(end_time)
    if start > end:
        raise ApiError("The start time cannot be later than the end time.")
    if user_id not in ep.db["HealthData"]:
        raise ApiError("The user id does not exist.")
    found = [r for r in ep.db["HealthData"][user_id] if start <= r["time"] <= end]
    if not found:
        raise ApiError("There is no health data in the given time span.")
    return found


def _symptom(ep: Episode, symptom: str, field_name: str) -> list[dict[str, str]]:
    key = symptom.strip().lower()
    if not key:
        raise ApiError("The symptom cannot be empty.")
    if key not in ep.db["Symptom"]:
        raise ApiError("The symptom does not exist.")
    return [{"name": d["name"], field_name: d[field_name]} for d in ep.db["Symptom"][key]]


@api("SymptomSearch")
def symptom_search(ep: Episode, symptom: str) -> list[dict[str, str]]:
    return _symptom(ep, symptom, "description")


@api("EmergencyKnowledge")
def emergency_knowledge(ep: Episode, symptom: str) -> list[dict[str, str]]:
    return _symptom(ep, symptom, "aid")


# ---------------------------------------------------------------- smart home


def _scene_name(name: str) -> str:
    return _not_blank(name, "Scene name cannot be empty.").strip().lower()


@api("QueryScene")
def query_scene(ep: Episode, name: str) -> list[dict[str, str]]:
    """Device names are stored lower-case; every recorded answer shows them title-cased."""
    devices = ep.db["Scenes"].get(_scene_name(name))
    if devices is None:
        raise ApiError("Scene not found.")
    return [{**d, "name": d["name"].title()} for d in devices]


@api("DeleteScene")
def delete_scene(ep: Episode, name: str) -> str:
    if ep.db["Scenes"].pop(_scene_name(name), None) is None:
        raise ApiError("The scene does not exist.")
    return "success"


def _device(ep: Episode, name: str, empty: str) -> tuple[str | None, str]:
    """(the TimeSwitch key for a device name, matched without case; the lower-cased name)."""
    name = _not_blank(name, empty).strip().lower()
    return next((k for k in ep.db["TimeSwitch"] if k.lower() == name), None), name


@api("TimedSwitch")
def timed_switch(ep: Episode, name: str, time: str, on: bool) -> str:
    """Schedules (or re-schedules, at the same time) a device to switch on or off."""
    key, name = _device(ep, name, "Name cannot be empty.")
    time = parse_time(time)
    timers = ep.db["TimeSwitch"].setdefault(key or name, [])
    timer = next((t for t in timers if t["time"] == time), None)
    if timer is None:
        timers.append({"time": time, "on": on})
    else:
        timer["on"] = on
    return "success"


@api("CancelTimedSwitch")
def cancel_timed_switch(ep: Episode, name: str, time: str) -> str:
    key, _ = _device(ep, name, "name cannot be empty.")
    time = parse_time(time)
    if key is None:
        raise ApiError("device name does not exist.")
    timers = ep.db["TimeSwitch"][key]
    index = next((i for i, t in enumerate(timers) if t["time"] == time), None)
    if index is None:
        raise ApiError("time does not exist.")
    del timers[index]
    return "success"


# ---------------------------------------------------------------- information


@api("QueryStock")
def query_stock(ep: Episode, stock_code: str, date: str) -> float:
    code = _not_blank(stock_code, "The stock code cannot be empty.").strip().upper()
    if code not in ep.db["Stock"]:
        raise ApiError("The stock code does not exist.")
    prices = ep.db["Stock"][code]
    date = parse_time(date, DATE)
    if date not in prices:
        raise ApiError("The stock price of this date is not maintained.")
    return prices[date]


@api("QueryHistoryToday")
def query_history_today(ep: Episode, date: str) -> list[str]:
    """Events of a day of the year (``%m-%d``; a full ``%Y-%m-%d`` date is read for its day)."""
    text = date.strip()
    day = parse_time(text, DATE)[5:] if text.count("-") == 2 else parse_time(f"2000-{text}", DATE)[5:]
    if day not in ep.db["History"]:
        raise ApiError("The date is not in the database.")
    return [f"Title: {e['Title'].strip()}, Date: {e['Date'].strip()}, Description: {e['Description'].strip()}"
            for e in ep.db["History"][day]]


@api("GetToday")
def get_today(ep: Episode) -> str:
    return ep.today


_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
}


def _arithmetic(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _arithmetic(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return float(_OPERATORS[type(node.op)](_arithmetic(node.left), _arithmetic(node.right)))
    raise ApiError("invalid formula")


@api("Calculator")
def calculator(ep: Episode, formula: str) -> float:
    """Integers with ``+ - * /`` and brackets, evaluated exactly that far (no names, no calls)."""
    try:
        return _arithmetic(ast.parse(formula.strip(), mode="eval").body)
    except (SyntaxError, ZeroDivisionError, RecursionError):
        raise ApiError("invalid formula") from None


@api("PlayMusic")
def play_music(ep: Episode, music_name: str) -> str:
    return "music://" + _not_blank(music_name, "The music name cannot be empty.").strip().lower()


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")


@api("SendEmail")
def send_email(ep: Episode, receiver: str, subject: str, content: str) -> str:
    """Nothing leaves the machine: the mail is kept in the episode's ``outbox``."""
    if not _EMAIL.fullmatch(receiver.strip()):
        raise ApiError("Email address of the receiver is invalid.")
    _not_blank(subject, "Subject cannot be empty.")
    _not_blank(content, "Content cannot be empty.")
    ep.outbox.append({"receiver": receiver.strip(), "subject": subject.strip(), "content": content.strip()})
    return "success"


@api("SearchEngine")
def search_engine(ep: Episode, keyword: str) -> list[dict[str, str]]:
    """The two stored documents that rank best by BM25 for the keyword."""
    index = ep.offline.search_engine.top(tokenize(keyword.strip()), 2)
    return [ep.offline.documents[i] for i in index]


@api("Wiki")
def wiki(ep: Episode, keyword: str) -> dict[str, str]:
    page = ep.db["Wiki"].get(keyword.replace("_", " ").strip().lower())
    if page is None:
        raise ApiError("Keyword not found.")
    return {"url": page["url"], "summary": page["summary"]}


@api("ImageCaption")
def image_caption(ep: Episode, url: str) -> str:
    url = url.strip()
    if not url.lower().endswith((".jpg", ".jpeg", ".png")):
        raise ApiError("The url should end with .jpg, .jpeg or .png.")
    caption = next((item["caption"] for item in ep.db["ImageCaptioning"] if item["url"] == url), None)
    if caption is None:
        raise ApiError("The image of this url failed to be processed.")
    return caption


@api("SpeechRecognition")
def speech_recognition(ep: Episode, url: str) -> str:
    url = url.strip()
    if not url.lower().endswith(".wav"):
        raise ApiError("The url should end with .wav.")
    if url not in ep.db["SpeechRecognition"]:
        raise ApiError("The audio of this url failed to be processed.")
    return ep.db["SpeechRecognition"][url]


@api("DocumentQA")
def document_qa(ep: Episode, url: str, question: str) -> str:
    """Known documents only; every recorded answer, even to a question the document's stored
    question list holds, is the same refusal, so that is the offline answer."""
    _not_blank(question, "The question is empty.")
    if url.strip() not in ep.db["QuestionAnswering"]:
        raise ApiError("The document of this url failed to be processed.")
    return "The question is too difficult to answer."


def dictionary_key(keyword: str) -> str:
    return keyword.replace("_", " ").strip().lower()


@api("Dictionary")
def dictionary(ep: Episode, keyword: str) -> list[dict[str, Any]]:
    """The entries the recorded dialogues looked up; any other word fails as a lookup miss did."""
    if dictionary_key(keyword) not in ep.offline.dictionary:
        raise ApiError("Failed.")
    return ep.offline.dictionary[dictionary_key(keyword)]


LANGUAGES = {
    "en": "english", "fr": "french", "es": "spanish", "de": "german", "it": "italian", "pt": "portuguese",
    "nl": "dutch", "ru": "russian", "ja": "japanese", "ko": "korean", "zh-cn": "chinese (simplified)",
    "zh-tw": "chinese (traditional)", "ar": "arabic", "hi": "hindi", "tr": "turkish", "pl": "polish",
    "sv": "swedish", "el": "greek", "he": "hebrew", "vi": "vietnamese", "th": "thai", "id": "indonesian",
}


def language_code(lang: str | None) -> str:
    """A language name or code as a code (``None``: English); else 'Language not supported.'."""
    if lang is None:
        return "en"
    lang = lang.strip().lower()
    if "chinese" in lang:
        return "zh-tw" if "traditional" in lang else "zh-cn"
    for code, name in LANGUAGES.items():
        if lang == code or name in lang:
            return code
    raise ApiError("Language not supported.")


def translation_key(src: str, tgt_lang: str | None) -> tuple[str, str]:
    return src.strip().lower(), language_code(tgt_lang)


@api("Translate")
def translate(ep: Episode, src: str, src_lang: str | None = None, tgt_lang: str | None = None) -> str:
    """The translations the recorded dialogues received (text matched without case); other text
    cannot be translated offline."""
    if src_lang is not None:
        language_code(src_lang)
    key = translation_key(src, tgt_lang)
    if key not in ep.offline.translations:
        raise ApiError("The text is not in the offline translation memory.")
    return ep.offline.translations[key]


def split_name(name: str) -> str:
    """``QueryHealthData`` -> ``query health data`` (so an API's name is searchable as words)."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower()


@api("ToolSearcher")
def tool_searcher(ep: Episode, keywords: str) -> dict[str, Any] | list[dict[str, Any]]:
    """The catalogue API ranking best by BM25 over its name and description, preceded by
    GetUserToken's description when it needs a token (level 2's retriever answers so)."""
    query = tokenize(_not_blank(keywords, "The keywords cannot be empty."))
    best = ep.offline.tool_index.top(query, 1)[0]
    if not ep.offline.tool_index.scores(query)[best]:
        raise ApiError("No API matches the keywords.")
    spec = ep.offline.tools[best]
    if "token" not in spec.input_parameters:
        return spec.to_dict()
    token_api = next(s for s in ep.offline.tools if s.name == "GetUserToken")
    return [token_api.to_dict(), spec.to_dict()]
