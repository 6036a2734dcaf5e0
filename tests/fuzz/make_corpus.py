"""Write the hostile invoice-file corpus in ``tests/fuzz/corpus/`` and its ``expected.json``.

Run ``.venv/bin/python tests/fuzz/make_corpus.py`` after changing a case; the files are
committed so CI reads the same bytes. Each case says what a correct import does with it:
``exit`` 0 (all stored), 1 (some records refused, the rest stored) or 2 (file refused), and
``stored``, the invoice ids that must end in the store (nothing else from the file). Every
case that is not a whole-file refusal carries one good record, ``OK-<case>``, so "the good
records are kept" is checked as well as "the bad one is refused".

The cases: those of issue 9 (wrong encodings, binary, UTF-16, a field over 128 KB, a
directory, a 5,000-digit JSON number, JSON nested 100,000 deep, ``1e3``, ``1_000``,
Arabic-Indic and full-width digits, objects and lists as ids, duplicated JSON keys, basic and
week dates, over-long columns, NUL and control characters) and their neighbours.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
HEADER = "invoice_id,customer_id,amount,currency,chain,asset,due_date"
GOOD = {
    "customer_id": "C1",
    "amount": "10.00",
    "currency": "USD",
    "chain": "anvil",
    "asset": "USDC",
}

Cases = dict[str, tuple[bytes, int, list[str]]]


def _csv(name: str, bad_row: str, exit_code: int = 1, bad_id: str | None = None) -> tuple:
    """A CSV with the good record and one more row (stored too when exit_code is 0)."""
    ok = f"OK-{name}"
    body = f"{HEADER}\n{ok},C1,10.00,USD,anvil,USDC,2026-12-31\n{bad_row}\n"
    return body.encode("utf-8"), exit_code, _stored(ok, exit_code, bad_id)


def _json(name: str, bad: object, exit_code: int = 1, bad_id: str | None = None) -> tuple:
    """A JSON file with the good record and ``bad`` (a dict merged over a good record, or raw
    JSON text for the second record when ``bad`` is a str)."""
    ok = f"OK-{name}"
    good = json.dumps({"invoice_id": ok, **GOOD})
    second = bad if isinstance(bad, str) else json.dumps({**GOOD, **bad})
    return f'{{"invoices": [{good}, {second}]}}'.encode(), exit_code, _stored(ok, exit_code, bad_id)


def _stored(ok: str, exit_code: int, bad_id: str | None) -> list[str]:
    if exit_code == 2:
        return []
    return [ok] + ([bad_id] if exit_code == 0 and bad_id else [])


def _amount_cases(cases: Cases) -> None:
    for label, amount in {
        "exponent": "1e3",
        "exponent_upper": "1E3",
        "underscore": "1_000",
        "thousands_comma": '"1,000.00"',
        "arabic_indic": "\u0661\u0660\u0660",
        "extended_arabic_indic": "\u06f1\u06f0\u06f0",
        "fullwidth": "\uff11\uff10\uff10",
        "devanagari": "\u0967\u0966\u0966",
        "superscript": "\u00b9",
        "plus_sign": "+100",
        "leading_dot": ".5",
        "trailing_dot": "5.",
        "hex": "0x10",
        "infinity": "Infinity",
        "nan": "NaN",
        "zero": "0.00",
        "negative": "-5.00",
        "too_many_decimals": "100.001",
        "digits_5000": "9" * 5000,
        "digits_19": "1" + "0" * 18,
        "empty": "",
        "space_inside": "1 000",
        "currency_sign": "$100",
    }.items():
        cases[f"amount_{label}.csv"] = _csv(f"amount_{label}", f"B-1,C1,{amount},USD,anvil,USDC,")
    cases["amount_padded.csv"] = _csv(
        "amount_padded", "B-pad,C1, 100.00 ,USD,anvil,USDC,", 0, "B-pad"
    )
    for label, raw in {
        "float": '{"invoice_id": "B-1", "amount": 0.1}',
        "exponent": '{"invoice_id": "B-1", "amount": 1e3}',
        "digits_5000": '{"invoice_id": "B-1", "amount": ' + "7" * 5000 + "}",
        "bool": '{"invoice_id": "B-1", "amount": true}',
        "object": '{"invoice_id": "B-1", "amount": {"value": "10"}}',
        "list": '{"invoice_id": "B-1", "amount": ["10"]}',
        "null": '{"invoice_id": "B-1", "amount": null}',
        "nan": '{"invoice_id": "B-1", "amount": NaN}',
        "fullwidth": '{"invoice_id": "B-1", "amount": "\\uff15"}',
    }.items():
        others = json.dumps({k: v for k, v in GOOD.items() if k != "amount"})[1:-1]
        text = raw.replace("{", "{" + others + ", ", 1)
        cases[f"json_amount_{label}.json"] = _json(f"json_amount_{label}", text)
    cases["json_amount_integer.json"] = _json(
        "json_amount_integer",
        '{"invoice_id": "B-int", "customer_id": "C1", "amount": 12, "currency": "USD", '
        '"chain": "anvil", "asset": "USDC"}',
        0,
        "B-int",
    )


def _id_cases(cases: Cases) -> None:
    for label, value in {
        "object": {"a": 1},
        "list": ["INV-1"],
        "bool": True,
        "float": 1.5,
        "nul": "INV\u00001",
        "escape_sequence": "\u001b[31mINV-1\u001b[0m",
        "bell": "INV\u00071",
        "bidi_override": "INV\u202e1-VNI",
        "line_separator": "INV\u20281",
        "over_column": "I" * 129,
        "field_over_128k": "I" * 140_000,
    }.items():
        cases[f"json_id_{label}.json"] = _json(f"json_id_{label}", {"invoice_id": value})
    cases["json_id_integer.json"] = _json("json_id_integer", {"invoice_id": 4711}, 0, "4711")
    cases["json_id_markup.json"] = _json(
        "json_id_markup",
        {"invoice_id": "[link=https://evil.example]INV-9[/link]"},
        0,
        "[link=https://evil.example]INV-9[/link]",
    )
    cases["json_customer_object.json"] = _json(
        "json_customer_object", {"invoice_id": "B-1", "customer_id": {}}
    )
    for field, length in {"erp_system": 33, "company": 65, "customer_id": 129}.items():
        cases[f"json_{field}_over_column.json"] = _json(
            f"json_{field}_over_column", {"invoice_id": "B-1", field: "x" * length}
        )
    cases["json_email_over_column.json"] = _json(
        "json_email_over_column", {"invoice_id": "B-1", "customer_email": "a" * 250 + "@x.example"}
    )
    cases["csv_id_over_128k.csv"] = _csv(
        "csv_id_over_128k", "B-" + "9" * 140_000 + ",C1,10.00,USD,anvil,USDC,"
    )
    cases["csv_customer_over_128k.csv"] = _csv(
        "csv_customer_over_128k", "B-1," + "c" * 140_000 + ",10.00,USD,anvil,USDC,"
    )
    cases["csv_id_multiline.csv"] = _csv("csv_id_multiline", '"B-1\nB-2",C1,10.00,USD,anvil,USDC,')
    cases["csv_id_tab.csv"] = _csv("csv_id_tab", '"B\t1",C1,10.00,USD,anvil,USDC,')
    cases["csv_id_escape.csv"] = _csv("csv_id_escape", "B\x1b[2J1,C1,10.00,USD,anvil,USDC,")
    cases["csv_id_del.csv"] = _csv("csv_id_del", "B\x7f1,C1,10.00,USD,anvil,USDC,")
    cases["csv_id_c1_control.csv"] = _csv("csv_id_c1_control", "B\x9b1,C1,10.00,USD,anvil,USDC,")
    cases["csv_erp_system_over_column.csv"] = (
        (
            "erp_system,invoice_id,customer_id,amount,currency,chain,asset\n"
            "import,OK-csv_erp_system_over_column,C1,10.00,USD,anvil,USDC\n"
            + "e" * 40
            + ",B-1,C1,10.00,USD,anvil,USDC\n"
        ).encode(),
        1,
        ["OK-csv_erp_system_over_column"],
    )
    cases["csv_duplicate_ids.csv"] = _csv(
        "csv_duplicate_ids",
        "B-1,C1,10.00,USD,anvil,USDC,\nB-1,C2,11.00,USD,anvil,USDC,",
    )
    cases["csv_unknown_chain.csv"] = _csv("csv_unknown_chain", "B-1,C1,10.00,USD,mars,USDC,")
    cases["csv_unknown_asset.csv"] = _csv("csv_unknown_asset", "B-1,C1,10.00,USD,anvil,DOGE,")
    cases["csv_lowercase_currency.csv"] = _csv(
        "csv_lowercase_currency", "B-1,C1,10.00,usd,anvil,USDC,"
    )
    cases["csv_missing_customer.csv"] = _csv("csv_missing_customer", "B-1,,10.00,USD,anvil,USDC,")


def _date_cases(cases: Cases) -> None:
    for label, value in {
        "basic": "20261215",
        "week": "2026-W01-1",
        "ordinal": "2026-349",
        "day_32": "2026-12-32",
        "feb_30": "2026-02-30",
        "datetime": "2026-12-15T10:00",
        "european": "15/12/2026",
        "unpadded": "2026-1-5",
        "fullwidth_digits": "\uff12\uff10\uff12\uff16-12-15",
    }.items():
        cases[f"date_{label}.csv"] = _csv(f"date_{label}", f"B-1,C1,10.00,USD,anvil,USDC,{value}")
    cases["json_date_number.json"] = _json(
        "json_date_number", {"invoice_id": "B-1", "due_date": 20261215}
    )


def _json_shape_cases(cases: Cases) -> None:
    cases["json_duplicate_key_amount.json"] = _json(
        "json_duplicate_key_amount",
        '{"invoice_id": "B-1", "customer_id": "C1", "amount": "10.00", "amount": "1000000.00",'
        ' "currency": "USD", "chain": "anvil", "asset": "USDC"}',
    )
    cases["json_duplicate_key_id.json"] = _json(
        "json_duplicate_key_id",
        '{"invoice_id": "B-1", "invoice_id": "B-2", "customer_id": "C1", "amount": "10.00",'
        ' "currency": "USD", "chain": "anvil", "asset": "USDC"}',
    )
    cases["json_record_not_object.json"] = _json("json_record_not_object", '"INV-1"')
    cases["json_record_list.json"] = _json("json_record_list", '["B-1", "C1", "10.00"]')
    cases["json_brackets_in_strings.json"] = _json(
        "json_brackets_in_strings",
        {"invoice_id": "B-[[[{{{", "customer_id": "]]]}}}" * 20},
        0,
        "B-[[[{{{",
    )
    cases["json_deep_in_field.json"] = _json(
        "json_deep_in_field", '{"invoice_id": "B-1", "amount": ' + "[" * 40 + "]" * 40 + "}", 2
    )
    file_level = {
        "json_deep_100000.json": b"[" * 100_000 + b"]" * 100_000,
        "json_deep_unclosed.json": b'{"invoices": ' + b"[" * 100_000,
        "json_invalid.json": b"{oops",
        "json_truncated.json": b'{"invoices": [{"invoice_id": "A"',
        "json_top_string.json": b'"invoices"',
        "json_top_number.json": b"1" * 5000,
        "json_invoices_not_list.json": b'{"invoices": {"invoice_id": "A"}}',
        "json_duplicate_top_key.json": b'{"invoices": [], "invoices": []}',
        "json_empty.json": b"",
        "json_utf16.json": '{"invoices": []}'.encode("utf-16"),
        "json_utf32.json": '{"invoices": []}'.encode("utf-32"),
        "json_latin1.json": '{"invoices": [{"invoice_id": "Café"}]}'.encode("latin-1"),
    }
    for name, body in file_level.items():
        cases[name] = (body, 2, [])
    # a lone surrogate escape is valid JSON syntax; it is refused per record, not per file
    cases["json_surrogate_escape.json"] = _json(
        "json_surrogate_escape", '{"invoice_id": "B-\\ud800"}'
    )


def _csv_shape_cases(cases: Cases) -> None:
    ok = "OK-{}"
    good = "{},C1,10.00,USD,anvil,USDC,2026-12-31"
    cases["csv_quoted_header.csv"] = (
        (
            '"invoice_id","customer_id","amount","currency","chain","asset","due_date"\n'
            + good.format(ok.format("csv_quoted_header"))
            + "\n"
        ).encode(),
        0,
        [ok.format("csv_quoted_header")],
    )
    cases["csv_spaces_after_commas.csv"] = (
        (
            b"invoice_id, customer_id, amount, currency, chain, asset\n"
            b"OK-csv_spaces_after_commas, C1, 10.00, USD, anvil, USDC\n"
        ),
        0,
        ["OK-csv_spaces_after_commas"],
    )
    cases["csv_crlf.csv"] = (
        (HEADER + "\r\n" + good.format("OK-csv_crlf") + "\r\n").encode(),
        0,
        ["OK-csv_crlf"],
    )
    cases["csv_cr_only.csv"] = (
        (HEADER + "\r" + good.format("OK-csv_cr_only") + "\r").encode(),
        0,
        ["OK-csv_cr_only"],
    )
    cases["csv_utf8_bom.csv"] = (
        ("\ufeff" + HEADER + "\n" + good.format("OK-csv_utf8_bom") + "\n").encode(),
        0,
        ["OK-csv_utf8_bom"],
    )
    cases["csv_blank_lines.csv"] = (
        (HEADER + "\n\n\n" + good.format("OK-csv_blank_lines") + "\n\n").encode(),
        0,
        ["OK-csv_blank_lines"],
    )
    cases["csv_quoted_comma_newline.csv"] = _csv(
        "csv_quoted_comma_newline", '"B,1","C\n1",10.00,USD,anvil,USDC,'
    )
    cases["csv_extra_field.csv"] = _csv("csv_extra_field", "B-1,C1,10.00,USD,anvil,USDC,,extra")
    cases["csv_short_row.csv"] = _csv("csv_short_row", "B-1,C1")
    cases["csv_unterminated_quote.csv"] = _csv(  # would swallow every later record
        "csv_unterminated_quote", '"B-1,C1,10.00,USD,anvil,USDC,', 2
    )
    cases["csv_text_after_quote.csv"] = _csv(
        "csv_text_after_quote", '"B-1"x,C1,10.00,USD,anvil,USDC,', 2
    )
    cases["csv_unicode_id.csv"] = _csv(
        "csv_unicode_id", "Rechnung-Ü-42,Müller,10.00,USD,anvil,USDC,", 0, "Rechnung-Ü-42"
    )
    cases["csv_formula_id.csv"] = _csv(
        "csv_formula_id",
        '"=HYPERLINK(""http://evil.example"")",C1,10.00,USD,anvil,USDC,',
        0,
        '=HYPERLINK("http://evil.example")',
    )
    file_level = {
        "csv_empty.csv": b"",
        "csv_only_newlines.csv": b"\n\n\n",
        "csv_missing_columns.csv": b"invoice_id,amount\nX,1\n",
        "csv_duplicate_header.csv": (HEADER + ",amount\nX,C,1,USD,anvil,USDC,,2\n").encode(),
        "csv_latin1.csv": (HEADER + "\nCafé-1,C1,10.00,USD,anvil,USDC,\n").encode("latin-1"),
        "csv_windows1252.csv": (HEADER + "\nE-1,C1,€10,USD,anvil,USDC,\n").encode("cp1252"),
        "csv_utf16_bom.csv": (HEADER + "\nU-1,C1,10.00,USD,anvil,USDC,\n").encode("utf-16"),
        "csv_utf16le_no_bom.csv": (HEADER + "\nU-1,C1,10.00,USD,anvil,USDC,\n").encode("utf-16-le"),
        "csv_utf32.csv": (HEADER + "\n").encode("utf-32"),
        "csv_nul_byte.csv": (HEADER + "\nN-1,C\x001,10.00,USD,anvil,USDC,\n").encode(),
        "csv_binary_random.csv": random.Random(9).randbytes(4096),
        "csv_png_header.csv": b"\x89PNG\r\n\x1a\n" + random.Random(3).randbytes(256),
        "csv_gzip.csv": b"\x1f\x8b\x08\x00" + random.Random(4).randbytes(128),
        "csv_truncated_utf8.csv": (HEADER + "\nT-1,C1,10.00,USD,anvil,USDC,").encode()
        + "€".encode()[:2],
        "invoices.txt": b"invoice_id\n",
        "no_suffix": (HEADER + "\n").encode(),
    }
    for name, body in file_level.items():
        cases[name] = (body, 2, [])


def build() -> Cases:
    cases: Cases = {}
    _amount_cases(cases)
    _id_cases(cases)
    _date_cases(cases)
    _json_shape_cases(cases)
    _csv_shape_cases(cases)
    return cases


def main() -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    CORPUS.mkdir()
    expected: dict[str, dict[str, object]] = {}
    for name, (body, exit_code, stored) in sorted(build().items()):
        (CORPUS / name).write_bytes(body)
        expected[name] = {"exit": exit_code, "stored": stored}
    directory = CORPUS / "a_directory.csv"  # a directory given as the file
    directory.mkdir()
    (directory / "README").write_text("a directory named like an invoice file\n")
    expected["a_directory.csv"] = {"exit": 2, "stored": []}
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    print(f"{len(expected)} cases written to {CORPUS}")


if __name__ == "__main__":
    main()
