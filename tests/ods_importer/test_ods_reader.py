import io
import struct
import time
import zipfile
from datetime import date
from datetime import time as dtime

import pytest

from schedcu.views.ods_writer import write_ods
from services.ods_importer.ods_reader import (
    DEFAULT_LIMITS,
    ODS_MIMETYPE,
    OdsLimits,
    OdsReadError,
    Sheet,
    _GuardedReader,
    iter_sheets,
)
from shared.kernel.findings import Severity
from tests.support.real_data import REAL_TEMPLATE

NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
)
ENCRYPTED_MANIFEST = b"""<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml">
  <manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="abc=">
   <manifest:algorithm manifest:algorithm-name="Blowfish CFB" manifest:initialisation-vector="abc="/>
  </manifest:encryption-data>
 </manifest:file-entry>
</manifest:manifest>"""
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<office:document-content %s><office:body><office:spreadsheet><table:table table:name="S">
<table:table-row><table:table-cell office:value-type="string"><text:p>&lol9;</text:p></table:table-cell>
</table:table-row></table:table></office:spreadsheet></office:body></office:document-content>""" % NS.encode()


def content(tables: str, prolog: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    return (
        f"{prolog}<office:document-content {NS}><office:body>"
        f"<office:spreadsheet>{tables}</office:spreadsheet></office:body></office:document-content>"
    ).encode()


def package(members: dict[str, bytes], mimetype: bytes | None = ODS_MIMETYPE.encode()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if mimetype is not None:
            archive.writestr(zipfile.ZipInfo("mimetype"), mimetype, compress_type=zipfile.ZIP_STORED)
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def ods(tables: str) -> bytes:
    return package({"content.xml": content(tables)})


def read(data: bytes, limits: OdsLimits = DEFAULT_LIMITS) -> list[Sheet]:
    return list(iter_sheets(data, limits))


def error_code(data: bytes, limits: OdsLimits = DEFAULT_LIMITS) -> str:
    with pytest.raises(OdsReadError) as caught:
        read(data, limits)
    assert caught.value.finding.severity is Severity.ERROR
    return caught.value.finding.code


def declare_size(data: bytes, name: str, size: int) -> bytes:
    """Rewrite the uncompressed size that the local and central headers declare for one member."""
    patched = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    struct.pack_into("<I", patched, info.header_offset + 22, size)
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<I", patched, central + 24, size)
    return bytes(patched)


# --- reading ---------------------------------------------------------------------------------------------


def test_real_template_reads_twelve_sheets() -> None:
    sheets = read(REAL_TEMPLATE.read_bytes())
    assert len(sheets) == 12
    assert sheets[0].name == "Mid Weekday Body 5 - 6 pm"
    assert sheets[0].rows[0] == ["", "Mid Body", "Mid Neuro", "Mid3"]
    assert sheets[0].rows[1] == ["CPMC CT Neuro", "", "x"]
    assert all(len(row) <= 24 for sheet in sheets for row in sheet.rows)


def test_forty_identical_rows_written_repeated_come_back_as_forty_rows() -> None:
    data = ods(
        '<table:table table:name="S"><table:table-row><table:table-cell/>'
        '<table:table-cell office:value-type="string"><text:p>ON1</text:p></table:table-cell></table:table-row>'
        '<table:table-row table:number-rows-repeated="40">'
        '<table:table-cell office:value-type="string"><text:p>CPMC US</text:p></table:table-cell>'
        '<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell></table:table-row>'
        "</table:table>"
    )
    assert read(data)[0].rows == [["", "ON1"]] + [["CPMC US", "x"]] * 40


def test_repeated_empty_cells_keep_column_positions() -> None:
    data = ods(
        '<table:table table:name="S"><table:table-row>'
        '<table:table-cell office:value-type="string"><text:p>a</text:p></table:table-cell>'
        '<table:table-cell table:number-columns-repeated="3"/>'
        '<table:table-cell office:value-type="string"><text:p>b</text:p></table:table-cell>'
        "</table:table-row></table:table>"
    )
    assert read(data)[0].rows == [["a", "", "", "", "b"]]


def test_huge_trailing_empty_runs_are_not_expanded() -> None:
    data = ods(
        '<table:table table:name="S">'
        '<table:table-column table:number-columns-repeated="16384"/>'
        '<table:table-row><table:table-cell office:value-type="string"><text:p>a</text:p></table:table-cell>'
        '<table:table-cell table:number-columns-repeated="16383"/></table:table-row>'
        '<table:table-row table:number-rows-repeated="1048575">'
        '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
        "</table:table>"
    )
    tiny = OdsLimits(max_rows=2, max_columns=2, max_cells=2)
    assert read(data, tiny)[0].rows == [["a"]]


def test_empty_rows_between_rows_are_kept() -> None:
    data = ods(
        '<table:table table:name="S">'
        "<table:table-row><table:table-cell><text:p>a</text:p></table:table-cell></table:table-row>"
        '<table:table-row table:number-rows-repeated="3"><table:table-cell/></table:table-row>'
        "<table:table-row><table:table-cell><text:p>b</text:p></table:table-cell></table:table-row>"
        "</table:table>"
    )
    assert read(data)[0].rows == [["a"], [], [], [], ["b"]]


def test_cell_text_joins_paragraphs_spaces_spans_tabs() -> None:
    data = ods(
        '<table:table table:name="S"><table:table-row>'
        '<table:table-cell><text:p>a<text:s/>b<text:s text:c="3"/>c</text:p>'
        "<text:p><text:span>d</text:span><text:tab/>e</text:p></table:table-cell>"
        "<table:table-cell><office:annotation><text:p>a comment</text:p></office:annotation><text:p>f</text:p>"
        "</table:table-cell>"
        "</table:table-row></table:table>"
    )
    assert read(data)[0].rows == [["a b   c\nd\te", "f"]]


def test_typed_cells_read_as_their_value_not_their_display_text() -> None:
    data = ods(
        '<table:table table:name="S"><table:table-row>'
        '<table:table-cell office:value-type="date" office:date-value="2026-03-07"><text:p>03/07/26</text:p>'
        "</table:table-cell>"
        '<table:table-cell office:value-type="time" office:time-value="PT17H30M00S"><text:p>05:30 PM</text:p>'
        "</table:table-cell>"
        '<table:table-cell office:value-type="float" office:value="2"><text:p>2.00</text:p></table:table-cell>'
        '<table:table-cell office:value-type="boolean" office:boolean-value="true"><text:p>TRUE</text:p>'
        "</table:table-cell>"
        '<table:table-cell office:value-type="percentage" office:value="0.5"/>'
        '<table:table-cell office:value-type="time" office:time-value="PT41H00M00S"><text:p>41:00</text:p>'
        "</table:table-cell>"
        "</table:table-row></table:table>"
    )
    assert read(data)[0].rows == [["2026-03-07", "17:30:00", "2", "true", "0.5", "41:00"]]


def test_writer_writes_typed_cells_the_reader_reads_back() -> None:
    rows = [[date(2026, 3, 7), dtime(17, 0), 2, True, "text"]]
    assert read(write_ods([("S", rows)]))[0].rows == [["2026-03-07", "17:00:00", "2", "true", "text"]]


def test_comments_in_a_row_do_not_shift_columns() -> None:
    data = ods(
        '<table:table table:name="S"><table:table-row><!-- a comment --><?pi x?>'
        '<table:table-cell table:number-columns-repeated="2"/>'
        "<table:table-cell><text:p>c</text:p></table:table-cell></table:table-row></table:table>"
    )
    assert read(data)[0].rows == [["", "", "c"]]


def test_covered_cells_of_a_merged_range_keep_column_positions() -> None:
    data = ods(
        '<table:table table:name="S"><table:table-row>'
        '<table:table-cell table:number-columns-spanned="2"><text:p>ab</text:p></table:table-cell>'
        "<table:covered-table-cell/>"
        "<table:table-cell><text:p>c</text:p></table:table-cell></table:table-row></table:table>"
    )
    assert read(data)[0].rows == [["ab", "", "c"]]


def test_a_table_inside_a_cell_is_not_read_as_rows() -> None:
    data = ods(
        '<table:table table:name="S"><table:table-row><table:table-cell><text:p>outer</text:p>'
        '<table:table table:name="inner"><table:table-row><table:table-cell><text:p>inner</text:p>'
        "</table:table-cell></table:table-row></table:table>"
        "</table:table-cell></table:table-row>"
        "<table:table-row><table:table-cell><text:p>next</text:p></table:table-cell></table:table-row>"
        "</table:table>"
    )
    (sheet,) = read(data)
    assert (sheet.name, sheet.rows) == ("S", [["outer"], ["next"]])


def test_rows_inside_header_rows_and_row_groups_are_read_in_order() -> None:
    row = "<table:table-row><table:table-cell><text:p>{}</text:p></table:table-cell></table:table-row>"
    data = ods(
        f'<table:table table:name="S"><table:table-header-rows>{row.format(1)}</table:table-header-rows>'
        f"<table:table-row-group>{row.format(2)}{row.format(3)}</table:table-row-group>{row.format(4)}"
        "</table:table>"
    )
    assert read(data)[0].rows == [["1"], ["2"], ["3"], ["4"]]


def test_writer_round_trips_spaces_and_lines() -> None:
    rows = [["  two leading", "a  b", "trailing ", "line 1\nline 2"]]
    assert read(write_ods([("S", rows)]))[0].rows == rows


# --- hostile input ---------------------------------------------------------------------------------------


def test_not_a_zip_is_not_an_ods() -> None:
    assert error_code(b"Date,ShiftType\n2026-01-01,ON1\n") == "NOT_AN_ODS"


def test_zip_without_mimetype_is_not_an_ods() -> None:
    assert error_code(package({"content.xml": content("")}, mimetype=None)) == "NOT_AN_ODS"


def test_zip_without_content_xml_says_content_xml_is_missing() -> None:
    with pytest.raises(OdsReadError) as caught:
        read(package({"META-INF/manifest.xml": b"<m/>"}))
    assert caught.value.finding.code == "NOT_AN_ODS"
    assert "content.xml is missing" in caught.value.finding.text


@pytest.mark.parametrize(
    "members, mimetype",
    [
        ({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}, None),
        ({"content.xml": b"<x/>"}, b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ],
)
def test_xlsx_sent_as_ods_says_it_looks_like_excel(members: dict[str, bytes], mimetype: bytes | None) -> None:
    with pytest.raises(OdsReadError) as caught:
        read(package(members, mimetype))
    assert caught.value.finding.code == "NOT_AN_ODS"
    assert "Excel" in caught.value.finding.text


def test_truncated_file() -> None:
    data = write_ods([("S", [["", "ON1"], ["CPMC US", "x"]] * 200)])
    assert error_code(data[: len(data) // 2]) == "TRUNCATED_FILE"


def test_truncated_content_xml_inside_a_valid_zip() -> None:
    whole = content('<table:table table:name="S"><table:table-row><table:table-cell><text:p>a</text:p>')
    assert error_code(package({"content.xml": whole})) == "TRUNCATED_FILE"


def test_encrypted_manifest() -> None:
    data = package({"META-INF/manifest.xml": ENCRYPTED_MANIFEST, "content.xml": b"\x8f\x02binary"})
    assert error_code(data) == "ENCRYPTED_ODS"


def test_billion_laughs_is_refused_fast_without_expansion() -> None:
    started = time.monotonic()
    assert error_code(package({"content.xml": BILLION_LAUGHS})) == "UNSAFE_XML"
    assert time.monotonic() - started < 1


def test_doctype_after_a_long_prolog_is_refused() -> None:
    prolog = '<?xml version="1.0"?><!--' + " " * 200_000 + '--><!DOCTYPE x SYSTEM "http://example.invalid/x">'
    assert error_code(package({"content.xml": content("", prolog)})) == "UNSAFE_XML"


def test_entity_declaration_in_manifest_is_refused() -> None:
    manifest = b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY e "e">]><m>&e;</m>'
    assert error_code(package({"META-INF/manifest.xml": manifest, "content.xml": content("")})) == "UNSAFE_XML"


def test_zip_bomb_is_refused_by_its_declared_size() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODS_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        with archive.open("content.xml", "w") as member:
            member.write(b"<office:document-content>")
            for _ in range(20):
                member.write(b" " * 1_000_000)
    data = buffer.getvalue()
    assert len(data) < 100_000
    assert error_code(data, OdsLimits(max_decompressed_bytes=1_000_000)) == "DECOMPRESSION_BOMB"


def test_header_declaring_a_huge_size_is_refused_before_reading() -> None:
    data = declare_size(ods(""), "content.xml", 200_000_000)
    assert error_code(data) == "DECOMPRESSION_BOMB"


def test_header_declaring_a_small_size_never_yields_more_bytes() -> None:
    # zipfile stops at the declared size; the mismatch then fails the checksum: refused as damaged
    bomb = content(" " * 5_000_000)
    data = declare_size(package({"content.xml": bomb}), "content.xml", 1_000)
    started = time.monotonic()
    assert error_code(data) == "TRUNCATED_FILE"
    assert time.monotonic() - started < 1


def test_bytes_actually_read_are_counted_whatever_the_header_says() -> None:
    stream = _GuardedReader(io.BytesIO(b" " * 100), limit=10, name="content.xml")
    with pytest.raises(OdsReadError) as caught:
        stream.read(64)
    assert caught.value.finding.code == "DECOMPRESSION_BOMB"


def test_file_over_size_limit_is_refused_before_reading() -> None:
    with pytest.raises(OdsReadError) as caught:
        iter_sheets(b"x" * 101, OdsLimits(max_file_bytes=100))
    assert caught.value.finding.code == "FILE_TOO_LARGE"


def test_too_many_sheets() -> None:
    data = write_ods([(f"S{n}", [["a"]]) for n in range(3)])
    assert error_code(data, OdsLimits(max_sheets=2)) == "TOO_MANY_SHEETS"


def test_too_many_rows() -> None:
    data = write_ods([("S", [[f"r{n}"] for n in range(10)])])
    assert error_code(data, OdsLimits(max_rows=5)) == "TOO_MANY_ROWS"


def test_too_many_rows_from_one_repeated_row() -> None:
    data = ods(
        '<table:table table:name="S"><table:table-row table:number-rows-repeated="100000000">'
        "<table:table-cell><text:p>a</text:p></table:table-cell></table:table-row></table:table>"
    )
    assert error_code(data, OdsLimits(max_rows=1000)) == "TOO_MANY_ROWS"


def test_too_many_columns() -> None:
    data = write_ods([("S", [[str(n) for n in range(10)]])])
    assert error_code(data, OdsLimits(max_columns=5)) == "TOO_MANY_COLUMNS"


def test_too_many_columns_from_one_repeated_cell() -> None:
    data = ods(
        '<table:table table:name="S"><table:table-row><table:table-cell table:number-columns-repeated="999999999">'
        "<text:p>x</text:p></table:table-cell></table:table-row></table:table>"
    )
    assert error_code(data) == "TOO_MANY_COLUMNS"


def test_too_many_cells_counts_expanded_repeats() -> None:
    data = ods(
        '<table:table table:name="S"><table:table-row table:number-rows-repeated="50">'
        '<table:table-cell table:number-columns-repeated="10"><text:p>x</text:p></table:table-cell>'
        "</table:table-row></table:table>"
    )
    assert error_code(data, OdsLimits(max_cells=499)) == "TOO_MANY_CELLS"
    assert len(read(data, OdsLimits(max_cells=500))[0].rows) == 50


def test_huge_space_count_in_a_cell_is_refused() -> None:
    data = ods(
        '<table:table table:name="S"><table:table-row><table:table-cell>'
        '<text:p><text:s text:c="999999999"/></text:p></table:table-cell></table:table-row></table:table>'
    )
    assert error_code(data) == "CELL_TOO_LONG"


def test_doctype_in_utf16_content_is_refused() -> None:
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE a [<!ENTITY e "e">]>' + content("", "").decode()
    assert error_code(package({"content.xml": text.encode("utf-16")})) == "UNSAFE_XML"


def test_external_entity_is_neither_fetched_nor_expanded() -> None:
    xxe = content(
        '<table:table table:name="S"><table:table-row><table:table-cell><text:p>&xxe;</text:p>'
        "</table:table-cell></table:table-row></table:table>",
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    )
    with pytest.raises(OdsReadError) as caught:
        read(package({"content.xml": xxe}))
    assert caught.value.finding.code == "UNSAFE_XML"
    assert "root:" not in str(caught.value)


def test_zip_level_encrypted_member_is_an_encrypted_ods() -> None:
    data = bytearray(ods(""))
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("content.xml")
    data[info.header_offset + 6] |= 0x01  # "encrypted" bit of the local header's flags
    central = bytes(data).index(b"PK\x01\x02")
    while bytes(data[central + 46 : central + 46 + len("content.xml")]) != b"content.xml":
        central = bytes(data).index(b"PK\x01\x02", central + 4)
    data[central + 8] |= 0x01  # and of the central directory's
    assert error_code(bytes(data)) == "ENCRYPTED_ODS"


def test_one_giant_row_is_refused_before_its_tree_is_built() -> None:
    cells = "<table:table-cell><text:p>x</text:p></table:table-cell>" * 50_000
    data = ods(f'<table:table table:name="S"><table:table-row>{cells}</table:table-row></table:table>')
    limits = OdsLimits(max_row_bytes=500_000, max_columns=1_000_000, max_cells=10_000_000)
    with pytest.raises(OdsReadError) as caught:
        read(data, limits)
    assert (caught.value.finding.code, caught.value.finding.location) == ("ROW_TOO_LARGE", "S")
    assert len(read(data, OdsLimits(max_row_bytes=10_000_000, max_columns=100_000))[0].rows[0]) == 50_000


def test_row_size_bound_does_not_count_the_rows_before() -> None:
    rows = "".join(
        f"<table:table-row><table:table-cell><text:p>{'y' * 1000}</text:p></table:table-cell></table:table-row>"
        for _ in range(2_000)
    )
    data = ods(f'<table:table table:name="S">{rows}</table:table>')
    assert len(read(data, OdsLimits(max_row_bytes=100_000))[0].rows) == 2_000
