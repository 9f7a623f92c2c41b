"""API-Bank's level-1 APIs as tools: each API on its shipped database (a success and a failure),
tokens, argument handling, episode isolation, the LangChain/LangGraph surface and the replay of
every recorded call. All but the missing-data checks need the shared API-Bank folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from langchain_toolprm.agents.apibank import (
    APIBANK_ENV,
    ApiBankEnv,
    ApiResult,
    apibank_dir,
    catalogue,
    level1_specs,
)
from langchain_toolprm.agents.apibank.bm25 import BM25, tokenize
from langchain_toolprm.agents.apibank.env import READ_ONLY, WRITABLE
from langchain_toolprm.agents.apibank.replay import replay, table
from langchain_toolprm.data.records import DataFileError
from langchain_toolprm.testing import needs_apibank_data

DATA = apibank_dir()
needs_data = needs_apibank_data()

JOHN, JANE, NEWUSER, USER2, USER3, USER4 = ("a9s8d7f6g5h4j3k2l1", "o8i7u6y5t4r3e2w1q0", "l9k8j7h6g5f4d3s2a1",
                                            "o9i8u7y6t5r4e3w2q1", "p9o8i7u6y5t4r3e2w1q", "q9w8e7r6t5y4u3i2o1")
BAD = "not-a-token"
MEETING = {"meeting_topic": "New Employee Orientation", "start_time": "2023-03-27 09:00:00",
           "end_time": "2023-03-27 11:00:00", "location": "Training Room", "attendees": ["David Wang"]}
NO_MEETING = {**MEETING, "meeting_topic": "Picnic", "start_time": "2023-01-01 09:00:00"}
HOTEL = {"hotel_name": "Hilton", "check_in_time": "2023-06-01", "check_out_time": "2023-06-10",
         "room_count": 2, "adult_count": 4, "child_count": 2}
TOO_LATE = "2020-01-01 00:00:00"
BAD_TIME = "time data 'tomorrow' does not match format '%Y-%m-%d %H:%M:%S'"

# (API, arguments, expected output) on a fresh episode
SUCCEEDS: list[tuple[str, dict[str, Any], Any]] = [
    ("GetUserToken", {"username": "JohnDoe", "password": "pass123"}, {"token": JOHN}),
    ("DeleteAccount", {"token": USER3}, {"status": "success"}),
    ("ModifyPassword", {"token": USER2, "old_password": "user2pass", "new_password": "x"}, {"status": "success"}),
    ("ForgotPassword", {"status": "Forgot Password", "username": "JohnDoe", "email": "johndoe@example.com"}, 970420),
    ("AddAgenda", {"token": JOHN, "content": "Lunch", "time": "2023-04-01 12:00:00", "location": "Cafe"}, "success"),
    ("DeleteAgenda", {"token": JANE, "content": "Gym workout", "time": TOO_LATE, "location": ""}, "success"),
    ("ModifyAgenda", {"token": NEWUSER, "content": "Pick up dry cleaning", "time": "2023-03-22 14:00:00",
                      "location": "Laundry"}, "success"),
    ("QueryAgenda", {"token": JOHN, "content": "Meeting with client", "time": TOO_LATE, "location": ""},
     {"content": "Meeting with client", "time": "2023-03-18", "location": "123 Main St", "username": "JohnDoe"}),
    ("AddAlarm", {"token": JOHN, "time": "2023-04-01 07:00:00"}, "success"),
    ("DeleteAlarm", {"token": JANE, "time": "2023-03-20 06:30:00"}, "success"),
    ("ModifyAlarm", {"token": JOHN, "from_time": "2023-03-16 07:00:00", "to_time": "2023-03-16 07:15:00"}, "success"),
    ("QueryAlarm", {"token": JANE, "time": "2023-03-20 06:30:00"},
     {"time": "2023-03-20 06:30:00", "username": "JaneSmith"}),
    ("AddReminder", {"token": JOHN, "content": "Call mom", "time": "2023-04-01 10:00:00"}, "success"),
    ("DeleteReminder", {"token": USER4, "content": "Call dentist", "time": TOO_LATE}, "success"),
    ("ModifyReminder", {"token": USER3, "content": "Submit documents", "time": "2023-03-25 14:00:00"}, "success"),
    ("QueryReminder", {"token": JOHN, "content": "Call mom", "time": TOO_LATE},
     {"content": "Call mom", "time": "2023-03-16 14:30:00", "username": "JohnDoe"}),
    ("AddMeeting", {"token": JOHN, **MEETING}, "success"),
    ("DeleteMeeting", {"token": NEWUSER, **MEETING}, "success"),
    ("ModifyMeeting", {"token": NEWUSER, **MEETING}, "success"),
    ("QueryMeeting", {"token": USER2, **NO_MEETING, "meeting_topic": "Design Team Meeting"},
     {"meeting_topic": "Design Team Meeting", "start_time": "2023-03-26 11:00:00", "end_time": "2023-03-26 13:00:00",
      "location": "Design Studio", "attendees": ["Lucas Wang", "Michelle Chen"], "username": "user2"}),
    ("QueryBalance", {"token": JOHN}, 2739.25),
    ("OpenBankAccount", {"account": "acc1", "password": "pw", "name": "John"}, "success"),
    ("BookHotel", HOTEL, "11"),
    ("CancelRegistration", {"appointment_id": "90123456"}, "success"),
    ("ModifyRegistration", {"appointment_id": "90123456", "new_appointment_date": "2023-10-15",
                            "new_appointment_doctor": "Dr. Lee"}, "success"),
    ("QueryRegistration", {"patient_name": "Olivia Davis", "date": "2023-10-10"},
     {"90123456": {"patient_name": "Olivia Davis", "date": "2023-10-10", "doctor_name": "Dr. Smith"}}),
    ("RecordHealthData", {"user_id": "u1", "time": "2023-03-01 10:00:00",
                          "health_data": [{"name": "heart_rate", "value": "80"}]}, "success"),
    ("QueryHealthData", {"user_id": "a12345", "start_time": "2023-03-01 00:00:00", "end_time": "2023-03-31 00:00:00"},
     [{"time": "2023-03-15 10:30:00", "blood_pressure": [120, 80], "heart_rate": 80}]),
    ("SymptomSearch", {"symptom": "Abdominal pain"},
     [{"name": "Gastritis", "description": "An inflammation of the stomach lining that can cause abdominal pain, "
                                           "nausea, and other symptoms."},
      {"name": "Irritable bowel syndrome", "description": "A chronic digestive disorder characterized by "
                                                          "abdominal pain, bloating, and changes in bowel habits."}]),
    ("EmergencyKnowledge", {"symptom": "HEADACHE"}, [
        {"name": "Migraine", "aid": "Treatment may involve medications to manage symptoms and prevent attacks, "
                                    "lifestyle changes to avoid triggers, and in some cases, preventive medications."},
        {"name": "Tension headache", "aid": "Treatment may involve over-the-counter pain relievers, lifestyle "
                                            "changes, and stress management techniques."},
        {"name": "Cluster headache", "aid": "Treatment may involve medications to manage symptoms and prevent "
                                            "attacks, as well as oxygen therapy and nerve blocks in some cases."}]),
    ("QueryScene", {"name": "Bedtime"}, [{"name": "Air Conditioner", "description": "Smart air conditioner in the bedroom"},
                                         {"name": "Humidifier", "description": "Smart humidifier in the bedroom"}]),
    ("DeleteScene", {"name": " Movie Time "}, "success"),
    ("TimedSwitch", {"name": "Light", "time": "2023-04-01 19:00:00", "on": True}, "success"),
    ("CancelTimedSwitch", {"name": "Range Hood", "time": "2023-03-19 09:30:00"}, "success"),
    ("QueryStock", {"stock_code": "sq", "date": "2022-03-15"}, 250.3),
    ("GetToday", {}, "2023-03-31"),
    ("Calculator", {"formula": "(5+6)*3 - 7/2"}, 29.5),
    ("PlayMusic", {"music_name": "Shape of You"}, "music://shape of you"),
    ("SendEmail", {"receiver": "john@example.com", "subject": "Hi", "content": "Lunch?"}, "success"),
    ("Wiki", {"keyword": "Black_Hole"}, None),  # checked below: the page's url and summary only
    ("ImageCaption", {"url": "http://l7.alamy.com/zooms/278b12a987734ec285da7155397e0d0a/"
                             "an-airplane-takes-off-from-terminal-1-at-manchester-international-h4b040.jpg"},
     "an airplane takes off taken on a cloudy autumn evening"),
    ("SpeechRecognition", {"url": "https://example.com/voice22.wav"}, "What's the best way to get to the beach from here?"),
    ("DocumentQA", {"url": "https://www.example.com/article-4.txt", "question": "Who wrote it?"},
     "The question is too difficult to answer."),
    ("Translate", {"src": "Hello", "tgt_lang": "Spanish"}, "Hola"),
]

# (API, arguments, expected error text) on a fresh episode
FAILS: list[tuple[str, dict[str, Any], str]] = [
    ("GetUserToken", {"username": "JohnDoe", "password": "wrong"}, "The password is incorrect."),
    ("RegisterUser", {"username": "JohnDoe", "password": "x", "email": "x@y.z"}, "The username already exists."),
    ("DeleteAccount", {"token": BAD}, "The token is invalid."),
    ("ModifyPassword", {"token": USER2, "old_password": "wrong", "new_password": "x"}, "The old password is incorrect."),
    ("ForgotPassword", {"status": "Forgot Password", "username": "JohnDoe", "email": "x@y.z"}, "The email is incorrect."),
    ("AddAgenda", {"token": JOHN, "content": "Lunch", "time": "tomorrow", "location": "Cafe"}, BAD_TIME),
    ("DeleteAgenda", {"token": JANE, "content": "Party", "time": TOO_LATE, "location": ""}, "You have no meeting about Party"),
    ("ModifyAgenda", {"token": JOHN, "content": "Party", "time": TOO_LATE, "location": ""}, "You have no agenda about Party"),
    ("QueryAgenda", {"token": JOHN, "content": "", "time": TOO_LATE, "location": ""},
     f"You have no agenda at time : {TOO_LATE}"),
    ("AddAlarm", {"token": BAD, "time": "2023-04-01 07:00:00"}, "The token is invalid."),
    ("DeleteAlarm", {"token": JOHN, "time": "2023-03-20 06:30:00"}, "You have no alarm clock at time : 2023-03-20 06:30:00"),
    ("ModifyAlarm", {"token": JOHN, "from_time": TOO_LATE, "to_time": "2023-03-16 07:15:00"},
     f"You have no agenda at time : {TOO_LATE}"),
    ("QueryAlarm", {"token": JOHN, "time": TOO_LATE}, f"You have no alarm clock at time : {TOO_LATE}"),
    ("AddReminder", {"token": JOHN, "content": " ", "time": "2023-04-01 10:00:00"}, "Content should not be null"),
    ("DeleteReminder", {"token": JOHN, "content": "Swim", "time": TOO_LATE},
     f"You have no reminder about Swim or at time : {TOO_LATE}"),
    ("ModifyReminder", {"token": BAD, "content": "Swim", "time": TOO_LATE}, "The token is invalid."),
    ("QueryReminder", {"token": JOHN, "content": "Swim", "time": TOO_LATE},
     f"You have no reminder about Swim or at time : {TOO_LATE}"),
    ("AddMeeting", {"token": JOHN, **MEETING, "meeting_topic": ""}, "Meeting Topic should not be null"),
    ("DeleteMeeting", {"token": NEWUSER, **MEETING, "meeting_topic": "", "start_time": ""},
     "Meeting Topic and start_time should not be null both"),
    ("ModifyMeeting", {"token": NEWUSER, **NO_MEETING}, "You have no meeting about Picnic"),
    ("QueryMeeting", {"token": JOHN, **NO_MEETING, "meeting_topic": ""},
     "You have no meeting at time : 2023-01-01 09:00:00"),
    ("QueryBalance", {"token": BAD}, "The token is incorrect."),
    ("BookHotel", {**HOTEL, "check_in_time": "2023-04-02", "check_out_time": "2023-04-04"}, "The room is not available."),
    ("AppointmentRegistration", {"patient_name": "Olivia Davis", "date": "2023-10-10", "doctor_name": "Dr. Smith"},
     "This appointment has already been registered."),
    ("CancelRegistration", {"appointment_id": "1"}, "The appointment ID is incorrect."),
    ("ModifyRegistration", {"appointment_id": "90123456", "new_appointment_date": "2023-10-10",
                            "new_appointment_doctor": "Dr. Lee"}, "Fail because date is not changed."),
    ("QueryRegistration", {"patient_name": "Olivia Davis", "date": "2023-10-11"}, "No appointments found."),
    ("RecordHealthData", {"user_id": "u1", "time": "2023-03-01 10:00:00", "health_data": "[{'name': 'x'}]"},
     "The health data has invalid format."),
    ("QueryHealthData", {"user_id": "A12345", "start_time": "2023-03-31 00:00:00", "end_time": "2023-03-01 00:00:00"},
     "The start time cannot be later than the end time."),
    ("SymptomSearch", {"symptom": "itchy elbow"}, "The symptom does not exist."),
    ("EmergencyKnowledge", {"symptom": ""}, "The symptom cannot be empty."),
    ("QueryScene", {"name": "Party"}, "Scene not found."),
    ("DeleteScene", {"name": "Party"}, "The scene does not exist."),
    ("TimedSwitch", {"name": "light", "time": "tomorrow", "on": True}, BAD_TIME),
    ("CancelTimedSwitch", {"name": "range hood", "time": TOO_LATE}, "time does not exist."),
    ("QueryStock", {"stock_code": "SQ", "date": "2023-01-01"}, "The stock price of this date is not maintained."),
    ("QueryHistoryToday", {"date": "01-01"}, "The date is not in the database."),
    ("GetToday", {"date": "today"}, "invalid parameter name. parameter: date"),
    ("Calculator", {"formula": "__import__('os')"}, "invalid formula"),
    ("PlayMusic", {"music_name": " "}, "The music name cannot be empty."),
    ("SendEmail", {"receiver": "john", "subject": "Hi", "content": "Lunch?"}, "Email address of the receiver is invalid."),
    ("SearchEngine", {}, "missing required parameter(s): keyword"),
    ("Wiki", {"keyword": "Atlantis"}, "Keyword not found."),
    ("ImageCaption", {"url": "https://example.com/cat.gif"}, "The url should end with .jpg, .jpeg or .png."),
    ("SpeechRecognition", {"url": "https://example.com/voice999.wav"}, "The audio of this url failed to be processed."),
    ("DocumentQA", {"url": "https://www.example.com/article-99.txt", "question": "Who?"},
     "The document of this url failed to be processed."),
    ("Dictionary", {"keyword": "zyzzyva"}, "Failed."),
    ("Translate", {"src": "Hello", "tgt_lang": "Klingon"}, "Language not supported."),
    ("ToolSearcher", {"keywords": "zzzz"}, "No API matches the keywords."),
]


@pytest.fixture()
def env() -> ApiBankEnv:
    return ApiBankEnv()


def test_missing_data_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"init_database/Account\.json"):
        ApiBankEnv(tmp_path)
    (tmp_path / "init_database").mkdir()
    for name in WRITABLE + READ_ONLY:
        (tmp_path / "init_database" / f"{name}.json").write_text("{}")
    with pytest.raises(DataFileError, match=r"test/level-1-api\.json"):
        ApiBankEnv(tmp_path)
    (tmp_path / "bad" / "init_database").mkdir(parents=True)
    (tmp_path / "bad" / "init_database" / "Account.json").write_text("{")
    with pytest.raises(DataFileError, match=r"Account\.json: not valid JSON"):
        ApiBankEnv(tmp_path / "bad")


def test_data_folder_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(APIBANK_ENV, str(tmp_path))
    assert apibank_dir() == tmp_path
    assert apibank_dir("elsewhere") == Path("elsewhere")


def test_bm25_ranks_the_document_with_the_rarer_term_first() -> None:
    index = BM25([tokenize("the cat sat"), tokenize("the dog sat"), tokenize("the bird flew")])
    assert index.top(tokenize("The DOG"), 2) == [1, 0]
    assert index.scores(tokenize("fish")) == [0.0, 0.0, 0.0]


@needs_data
def test_every_level1_api_is_a_tool_with_its_described_parameters(env: ApiBankEnv) -> None:
    specs = level1_specs()
    assert len(specs) == 49
    tested = {name for name, _, _ in SUCCEEDS + FAILS}
    assert tested == set(env.specs), set(env.specs) ^ tested  # every API has a case
    assert set(catalogue()) > set(specs)  # the catalogue adds level-2-only APIs
    tools = {t.name: t for t in env.tools}
    assert set(tools) == set(specs) | {"ToolSearcher"}
    assert tools["ForgotPassword"].tool_call_schema["required"] == ["status"]
    assert tools["Translate"].tool_call_schema["required"] == ["src"]
    book = tools["BookHotel"].args
    assert book["room_count"]["type"] == "integer" and book["hotel_name"]["type"] == "string"
    assert tools["AddMeeting"].args["attendees"] == {
        "type": "array", "items": {"type": "string"},
        "description": "The attendees of the meeting, including names, positions and other information."}


@needs_data
@pytest.mark.parametrize(("name", "args", "expected"), SUCCEEDS, ids=[c[0] for c in SUCCEEDS])
def test_api_succeeds_on_its_database(env: ApiBankEnv, name: str, args: dict[str, Any], expected: Any) -> None:
    result = env.execute(name, args)
    assert result.exception is None, result
    if name == "Wiki":
        assert result.output["url"] == "https://en.wikipedia.org/wiki/Black_hole"
        assert set(result.output) == {"url", "summary"} and result.output["summary"].startswith("A black hole")
    else:
        assert result.output == expected


@needs_data
@pytest.mark.parametrize(("name", "args", "error"), FAILS, ids=[c[0] for c in FAILS])
def test_api_failure_is_its_error_text(env: ApiBankEnv, name: str, args: dict[str, Any], error: str) -> None:
    result = env.execute(name, args)
    assert (result.output, result.exception, result.text) == (None, error, error)


@needs_data
def test_writes_land_in_the_episode_database(env: ApiBankEnv) -> None:
    db = env.databases
    env.execute("AddAlarm", {"token": JOHN, "time": "2023-4-1 7:00:00"})
    assert db["Alarm"]["11"] == {"time": "2023-04-01 07:00:00", "username": "JohnDoe"}
    env.execute("ModifyAlarm", {"token": JOHN, "from_time": "2023-03-16 07:00:00", "to_time": "2023-03-16 08:00:00"})
    assert db["Alarm"]["1"]["time"] == "2023-03-16 08:00:00"
    env.execute("DeleteScene", {"name": "Bedtime"})
    assert "bedtime" not in db["Scenes"]
    assert env.execute("QueryScene", {"name": "bedtime"}).exception == "Scene not found."
    env.execute("TimedSwitch", {"name": "Coffee Maker", "time": "2023-03-22 11:30:00", "on": False})
    assert db["TimeSwitch"]["coffee Maker"] == [{"time": "2023-03-22 11:30:00", "on": False}]
    env.execute("RecordHealthData", {"user_id": "a12345", "time": "2023-03-15 10:30:00",
                                     "health_data": [{"name": "weight", "value": "70"}]})
    assert db["HealthData"]["A12345"][0]["weight"] == "70"
    assert env.execute("BookHotel", HOTEL).output == "11"
    assert env.execute("BookHotel", HOTEL).exception == "The room is not available."
    assert env.execute("BookHotel", {**HOTEL, "room_count": 1}).exception == (
        "The number of adults is greater than 2. Two rooms are ordered.")
    assert env.execute("OpenBankAccount", {"account": "a", "password": "p", "name": "n"}).output == "success"
    assert env.execute("OpenBankAccount", {"account": "a", "password": "q", "name": "m"}).output == "failed"
    env.execute("SendEmail", {"receiver": "a@b.co", "subject": " S ", "content": "C"})
    assert env.episode.outbox == [{"receiver": "a@b.co", "subject": "S", "content": "C"}]


@needs_data
def test_tokens_issued_changed_and_expired(env: ApiBankEnv) -> None:
    token = env.execute("RegisterUser", {"username": "ann", "password": "pw", "email": "ann@example.com"}).output["token"]
    assert len(token) == 32 and token == ApiBankEnv(seed=0).execute(
        "RegisterUser", {"username": "bob", "password": "pw", "email": "b@example.com"}).output["token"]
    assert env.execute("GetUserToken", {"username": "ann", "password": "pw"}).output == {"token": token}
    assert env.execute("AddReminder", {"token": token, "content": "Run", "time": "2023-04-01 06:00:00"}).ok
    assert env.execute("QueryBalance", {"token": token}).exception == "The user does not have an account."
    assert env.execute("ModifyPassword", {"token": token, "old_password": "pw", "new_password": "pw2"}).ok
    assert env.execute("GetUserToken", {"username": "ann", "password": "pw"}).exception == "The password is incorrect."
    assert env.execute("DeleteAccount", {"token": token}).output == {"status": "success"}
    # a deleted account's token has expired everywhere
    assert env.execute("QueryReminder", {"token": token, "content": "Run", "time": TOO_LATE}).exception == (
        "The token is invalid.")
    assert env.execute("DeleteAccount", {"token": token}).exception == "The token is invalid."
    assert env.execute("QueryBalance", {"token": token}).exception == "The token is incorrect."
    assert env.execute("GetUserToken", {"username": "ann", "password": "pw2"}).exception == "The username does not exist."


@needs_data
def test_forgot_password_takes_two_calls(env: ApiBankEnv) -> None:
    second = {"status": "Verification Code", "verification_code": "970420", "new_password": "fresh"}
    assert env.execute("ForgotPassword", second).exception == (
        "You need to call the API with status 'Forgot Password' at first.")
    env.execute("ForgotPassword", {"status": "Forgot Password", "username": "foo", "email": "foo@example.com"})
    assert env.execute("ForgotPassword", {**second, "verification_code": 1}).exception == (
        "The verification code is incorrect.")
    assert env.execute("ForgotPassword", second).output == "success"
    assert env.execute("GetUserToken", {"username": "foo", "password": "fresh"}).output == {"token": "z9x8c7v6b5n4m3q2w1"}
    assert env.execute("ForgotPassword", {"status": "Reset"}).exception == (
        "The status is only 'Forgot Password' or 'Verification Code'.")


@needs_data
def test_appointments_registered_modified_and_cancelled(env: ApiBankEnv) -> None:
    booking = {"patient_name": "Ann Lee", "date": "2023-05-01", "doctor_name": "Dr. Kim"}
    appointment_id = env.execute("AppointmentRegistration", booking).output
    assert len(appointment_id) == 8 and appointment_id.isdigit()
    assert env.execute("AppointmentRegistration", {**booking, "doctor_name": "Dr. Wu"}).exception == (
        "This patient has already been registered in this day.")
    assert env.execute("ModifyRegistration", {"appointment_id": appointment_id, "new_appointment_date": "2023-05-01",
                                              "new_appointment_doctor": "Dr. Kim"}).exception == (
        "Fail because no modification is made.")
    assert env.execute("ModifyRegistration", {"appointment_id": appointment_id, "new_appointment_date": "2023-05-02",
                                              "new_appointment_doctor": "Dr. Kim"}).exception == (
        "Fail because doctor is not changed.")
    assert env.execute("ModifyRegistration", {"appointment_id": appointment_id, "new_appointment_date": "2023-05-02",
                                              "new_appointment_doctor": "Dr. Wu"}).ok
    assert env.execute("QueryRegistration", {"patient_name": "Ann Lee", "date": "2023-05-02"}).output == {
        appointment_id: {"patient_name": "Ann Lee", "date": "2023-05-02", "doctor_name": "Dr. Wu"}}
    assert env.execute("CancelRegistration", {"appointment_id": appointment_id}).ok
    assert env.execute("CancelRegistration", {"appointment_id": appointment_id}).exception == (
        "The appointment ID is incorrect.")


@needs_data
def test_offline_information_apis(env: ApiBankEnv) -> None:
    found = env.execute("SearchEngine", {"keyword": "the sustainable development"}).output
    assert [d["title"] for d in found] == ["What Are the Sustainable Development Goals?",
                                           "Role of Education in Achieving the Sustainable Development Goals"]
    history = env.execute("QueryHistoryToday", {"date": "2023-12-10"}).output
    assert history[0].startswith("Title: The Nobel Peace Prize is Awarded to Barack Obama, Date: 2009-12-10, ")
    assert env.execute("QueryHistoryToday", {"date": "12-10"}).output == history
    assert "glut" in env.execute("Dictionary", {"keyword": " Plethora "}).output[0]["synonyms"]
    assert env.execute("Translate", {"src": "hello", "tgt_lang": "fr"}).output == "Bonjour"
    assert env.execute("Translate", {"src": "Good night", "tgt_lang": "fr"}).exception == (
        "The text is not in the offline translation memory.")
    assert env.execute("Calculator", {"formula": "-(2+3)*4"}).output == -20.0
    for bad in ("1/0", "2**3", "1.5+1", "abs(1)", "(1+"):
        assert env.execute("Calculator", {"formula": bad}).exception == "invalid formula", bad
    assert env.execute("QueryStock", {"stock_code": "XYZ", "date": "2022-03-15"}).exception == (
        "The stock code does not exist.")
    assert env.execute("ImageCaption", {"url": "https://example.com/none.jpg"}).exception == (
        "The image of this url failed to be processed.")
    assert env.execute("CancelTimedSwitch", {"device_id": "10000025", "time": "2023-03-19 09:30:00"}).exception == (
        "device name does not exist.")


@needs_data
def test_tool_searcher_ranks_the_runnable_apis() -> None:
    env = ApiBankEnv()
    assert env.execute("ToolSearcher", {"keywords": "query stock price"}).output["name"] == "QueryStock"
    with_token = env.execute("ToolSearcher", {"keywords": "add an alarm"}).output
    assert [d["name"] for d in with_token] == ["GetUserToken", "AddAlarm"]
    assert with_token[1] == env.specs["AddAlarm"].to_dict()
    weather = {"keywords": "weather forecast"}
    assert env.execute("ToolSearcher", weather).exception == "No API matches the keywords."
    assert ApiBankEnv(search_catalogue=True).execute("ToolSearcher", weather).output["name"] == "QueryWeather"


@needs_data
def test_arguments_are_read_as_api_bank_reads_them(env: ApiBankEnv) -> None:
    result = env.execute("BookHotel", {**HOTEL, "room_count": "2", "adult_count": "4", "child_count": "0"})
    assert result.output == "11" and result.input["room_count"] == 2
    result = env.execute("AddMeeting", {"token": JOHN, **MEETING, "attendees": "['Ann', 'Bo']"})
    assert result.ok and env.databases["Meeting"]["11"]["attendees"] == ["Ann", "Bo"]
    result = env.execute("TimedSwitch", {"device_id": "fan", "time": "2023-04-01 19:00:00", "on": "False"})
    assert result.input == {"name": "fan", "time": "2023-04-01 19:00:00", "on": False}
    assert env.databases["TimeSwitch"]["fan"] == [{"time": "2023-04-01 19:00:00", "on": False}]
    assert env.execute("Nope", {}).exception == "invalid tool name."
    assert env.execute("BookHotel", {**HOTEL, "room_count": "two"}).exception == "invalid parameter type. parameter: two"
    assert env.execute("QueryStock", {"stock_code": ["SQ"], "date": "2022-03-15"}).exception == (
        "invalid parameter type. parameter: ['SQ']")
    assert env.execute("QueryStock", {"stock_code": "SQ"}).exception == "missing required parameter(s): date"


@needs_data
def test_episodes_are_isolated_and_the_shared_files_untouched(env: ApiBankEnv) -> None:
    files = sorted((DATA / "init_database").glob("*.json"))
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert env.execute("DeleteAccount", {"token": JOHN}).ok
    assert env.execute("DeleteScene", {"name": "bedtime"}).ok
    assert env.execute("AddAgenda", {"token": JANE, "content": "X", "time": "2023-04-01 12:00:00", "location": "Y"}).ok
    agenda = env.execute("QueryAgenda", {"token": JANE, "content": "X", "time": TOO_LATE, "location": ""}).output
    agenda["content"] = "changed by the caller"  # results are copies
    assert env.databases["Agenda"]["11"]["content"] == "X"
    found = env.execute("SearchEngine", {"keyword": "technology"}).output
    found[0]["title"] = "changed by the caller"  # also for the shared read-only databases
    fresh = ApiBankEnv()
    assert fresh.execute("GetUserToken", {"username": "JohnDoe", "password": "pass123"}).output == {"token": JOHN}
    assert fresh.execute("QueryScene", {"name": "bedtime"}).ok
    assert "11" not in fresh.databases["Agenda"]
    assert fresh.execute("SearchEngine", {"keyword": "technology"}).output[0]["title"] != "changed by the caller"
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files} == before
    assert "JohnDoe" in json.loads((DATA / "init_database" / "Account.json").read_text())


@needs_data
def test_tools_answer_bad_calls_without_stopping_a_graph() -> None:
    env = ApiBankEnv()
    graph = StateGraph(MessagesState)
    graph.add_node("tools", ToolNode(env.tools))
    graph.add_edge(START, "tools")
    graph.add_edge("tools", END)
    calls = [
        {"name": "QueryStock", "args": {"stock_code": {"x": 1}}, "id": "1"},
        {"name": "GetUserToken", "args": {"username": "JohnDoe", "password": "pass123"}, "id": "2"},
        {"name": "Calculator", "args": {"formula": "(5+6)*3"}, "id": "3"},
    ]
    out = graph.compile().invoke({"messages": [AIMessage("", tool_calls=calls)]})["messages"][1:]
    assert all(isinstance(m, ToolMessage) for m in out)
    assert [m.content for m in out] == ["invalid parameter type. parameter: {'x': 1}",
                                        json.dumps({"token": JOHN}), "33.0"]
    assert isinstance(out[2].artifact, ApiResult) and out[2].artifact.to_dict() == {
        "api_name": "Calculator", "input": {"formula": "(5+6)*3"}, "output": 33.0, "exception": None}


@needs_data
def test_replay_reproduces_the_recorded_results() -> None:
    replayed = replay()
    assert len(replayed) == 172
    by_verdict: dict[str, list[str]] = {}
    for r in replayed:
        by_verdict.setdefault(r.verdict, []).append(r.call.api_name)
    assert len(by_verdict["exact"]) == 161
    assert sorted(by_verdict["random id"]) == ["AppointmentRegistration"] * 3 + ["RegisterUser"] * 3
    # recorded against device ID 10000025, which the name-keyed TimeSwitch database does not hold
    assert by_verdict["differs"] == ["CancelTimedSwitch"] * 5
    assert table(replayed).splitlines()[-1] == "| **all 49 APIs** | 172 | 161 | 6 | 5 |"
