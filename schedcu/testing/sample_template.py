"""A generated coverage template with the sheets, role headers and marks of the real one (for the demo)."""

from schedcu.views.ods_writer import write_ods

WORKLISTS = (
    "CPMC CT Neuro",
    "CPMC CT Chest",
    "CPMC CT Body",
    "CPMC US",
    "CPMC MR Neuro",
    "CPMC MR Body",
    "CPMC DX Chest/Abd",
    "CPMC DX Bone",
    "CHONY Neuro ",  # trailing space, as in the real file
    "Allen CT Neuro",
    "Allen CT Body",
    "Allen US",
    "Allen MR Neuro",
    "Allen MR Body",
    "Allen DX Chest/Abd",
    "Allen DX Bone",
    "NYPLH Neuro CT",
    "NYPLH Body CT",
    "NYPLH US",
    "NYPLH Neuro MR",
    "NYPLH Body MR",
    "NYPLH DX Chest/Abd",
    "NYPLH DX Bone",
)

# (sheet name, role headers, mark, marks): marks has one character per WORKLISTS entry:
# "1".."3" the role column marked, "0" the row is there but unmarked, "-" the row is absent.
SHEETS = (
    ("Mid Weekday Body 5 - 6 pm", ("Mid Body", "Mid Neuro", "Mid3"), "x", "2-112112221121122112112"),
    ("Mid Weekday Neuro 5 pm - 6 pm", ("MidC", "MidL", "Mid3"), "x", "1-111111222121112222222"),
    ("Mid Weekday Neuro 6 pm - 12 am", ("MidC", "MidL", "Mid3"), "X", "11133122333333332222222"),
    ("Mid Weekday Body 6 pm - 12 am", ("Mid Body", "Mid Neuro", "Mid 3"), "x", "31113132231131332112122"),
    ("Mid Weekend Body 5 pm - 12 am", ("Mid Body", "Mid Neuro", "Mid 3"), "x", "31113132031131332112122"),
    ("Mid Weekend Neuro 5 pm - 12 am", ("MidC", "MidL", "Mid 3"), "x", "11111133133333332222222"),
    ("Mid Weekend 10pm-Midnight", ("MidC", "MidL", "Mid3"), "X", "3-333333322222222222222"),
    ("Mid  12am-1am", ("ON1", "ON2", "Mid3"), "X", "11133122133333332222222"),
    ("ON Weekday Neuro 1 am - 8 am", ("ON1", "ON2"), "X", "1-111111122222222222222"),
    ("ON Weekday Body 1 am - 8 am", ("ON Neuro", "ON Body"), "x", "1-221221112212211221221"),
    ("ON Weekend Neuro 1 am - 8 am", ("ON1", "ON2"), "X", "1-111111122222222222222"),
    ("ON Weekend Body 1 am - 8 am", ("ON Neuro", "ON Body"), "x", "1-221221112212211221221"),
)


def sample_template() -> bytes:
    sheets: list[tuple[str, list[list[str]]]] = []
    for name, roles, mark, marks in SHEETS:
        rows = [["", *roles]]
        for worklist, column in zip(WORKLISTS, marks, strict=True):
            if column == "-":
                continue
            row = [worklist] + [""] * len(roles)
            if column != "0":
                row[int(column)] = mark
            rows.append(row)
        sheets.append((name, rows))
    return write_ods(sheets)
