"""`tagtrail lots import FILE.csv`: lot and expiry per item as ItemMaster records on the item-master topic,
each line once, refused lines named by line and column, against the real Kafka broker."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from tagtrail.config import KafkaSettings
from tagtrail.events import ItemMaster
from tagtrail.kafka import KafkaConnection, connect
from tagtrail.wire import Codec
from tagtrail_cli.commands.lots import file_digest, import_lots
from tagtrail_cli.user_errors import UserError
from tests.scans.barcodes import GS, gtin14, wrong_check_digit
from tests.scans.conftest import read_topic
from tests.services import free_port

GTIN = gtin14("0061414112345")
T0 = 1_764_000_000_000_000  # fixed-date: the injected clock of an import; nothing compares it with now

pytestmark = pytest.mark.kafka


def tagtrail(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tagtrail_cli.main", *args], capture_output=True, text=True, timeout=120)


def site_file(tmp_path: Path, kafka: KafkaConnection) -> Path:
    site = tmp_path / "site.yaml"
    site.write_text(f"kafka: {{bootstrap_servers: '{kafka.bootstrap_servers}', topic_prefix: {kafka.topics.prefix}, "
                    "partitions: 3}\n")
    return site


def item_master(kafka: KafkaConnection, expect: int | None = None) -> dict[str, ItemMaster]:
    codec = Codec("ItemMaster")
    messages = read_topic(kafka, kafka.topics.item_master, expect=expect, idle_s=1.0)
    records = [(m.key().decode(), codec.decode(m.value())) for m in messages]
    assert all(key == record.item_key for key, record in records)
    return {record.event_id: record for _, record in records}


def test_every_accepted_line_is_one_item_master_record_keyed_by_item(tmp_path, kafka) -> None:
    lots = tmp_path / "lots.csv"
    lots.write_text(
        "item,lot,expiry\n"  # fixed-date: an expiry value
        f"01/{GTIN}/21/SER-1,LOT-A,2027-01-31\n"
        "urn:epc:id:sgtin:0614141.812345.6789,LOT-B,\n"
        f"(01){GTIN}(21)SER-2,,2026-12-31\n"
        f"https://id.gs1.org/01/{GTIN}/21/SER-3?10=LOT-D,,2028-02-29\n"
        f"01{GTIN}21SER-4{GS}10LOT-E,,\n"
        "\n",
        encoding="utf-8-sig",  # a spreadsheet's BOM
    )
    done = tagtrail("lots", "import", str(lots), "--site", str(site_file(tmp_path, kafka)))
    assert done.returncode == 0, done.stderr
    assert "5 line(s) published" in done.stdout
    digest = file_digest(lots)
    records = item_master(kafka, expect=5)
    assert set(records) == {f"import/{digest}/{line}" for line in range(2, 7)}
    got = {r.item_key: (r.lot, r.expiry, r.source) for r in records.values()}
    assert got == {
        f"01/{GTIN}/21/SER-1": ("LOT-A", dt.date(2027, 1, 31), "import"),  # fixed-date: an expiry value
        "01/80614141123458/21/6789": ("LOT-B", None, "import"),
        f"01/{GTIN}/21/SER-2": (None, dt.date(2026, 12, 31), "import"),  # fixed-date: an expiry value
        f"01/{GTIN}/21/SER-3": ("LOT-D", dt.date(2028, 2, 29), "import"),  # fixed-date: a value; lot: the link's
        f"01/{GTIN}/21/SER-4": ("LOT-E", None, "import"),
    }


def test_refused_lines_name_line_and_column_the_rest_is_published_and_the_exit_is_1(tmp_path, kafka) -> None:
    lots = tmp_path / "lots.csv"
    lots.write_text(
        "item;lot;expiry\n"  # fixed-date: an expiry value
        f"01/{GTIN}/21/OK;LOT-1;2027-01-31\n"
        f"01/{wrong_check_digit(GTIN)}/21/X;LOT-1;2027-01-31\n"
        f"01/{GTIN};LOT-1;2027-01-31\n"
        f"01/{GTIN}/21/Y;LOT 1;2027-01-31\n"
        f"01/{GTIN}/21/Z;LOT-1;31.01.2027\n"
        f"01/{GTIN}/21/OK;LOT-2;2027-01-31\n"
        f"(01){GTIN}(21)W(10)LOT-9;LOT-1;\n"
        f"01/{GTIN}/21/V;;\n"
    )
    done = tagtrail("lots", "import", str(lots), "--delimiter", ";", "--site", str(site_file(tmp_path, kafka)))
    err = done.stderr
    assert done.returncode == 1, err
    for expected in (f"{lots}:3: column item: GTIN", f"{lots}:4: column item:", f"{lots}:5: column lot:",
                     f"{lots}:6: column expiry: '31.01.2027' is not a date YYYY-MM-DD",
                     f"{lots}:7: column item: 01/{GTIN}/21/OK is also on line 2", f"{lots}:8: column lot:",
                     f"{lots}:9: column lot: neither a lot nor an expiry"):
        assert expected in err, err
    records = item_master(kafka, expect=1)
    assert [r.item_key for r in records.values()] == [f"01/{GTIN}/21/OK"]


def test_the_same_file_gives_the_same_event_ids_and_an_injected_clock_the_times(tmp_path, kafka) -> None:
    lots = tmp_path / "lots.csv"
    lots.write_text(f"item,lot\n01/{GTIN}/21/SER-1,LOT-A\n")
    first = import_lots(kafka, lots, clock=lambda: T0)
    again = import_lots(kafka, lots, clock=lambda: T0 + 1)
    assert (first.accepted, again.accepted) == (1, 1)
    records = read_topic(kafka, kafka.topics.item_master, expect=2)
    decoded = [Codec("ItemMaster").decode(m.value()) for m in records]
    assert {r.event_id for r in decoded} == {f"import/{file_digest(lots)}/2"}
    assert sorted(r.recorded_at for r in decoded) == [T0, T0 + 1]


def test_a_file_without_the_columns_is_refused_before_anything_is_published(tmp_path, kafka) -> None:
    lots = tmp_path / "lots.csv"
    lots.write_text("gtin,batch\n1,2\n")
    done = tagtrail("lots", "import", str(lots), "--site", str(site_file(tmp_path, kafka)))
    assert done.returncode == 2 and "no column named item" in done.stderr
    assert read_topic(kafka, kafka.topics.item_master, idle_s=0.5) == []


def test_dry_run_checks_and_publishes_nothing(tmp_path, kafka) -> None:
    lots = tmp_path / "lots.csv"
    lots.write_text(f"item,expiry\n01/{GTIN}/21/SER-1,2027-02-30\n")  # fixed-date: an expiry value
    done = tagtrail("lots", "import", str(lots), "--dry-run", "--site", str(site_file(tmp_path, kafka)))
    assert done.returncode == 1 and f"{lots}:2: column expiry:" in done.stderr
    assert read_topic(kafka, kafka.topics.item_master, idle_s=0.5) == []


def test_the_embedded_cluster_is_refused_with_the_reason(tmp_path) -> None:
    lots = tmp_path / "lots.csv"
    lots.write_text(f"item,lot\n01/{GTIN}/21/SER-1,LOT-A\n")
    site = tmp_path / "site.yaml"
    site.write_text("site_id: s\n")
    done = tagtrail("lots", "import", str(lots), "--site", str(site))
    assert done.returncode == 2 and "needs kafka.bootstrap_servers" in done.stderr


def test_kafka_unreachable_is_a_plain_error_and_nothing_is_published(tmp_path) -> None:
    lots = tmp_path / "lots.csv"
    lots.write_text(f"item,lot\n01/{GTIN}/21/SER-1,LOT-A\n")
    conn = connect(KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}", topic_prefix="nowhere"))
    with pytest.raises(UserError, match="Kafka did not start the import's transaction") as refused:
        import_lots(conn, lots, timeout_s=2.0)
    assert refused.value.exit_code == 1
