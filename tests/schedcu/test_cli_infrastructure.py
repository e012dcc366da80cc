"""When PostgreSQL, RabbitMQ, a port, a setting or the terminal gets in the way: the real `schedcu` command in its
own process ends with one line that says what is wrong and which setting or option to change, never a traceback
nor a password."""

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from sqlalchemy.engine import make_url

from schedcu.runtime.processes import schedcu_command
from tests.conftest import Services
from tests.console.conftest import write_users_file
from tests.schedcu.test_cli_mistakes import assert_one_line

pytestmark = pytest.mark.integration

SECRET = "s3cret-pw"


def schedcu(services: Services, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SCHEDCU_DATABASE_URL": services.database_url,
        "SCHEDCU_AMQP_URL": services.amqp_url,
        **{f"SCHEDCU_{key.upper()}": value for key, value in settings.items()},
    }
    return subprocess.run(schedcu_command(*args), env=env, capture_output=True, text=True, timeout=60, check=False)


def database(services: Services, **parts: str) -> str:
    return make_url(services.database_url).set(**parts).render_as_string(hide_password=False)


def broker(services: Services, user: str = "guest", password: str = "guest", vhost: str | None = None) -> str:
    url = urlsplit(services.amqp_url)
    path = url.path if vhost is None else f"/{vhost}"
    return urlunsplit(url._replace(netloc=f"{user}:{password}@{url.hostname}:{url.port}", path=path))


def test_a_postgres_url_is_taken_for_postgresql(services: Services) -> None:
    url = "postgres://" + services.database_url.split("://", 1)[1]

    done = schedcu(services, "versions", "list", database_url=url)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("version ")


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"database_url": f"mysql://admin:{SECRET}@db.example.org/schedcu"}, ("SCHEDCU_DATABASE_URL", "postgresql://")),
        ({"prefetch": "many"}, ("SCHEDCU_PREFETCH", "integer")),
        ({"amion_accounts": '{"north": {"password_env": "many"'}, ("SCHEDCU_AMION_ACCOUNTS: not valid JSON",)),
        ({"holidays": '["2026-13-01"]'}, ("SCHEDCU_HOLIDAYS (item 1)", "month value is outside")),
    ],
)
def test_a_wrong_setting_is_named_without_its_value(
    services: Services, settings: dict[str, str], words: tuple[str, ...]
) -> None:
    line = assert_one_line(schedcu(services, "versions", "list", **settings), 2, *words)
    assert SECRET not in line and "many" not in line


def test_an_unknown_database_role_is_named(services: Services) -> None:
    url = database(services, username="no_such_role", password=SECRET)

    line = assert_one_line(
        schedcu(services, "versions", "list", database_url=url), 3, 'has no role "no_such_role"', "SCHEDCU_DATABASE_URL"
    )
    assert SECRET not in line


def test_a_missing_database_is_named_with_the_command_that_creates_it(services: Services) -> None:
    url = database(services, database="no_such_database", password=SECRET)

    line = assert_one_line(
        schedcu(services, "versions", "list", database_url=url),
        3, 'has no database "no_such_database"', "`schedcu db upgrade` creates it", "SCHEDCU_DATABASE_URL",
    )  # fmt: skip
    assert SECRET not in line


@pytest.fixture
def missing_database(services: Services) -> Iterator[str]:
    name = f"schedcu_test_created_{os.getpid()}"
    yield database(services, database=name)
    admin = make_url(services.database_url).set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_db_upgrade_creates_a_missing_database(services: Services, missing_database: str) -> None:
    done = schedcu(services, "db", "upgrade", database_url=missing_database)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"created the database {make_url(missing_database).database}",
        "database is at the latest migration",
    ]
    assert schedcu(services, "versions", "list", database_url=missing_database).returncode == 0


