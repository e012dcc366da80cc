"""Ordinary mistakes, made as an operator makes them: the real `schedcu` command in its own process. Each
ends with one line on stderr that says what is wrong and how to fix it, never a traceback, and the
documented exit status: 2 usage, 3 infrastructure, 1 failure."""

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from schedcu.runtime.processes import schedcu_command
from schedcu.views.ods_writer import write_ods

UNREACHABLE_BROKER = "amqp://guest:s3cret-pw@127.0.0.1:1/"
SUBMIT = ("--group", "north", "--amion-account", "north")


def schedcu(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        schedcu_command(*args),
        env={**os.environ, "SCHEDCU_AMQP_URL": UNREACHABLE_BROKER, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line(done: subprocess.CompletedProcess[str], status: int, *words: str) -> str:
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert done.returncode == status, done.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = tmp_path / "template.ods"
    path.write_bytes(write_ods([("Sheet1", [["Monday"]])]))
    return path


def test_a_missing_template_is_a_usage_error(tmp_path: Path) -> None:
    done = schedcu("submit", str(tmp_path / "nope.ods"), "--start", "2026-03-01", "--end", "2026-03-31", *SUBMIT)
    assert_one_line(done, 2, "nope.ods", "does not exist")


def test_a_folder_given_as_template_is_a_usage_error(tmp_path: Path) -> None:
    done = schedcu("submit", str(tmp_path), "--start", "2026-03-01", "--end", "2026-03-31", *SUBMIT)
    assert_one_line(done, 2, "is a folder")


def test_an_end_before_the_start_is_refused_before_publishing(template: Path) -> None:
    done = schedcu("submit", str(template), "--start", "2026-03-31", "--end", "2026-03-01", *SUBMIT)
    assert_one_line(done, 2, "ends (2026-03-01) before it starts (2026-03-31)")


def test_a_five_year_period_is_refused_before_publishing(template: Path) -> None:
    done = schedcu("submit", str(template), "--start", "2026-01-01", "--end", "2030-12-31", *SUBMIT)
    assert_one_line(done, 2, "longer than 400 days")


def test_a_text_file_named_ods_is_refused_before_publishing(tmp_path: Path) -> None:
    fake = tmp_path / "notes.ods"
    fake.write_text("not a spreadsheet\n", encoding="utf-8")
    done = schedcu("submit", str(fake), "--start", "2026-03-01", "--end", "2026-03-31", *SUBMIT)
    assert_one_line(done, 2, "notes.ods is not an ODS spreadsheet")


def test_a_template_over_the_size_limit_is_refused(template: Path) -> None:
    done = schedcu(
        "submit", str(template), "--start", "2026-03-01", "--end", "2026-03-31", *SUBMIT,
        env={"SCHEDCU_MAX_TEMPLATE_BYTES": "100"},
    )  # fmt: skip
    assert_one_line(done, 2, "over the limit of 100", "SCHEDCU_MAX_TEMPLATE_BYTES")


def test_an_unknown_amion_account_is_refused_when_the_settings_list_accounts(template: Path) -> None:
    done = schedcu(
        "submit", str(template), "--start", "2026-03-01", "--end", "2026-03-31", *SUBMIT,
        env={"SCHEDCU_AMION_ACCOUNTS": '{"south": {}, "west": {}}'},
    )  # fmt: skip
    assert_one_line(done, 2, "unknown Amion account 'north'", "south, west")


def test_submit_to_an_unreachable_broker_names_the_setting_and_hides_the_password(template: Path) -> None:
    done = schedcu("submit", str(template), "--start", "2026-03-01", "--end", "2026-03-31", *SUBMIT)
    line = assert_one_line(done, 3, "RabbitMQ at 127.0.0.1:1", "SCHEDCU_AMQP_URL")
    assert "s3cret" not in line


def test_debug_shows_the_traceback(template: Path) -> None:
    done = schedcu("--debug", "submit", str(template), "--start", "2026-03-01", "--end", "2026-03-31", *SUBMIT)
    assert done.returncode == 3
    assert "Traceback" in done.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("workflows", "show", "12"),
        ("workflows", "retry", "abc"),
        ("versions", "show", "v1"),
        ("versions", "diff", "a", str(uuid.uuid4())),
        ("coverage", "show", "latest"),
        ("verify", "x"),
    ],
)
def test_an_id_that_is_not_a_uuid_is_a_usage_error(command: tuple[str, ...]) -> None:
    assert_one_line(schedcu(*command), 2, "is not an id", "UUID")


def test_a_report_into_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    out = tmp_path / "no-such-folder" / "report.html"
    done = schedcu("coverage", "report", str(uuid.uuid4()), "--out", str(out))
    assert_one_line(done, 2, "no-such-folder does not exist")


def test_a_month_13_is_a_usage_error() -> None:
    assert_one_line(schedcu("demo", "--month", "2026-13"), 2, "'2026-13' is not a month", "YYYY-MM")


@pytest.mark.parametrize("command", [("roster", "import"), ("amion", "parse"), ("ods", "check")])
def test_a_missing_input_file_is_a_usage_error(command: tuple[str, ...], tmp_path: Path) -> None:
    assert_one_line(schedcu(*command, str(tmp_path / "gone.csv")), 2, "gone.csv does not exist")


def test_output_piped_to_a_reader_that_closes_early_ends_quietly() -> None:
    process = subprocess.Popen(
        schedcu_command("asyncapi"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader goes away before the command writes
    status = process.wait(timeout=60)
    assert process.stderr.read() == b""
    process.stderr.close()
    assert status == 141  # 128 + SIGPIPE, as a Unix tool stopped by its reader
