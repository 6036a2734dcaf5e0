"""Issue 9: reconcile-files inputs validated, not hoped for; ordinary states do not crash.

Headers are parsed as CSV, every refusal names file, line and column (never "line 0"), rates
must be positive, amounts are plain ASCII decimals; a hostile corpus through the CLI gives an
exit code of 0, 1 or 2 with a message and never a traceback. Reconciling with no receipts, no
requests or only exceptions is a clean, empty result."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from paybridge_reconciliation.config import ReconConfig
from paybridge_reconciliation.generate import generate, write_csvs
from paybridge_reconciliation.inputs import InputFileError, read_rates, read_receipts, read_requests
from paybridge_reconciliation.result import reconcile
from typer.testing import CliRunner

from paybridge.cli.main import app


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return write_csvs(generate(13, 40), tmp_path_factory.mktemp("inputs"))


def rewrite(source: Path, target: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    target.write_text(edit(source.read_text()))
    return target


def test_quoted_header_is_read(files, tmp_path):
    def quote(text: str) -> str:
        head, rest = text.split("\n", 1)
        return ",".join(f'"{c}"' for c in head.split(",")) + "\n" + rest

    path = rewrite(files["requests"], tmp_path / "requests.csv", quote)
    assert read_requests(path).equals(read_requests(files["requests"]))


def test_spaces_after_commas_in_header_are_read(files, tmp_path):
    def spaced(text: str) -> str:
        head, rest = text.split("\n", 1)
        return head.replace(",", ", ") + "\n" + rest

    path = rewrite(files["receipts"], tmp_path / "receipts.csv", spaced)
    assert read_receipts(path).equals(read_receipts(files["receipts"]))


def test_broken_csv_names_a_line_never_line_0(files, tmp_path):
    path = rewrite(files["receipts"], tmp_path / "receipts.csv", lambda t: t + "1,2,3,4\n")
    with pytest.raises(InputFileError) as info:
        read_receipts(path)
    lines = len(files["receipts"].read_text().splitlines())
    assert info.value.line == lines + 1
    assert "line 0" not in str(info.value) and str(path) in str(info.value)


def test_not_utf8_names_the_line(files, tmp_path):
    data = files["requests"].read_bytes().splitlines(keepends=True)
    data[3] = data[3].replace(b"INV", b"IN\xff")
    path = tmp_path / "requests.csv"
    path.write_bytes(b"".join(data))
    with pytest.raises(InputFileError) as info:
        read_requests(path)
    assert info.value.line == 4 and "UTF-8" in str(info.value)


def test_directory_and_empty_file_are_located_refusals(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    for path in (tmp_path, tmp_path / "empty.csv"):
        with pytest.raises(InputFileError) as info:
            read_requests(path)
        assert "line 0" not in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize("rate", ["0", "0.0", "0.000000"])
def test_zero_rate_is_refused(files, tmp_path, rate):
    frame = pd.read_csv(files["rates"], dtype=str, keep_default_na=False)
    frame.loc[2, "rate"] = rate
    frame.to_csv(tmp_path / "rates.csv", index=False)
    with pytest.raises(InputFileError) as info:
        read_rates(tmp_path / "rates.csv", ReconConfig().rate_scale)
    assert (info.value.line, info.value.column) == (4, "rate")


@pytest.mark.parametrize("amount", ["١٢٣", "１２３", "1e3", "1_000", "-5", "+5", "0x10"])
def test_amounts_are_plain_ascii_decimals(files, tmp_path, amount):
    frame = pd.read_csv(files["receipts"], dtype=str, keep_default_na=False)
    frame.loc[1, "amount"] = amount
    frame.to_csv(tmp_path / "receipts.csv", index=False)
    with pytest.raises(InputFileError) as info:
        read_receipts(tmp_path / "receipts.csv")
    assert (info.value.line, info.value.column) == (3, "amount")


def test_amounts_with_leading_zeros_publish_as_their_integers(files, tmp_path):
    """Amounts are published from the text as read only when it is canonical: '007' is 7."""
    receipts = pd.read_csv(files["receipts"], dtype=str, keep_default_na=False)
    requests = pd.read_csv(files["requests"], dtype=str, keep_default_na=False)
    receipts["amount"] = "00" + receipts["amount"]
    requests["amount_due"] = "0" + requests["amount_due"]
    receipts.to_csv(tmp_path / "receipts.csv", index=False)
    requests.to_csv(tmp_path / "requests.csv", index=False)
    padded_rc, plain_rc = read_receipts(tmp_path / "receipts.csv"), read_receipts(files["receipts"])
    padded_rq, plain_rq = read_requests(tmp_path / "requests.csv"), read_requests(files["requests"])
    assert padded_rc.equals(plain_rc) and padded_rq.equals(plain_rq)
    assert not plain_rc["amount_text"].str.startswith("0").any()
    rates = read_rates(files["rates"], ReconConfig().rate_scale)
    padded, plain = reconcile(padded_rq, padded_rc, rates), reconcile(plain_rq, plain_rc, rates)
    assert (plain.matches["receipt_amount"] == plain.matches["amount_applied"]).any()
    for name in ("matches", "requests_status", "exceptions", "journals"):
        pd.testing.assert_frame_equal(getattr(padded, name), getattr(plain, name))
    # and both equal the text of the integers the engine worked with
    due = plain_rq.set_index("request_id")["amount_due"]
    status = plain.requests_status.set_index("request_id")["amount_due"]
    assert status.to_dict() == {k: str(v) for k, v in due.items()}


# --- ordinary states ------------------------------------------------------------------------


def header_only(source: Path, target: Path) -> Path:
    target.write_text(source.read_text().splitlines()[0] + "\n")
    return target


def test_requests_without_receipts_is_a_clean_empty_result(files, tmp_path):
    requests = read_requests(files["requests"])
    receipts = read_receipts(header_only(files["receipts"], tmp_path / "receipts.csv"))
    result = reconcile(requests, receipts, None, ReconConfig())
    assert len(result.requests_status) == len(requests)
    assert set(result.requests_status["status"]) <= {"open", "expired"}
    assert result.matches.empty and result.exceptions.empty and result.journals.empty


def test_receipts_without_requests_are_only_exceptions(files, tmp_path):
    requests = read_requests(header_only(files["requests"], tmp_path / "requests.csv"))
    receipts = read_receipts(files["receipts"])
    result = reconcile(requests, receipts, None, ReconConfig())
    assert result.requests_status.empty and result.matches.empty and result.journals.empty
    assert len(result.exceptions) == len(receipts)


def test_nothing_at_all_is_empty(files, tmp_path):
    requests = read_requests(header_only(files["requests"], tmp_path / "requests.csv"))
    receipts = read_receipts(header_only(files["receipts"], tmp_path / "receipts.csv"))
    result = reconcile(requests, receipts, None, ReconConfig())
    assert result.requests_status.empty and result.matches.empty and result.exceptions.empty


def cli(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["reconcile-files", *args])


@pytest.mark.parametrize("empty", ["requests", "receipts", "both"])
def test_cli_header_only_inputs_exit_0(files, tmp_path, empty):
    paths = {"requests": files["requests"], "receipts": files["receipts"]}
    for name in ("requests", "receipts") if empty == "both" else (empty,):
        paths[name] = header_only(files[name], tmp_path / f"{name}.csv")
    result = cli(
        "--requests", str(paths["requests"]), "--receipts", str(paths["receipts"]),
        "--rates", str(files["rates"]), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "manifest.json").exists()


# --- a small hostile corpus through the CLI ----------------------------------------------------


def hostile_corpus(files: dict[str, Path], folder: Path) -> list[tuple[str, str, Path]]:
    """(name, which input it replaces, file)."""
    req = files["requests"].read_text()
    rec = files["receipts"].read_text()
    rates = files["rates"].read_text()
    head, body = rec.split("\n", 1)
    first = rec.splitlines()[1].split(",")
    cases: dict[str, tuple[str, bytes | str]] = {
        "empty": ("receipts", ""),
        "only_newlines": ("receipts", "\n\n\n"),
        "binary": ("receipts", bytes(range(256)) * 20),
        "utf16": ("receipts", rec.encode("utf-16")),
        "latin1_id": ("requests", req.replace("INV", "INVé", 1).encode("latin-1")),
        "bom": ("receipts", "\ufeff" + rec),
        "quoted_header": ("receipts", ",".join(f'"{c}"' for c in head.split(",")) + "\n" + body),
        "spaced_header": ("receipts", head.replace(",", ", ") + "\n" + body),
        "semicolons": ("receipts", rec.replace(",", ";")),
        "missing_column": ("receipts", rec.replace("status", "state", 1)),
        "duplicate_column": ("receipts", head + ",amount\n" + body),
        "short_row": ("receipts", rec + "1,2\n"),
        "long_row": ("receipts", rec + ",".join(["1"] * 30) + "\n"),
        "unclosed_quote": ("receipts", rec + '1,"0xab\n'),
        "nul_byte": ("receipts", rec.replace("confirmed", "conf\x00irmed", 1)),
        "huge_field": ("receipts", rec + "1," + "9" * 200_000 + ",tx,1,x,native,a,b,1,ok\n"),
        "huge_amount": ("receipts", rec + ",".join([*first[:8], "9" * 5000, first[9]]) + "\n"),
        "rate_zero": ("rates", rates.replace(rates.splitlines()[1].split(",")[4], "0", 1)),
        "rate_negative": ("rates", rates.replace(rates.splitlines()[1].split(",")[4], "-1", 1)),
        "rate_exponent": ("rates", rates.replace(rates.splitlines()[1].split(",")[4], "1e0", 1)),
        "formula_id": ("requests", req.replace("INV", '=HYPERLINK("http://e/")', 1)),
        "control_id": ("requests", req.replace("INV", "IN\x1bV", 1)),
        "crlf": ("receipts", rec.replace("\n", "\r\n")),
        "arabic_digits": ("receipts", rec + ",".join([*first[:8], "١٢٣", first[9]]) + "\n"),
        "bad_date": ("requests", req.replace("2026-", "2026-W", 1)),
        "directory": ("receipts", b""),
    }
    out = []
    for name, (which, content) in cases.items():
        path = folder / f"{name}.csv"
        if name == "directory":
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        out.append((name, which, path))
    return out


def test_hostile_corpus_exits_cleanly(files, tmp_path):
    outcomes: dict[int, list[str]] = {}
    for name, which, path in hostile_corpus(files, tmp_path):
        paths = {"requests": files["requests"], "receipts": files["receipts"]}
        paths["rates"] = files["rates"]
        paths[which] = path
        out = tmp_path / f"out-{name}"
        result = cli(
            "--requests", str(paths["requests"]), "--receipts", str(paths["receipts"]),
            "--rates", str(paths["rates"]), "--out", str(out), "--no-reports",
        )  # fmt: skip
        text = result.output
        assert result.exit_code in (0, 1, 2), (name, text, result.exception)
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            name,
            repr(result.exception),
        )
        assert "Traceback" not in text and "line 0" not in text, (name, text)
        assert text.strip(), name
        if result.exit_code != 0:
            assert not out.exists() or not (out / "manifest.json").exists(), name
        outcomes.setdefault(result.exit_code, []).append(name)
        shutil.rmtree(out, ignore_errors=True)
    print({code: sorted(names) for code, names in outcomes.items()})
    assert set(outcomes) <= {0, 2}
    for accepted in ("bom", "quoted_header", "spaced_header", "crlf", "formula_id"):
        assert accepted in outcomes[0], outcomes
    for refused in ("rate_zero", "rate_negative", "binary", "utf16", "directory", "empty"):
        assert refused in outcomes[2], outcomes


def test_errors_keep_their_order_when_requests_and_receipts_are_prepared_side_by_side():
    """run_rules prepares requests and receipts on two threads; a run with faults on both
    sides still reports what one thread would: the requests' fault, then the receipts', and
    a missing receipts column only once the receipts themselves are sound."""
    from paybridge_reconciliation.engine import run_rules
    from recon_frames import addr, receipts_frame, requests_frame

    requests = requests_frame([{"request_id": "R1", "due": 1_000_000}])
    receipts = receipts_frame([{"to": addr(1), "amount": 1_000_000}])
    no_event_key = receipts.assign(event_key=[None])
    unknown_group = ReconConfig(customer_groups={"C1": "no-such-group"})

    with pytest.raises(ValueError, match="unknown tolerance groups"):
        run_rules(requests, no_event_key, config=unknown_group)
    with pytest.raises(ValueError, match="event_key is missing"):
        run_rules(requests.drop(columns="deposit_address"), no_event_key)
    with pytest.raises(KeyError, match="to_address"):
        run_rules(requests, receipts.drop(columns="to_address"))
    assert len(run_rules(requests, receipts).matches) == 1