@pytest.fixture
def role_without_createdb(services: Services) -> Iterator[str]:
    name = f"schedcu_test_nocreatedb_{os.getpid()}"
    admin = make_url(services.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{name}" LOGIN NOCREATEDB')
    yield name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_db_upgrade_by_a_user_who_may_not_create_the_database_says_so(
    services: Services, role_without_createdb: str
) -> None:
    url = database(services, username=role_without_createdb, database="no_such_database")

    assert_one_line(
        schedcu(services, "db", "upgrade", database_url=url),
        3, f'user "{role_without_createdb}" may not create one', "give the user CREATEDB",
    )  # fmt: skip


def test_an_unknown_vhost_is_named(services: Services) -> None:
    done = schedcu(services, "dlq", "list", amqp_url=broker(services, vhost="no-such-vhost"))

    line = assert_one_line(done, 3, 'refused vhost "no-such-vhost"', "SCHEDCU_AMQP_URL")
    assert "InvalidFrameError" not in line and "Connection.Close" not in line


def test_a_wrong_amqp_password_is_told_from_an_unreachable_broker(services: Services) -> None:
    done = schedcu(services, "dlq", "list", amqp_url=broker(services, password=SECRET))

    line = assert_one_line(done, 3, 'refused the login of user "guest"', "password in SCHEDCU_AMQP_URL")
    assert "cannot reach" not in line and SECRET not in line


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def test_a_worker_on_a_busy_port_says_so_before_it_starts(services: Services, busy_port: int) -> None:
    done = schedcu(services, "worker", "coverage", "--port", str(busy_port))

    assert_one_line(done, 2, f"cannot listen on 127.0.0.1:{busy_port}", "--port", "SCHEDCU_HTTP_PORT")
    assert done.stdout == ""


def test_the_console_on_a_busy_port_prints_no_url(services: Services, busy_port: int, tmp_path: Path) -> None:
    users = write_users_file(tmp_path / "users.yaml")

    done = schedcu(services, "console", "--port", str(busy_port), console_users_file=str(users))

    assert_one_line(done, 2, f"cannot listen on 127.0.0.1:{busy_port}", "--port")
    assert done.stdout == ""


def test_ctrl_c_while_a_command_starts_ends_it_quietly_with_status_130(services: Services) -> None:
    env = {**os.environ, "SCHEDCU_DATABASE_URL": services.database_url, "SCHEDCU_AMQP_URL": services.amqp_url}
    interrupted = 0
    # from 0.2 s: Python's own start (its first ~30 ms, before any schedcu code runs) is not schedcu's to change
    for delay_s in (0.2, 0.3, 0.4, 0.5, 0.65, 0.8, 1.0):
        process = subprocess.Popen(
            schedcu_command("versions", "list"), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        time.sleep(delay_s)  # the moment of the Ctrl-C, not a wait for anything
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        assert stderr == "", (delay_s, stderr)
        # 130 from the command, or killed by the SIGINT itself while Python starts or exits (what a shell shows as
        # 130); 0 only when the command had done its work before the Ctrl-C came
        if process.returncode in (130, -signal.SIGINT):
            interrupted += 1
        else:
            assert (process.returncode, stdout.split()[:1]) == (0, ["version"]), (delay_s, process.returncode)
    assert interrupted


def test_a_roster_csv_with_wrong_columns_is_one_line_naming_the_header(services: Services, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("full_name,mail,specialty\nAnn Lee,ann@example.org,BODY_ONLY\n", encoding="utf-8")

    assert_one_line(
        schedcu(services, "roster", "import", str(roster)),
        1, "missing name, missing email, unknown 'full_name', unknown 'mail'", "name,email,specialty,aliases",
    )  # fmt: skip


def test_a_roster_csv_with_wrong_values_has_one_line_per_problem_naming_row_and_column(
    services: Services, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "name,email,specialty,aliases\nAnn Lee,ann@example.org,CARDIO,\nBo Diaz,bo-at-example.org,BOTH,\n",
        encoding="utf-8",
    )

    done = schedcu(services, "roster", "import", str(roster))

    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"roster: {roster} is not a valid roster: row 2, column specialty: "
        "Input should be 'BODY_ONLY', 'NEURO_ONLY' or 'BOTH' (got 'CARDIO')",
        f"roster: {roster} is not a valid roster: row 3, column email: value is not a valid email address: An email "
        "address must have an @-sign. (got 'bo-at-example.org')",
    ]
