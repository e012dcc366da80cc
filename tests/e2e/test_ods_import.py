"""Phase 1 on the real pipeline: validation messages in `workflows show`, hostile files, the flat layout."""

import io
import json
import subprocess
import uuid
import zipfile
from datetime import date, time
from typing import Any

import pytest

from schedcu.runtime.processes import schedcu_command
from schedcu.views.ods_writer import write_ods
from services.ods_importer.ods_reader import ODS_MIMETYPE
from shared.kernel import ids
from tests.conftest import Pipeline, eventually
from tests.support import amqp_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WEEK = ("2026-03-02", "2026-03-08")


def submit(pipeline: Pipeline, template: bytes, prefix: str, period: tuple[str, str] = WEEK) -> uuid.UUID:
    request_id = f"{prefix}-{uuid.uuid4()}"
    body = amqp_client.import_requested(request_id, template, *period)
    amqp_client.publish(pipeline.services.amqp_url, json.dumps(body).encode())
    return ids.workflow_id_for(request_id)


def show(pipeline: Pipeline, workflow_id: uuid.UUID, *options: str) -> str:
    done = subprocess.run(
        schedcu_command("workflows", "show", str(workflow_id), *options),
        env=pipeline.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout


def import_messages(pipeline: Pipeline, workflow_id: uuid.UUID) -> list[dict[str, Any]]:
    view = json.loads(show(pipeline, workflow_id, "--json"))
    phase = next(p for p in view["phases"] if p["phase"] == "ODS_IMPORT")
    return phase["attempts"][-1]["messages"]


def failed_import(pipeline: Pipeline, workflow_id: uuid.UUID) -> list[tuple[str, str]]:
    """(severity, code) of the ODS_IMPORT messages of a workflow that must have FAILED with no version."""
    assert pipeline.wait_terminal(workflow_id) == "FAILED"
    assert pipeline.query("SELECT count(*) FROM schedule_versions WHERE workflow_id = :w", w=workflow_id) == [(0,)]
    return [(m["severity"], m["code"]) for m in import_messages(pipeline, workflow_id)]


def test_every_validation_message_is_shown_with_code_and_cell(pipeline: Pipeline) -> None:
    template = write_ods(
        [
            ("ON Weekday Neuro 1 am - 8 am", [["", "ON1", "Fellow"], ["CPMC US", "x"], ["Allen US", "x", "x"]]),
            ("Notes", [["not a window"]]),
            (
                "Mid Weekday Body 5 - 6 pm",
                [["", "Mid Body", "Mid Neuro"], ["CPMC US", "x"], ["CPMC US", "", "x"], ["Allen US", "", "maybe"]],
            ),
        ]
    )
    workflow_id = submit(pipeline, template, "errors")

    assert pipeline.wait_terminal(workflow_id) == "FAILED"
    assert pipeline.query("SELECT count(*) FROM schedule_versions WHERE workflow_id = :w", w=workflow_id) == [(0,)]
    expected = [
        ("ERROR", "UNKNOWN_ROLE", "ON Weekday Neuro 1 am - 8 am!C1"),
        ("ERROR", "MULTIPLE_ROLES_MARKED", "ON Weekday Neuro 1 am - 8 am!A3"),
        ("ERROR", "INVALID_SHEET_NAME", "Notes"),
        ("ERROR", "DUPLICATE_WORKLIST", "Mid Weekday Body 5 - 6 pm!A3"),
        ("WARNING", "UNEXPECTED_CELL", "Mid Weekday Body 5 - 6 pm!C4"),
        ("WARNING", "UNMARKED_WORKLIST", "Mid Weekday Body 5 - 6 pm!A4"),
    ]
    messages = import_messages(pipeline, workflow_id)
    assert [(m["severity"], m["code"], m["location"]) for m in messages] == expected
    assert all(m["text"] for m in messages)

    shown = show(pipeline, workflow_id)
    assert "ODS_IMPORT    FAILED" in shown
    for m in messages:
        assert f"{m['severity']:<7} {m['code']}: {m['text']} [{m['location']}]" in shown


def decompression_bomb() -> bytes:
    """content.xml unpacks to 110 MB of spaces: past the 100 MB default; the file itself is ~110 kB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODS_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        with archive.open("content.xml", "w", force_zip64=True) as member:
            member.write(b'<?xml version="1.0"?><office:document-content>')
            block = b" " * 1_000_000
            for _ in range(110):
                member.write(block)
    return buffer.getvalue()


def xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def external_entity() -> bytes:
    source = zipfile.ZipFile(io.BytesIO(write_ods([("ON 1 am - 8 am", [["", "ON1"], ["&e;", "x"]])])))
    content = (
        source.read("content.xml")
        .replace(b"?>", b'?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>', 1)
        .replace(b"&amp;e;", b"&e;")
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", ODS_MIMETYPE)
        archive.writestr("content.xml", content)
    return buffer.getvalue()


def test_hostile_files_fail_with_their_code_and_the_worker_keeps_serving(pipeline: Pipeline) -> None:
    bomb = decompression_bomb()
    assert len(bomb) < 1_000_000
    bomb_workflow = submit(pipeline, bomb, "bomb")
    excel_workflow = submit(pipeline, xlsx(), "xlsx")
    entity_workflow = submit(pipeline, external_entity(), "entity")

    assert failed_import(pipeline, bomb_workflow) == [("ERROR", "DECOMPRESSION_BOMB")]
    assert failed_import(pipeline, excel_workflow) == [("ERROR", "NOT_AN_ODS")]
    assert "Excel" in import_messages(pipeline, excel_workflow)[0]["text"]
    assert failed_import(pipeline, entity_workflow) == [("ERROR", "UNSAFE_XML")]

    assert pipeline.workers["ods-importer"].popen is not None
    assert pipeline.workers["ods-importer"].popen.poll() is None, "the ods-importer worker died"
    after = submit(pipeline, pipeline.template, "after-hostile")
    assert pipeline.wait_terminal(after) == "COMPLETED"


FLAT_HEADER = ["Date", "ShiftType", "Hospital", "StudyType", "SpecialtyConstraint", "RequiredStaffing", "Mandatory"]


def test_flat_workbook_becomes_a_flat_version_with_its_columns(pipeline: Pipeline) -> None:
    rows = [
        [*FLAT_HEADER, "Start", "End"],
        [date(2026, 3, 2), "ON 1", "CPMC", "CT Neuro", "Neuro", 2, True, time(17), time(8)],
        ["2026-03-03", "Body Fellow", "Allen", "US", "", 1, "no", "17:00", "23:00"],
        [date(2026, 4, 1), "ON1", "CPMC", "CT Neuro", "Neuro", 1, True, time(17), time(8)],
    ]
    workflow_id = submit(pipeline, write_ods([("Shifts", rows)]), "flat")
    eventually(
        lambda: pipeline.query(
            "SELECT 1 FROM workflow_phases WHERE workflow_id = :w AND phase = 'ODS_IMPORT' AND state = 'SUCCEEDED'",
            w=workflow_id,
        ),
        what="the flat import to succeed",
    )
    version_id = ids.version_id_for(workflow_id)
    (layout, findings), *_ = pipeline.query(
        "SELECT layout, findings FROM schedule_versions WHERE id = :v", v=version_id
    )
    assert layout == "FLAT"
    assert [f["code"] for f in findings] == ["OUTSIDE_PERIOD"]  # warnings are kept with the version
    assert pipeline.query("SELECT count(*) FROM template_windows WHERE version_id = :v", v=version_id) == [(0,)]
    shifts = pipeline.query(
        "SELECT schedule_date, window_id, role, hospital, study_type, specialty_constraint, desired_coverage, "
        "mandatory, to_char(starts_at AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI'), "
        "to_char(ends_at AT TIME ZONE 'America/New_York', 'YYYY-MM-DD HH24:MI') "
        "FROM shift_instances WHERE version_id = :v ORDER BY schedule_date",
        v=version_id,
    )
    assert shifts == [
        (date(2026, 3, 2), None, "ON1", "CPMC", "CT Neuro", "NEURO", 2, True, "2026-03-02 17:00", "2026-03-03 08:00"),
        (date(2026, 3, 3), None, "Body Fellow", "Allen", "US", None, 1, False, "2026-03-03 17:00", "2026-03-03 23:00"),
    ]
