"""The Apple Health export parser on exports written in Apple's own format."""

from __future__ import annotations

import tracemalloc
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.support.apple_export import (
    BILLION_LAUGHS,
    EXTERNAL_ENTITY,
    IPHONE,
    WATCH,
    AppleExportBuilder,
    write_synthetic_export,
)
from wellcoach.health.apple_export import (
    WORKOUT_TYPE,
    AppleRecord,
    ExportStats,
    InvalidExport,
    device_name,
    iter_bytes,
    iter_export,
    open_export,
    parse_apple_datetime,
)

ROME = ZoneInfo("Europe/Rome")
T0 = datetime(2024, 1, 5, 8, 30, tzinfo=ROME)
Q = "HKQuantityTypeIdentifier"


def parse(data: bytes, stats: ExportStats | None = None) -> list[AppleRecord]:
    return list(iter_bytes(data, stats))


def refusal(data: bytes) -> InvalidExport:
    with pytest.raises(InvalidExport) as caught:
        parse(data)
    assert caught.value.code == "invalid_health_export"
    assert caught.value.kind == "invalid"
    return caught.value


def full_export() -> AppleExportBuilder:
    b = AppleExportBuilder()
    b.steps(T0, T0 + timedelta(minutes=10), 420)
    b.steps(T0, T0 + timedelta(minutes=10), 380, device=WATCH)
    b.heart_rate(T0, 72)
    b.resting_heart_rate(datetime(2024, 1, 5, tzinfo=ROME), 48)
    b.hrv(T0 + timedelta(hours=1), 61.5)
    b.sleep(T0 - timedelta(hours=9), T0 - timedelta(hours=1), "InBed")
    b.sleep(T0 - timedelta(hours=8), T0 - timedelta(hours=7), "AsleepDeep")
    b.mindful(T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=10))
    b.blood_pressure(T0 + timedelta(hours=3), 121, 79)
    b.workout(T0 + timedelta(hours=9), T0 + timedelta(hours=10), energy_kcal=512.5, distance_km=10)
    b.activity_summary(date(2024, 1, 5))
    b.raw(
        ' <ClinicalRecord type="HKClinicalTypeIdentifierLabResultRecord" identifier="a1"'
        ' sourceName="Ospedale" sourceURL="https://example.org/fhir" fhirVersion="4.0.1"'
        ' receivedDate="2024-01-05 09:00:00 +0100"'
        ' resourceFilePath="/clinical-records/a1.json"/>'
    )
    b.raw(
        ' <Audiogram type="HKDataTypeIdentifierAudiogram" sourceName="Mimi"'
        ' startDate="2024-01-05 10:00:00 +0100" endDate="2024-01-05 10:10:00 +0100">\n'
        '  <SensitivityPoint frequencyValue="1000" frequencyUnit="Hz" leftEarValue="10"'
        ' leftEarUnit="dBHL"/>\n </Audiogram>'
    )
    return b


def test_every_kind_of_element_is_read_or_counted() -> None:
    stats = ExportStats()
    records = parse(full_export().xml_bytes(), stats)

    assert [r.type for r in records] == [
        f"{Q}StepCount",
        f"{Q}StepCount",
        f"{Q}HeartRate",
        f"{Q}RestingHeartRate",
        f"{Q}HeartRateVariabilitySDNN",
        "HKCategoryTypeIdentifierSleepAnalysis",
        "HKCategoryTypeIdentifierSleepAnalysis",
        "HKCategoryTypeIdentifierMindfulSession",
        f"{Q}BloodPressureSystolic",
        f"{Q}BloodPressureDiastolic",
        WORKOUT_TYPE,
    ]
    steps, _, hr, rhr, hrv, in_bed, deep, mindful, *_ = records
    assert (steps.value, steps.unit) == ("420", "count")
    assert (hr.value, hr.unit) == ("72", "count/min")
    assert (rhr.value, hrv.value, hrv.unit) == ("48", "61.5", "ms")
    assert (in_bed.value, in_bed.unit) == ("HKCategoryValueSleepAnalysisInBed", None)
    assert deep.value == "HKCategoryValueSleepAnalysisAsleepDeep"
    assert mindful.value == "HKCategoryValueNotApplicable"
    assert stats == ExportStats(
        records=10,
        workouts=1,
        activity_summaries=1,
        correlations=1,
        other=4,  # ExportDate, Me, ClinicalRecord, Audiogram
        bytes_read=stats.bytes_read,
    )
    assert stats.bytes_read == len(full_export().xml_bytes())


def test_dates_are_aware_and_keep_the_instant() -> None:
    summer = datetime(2024, 7, 1, 6, 15, 30, tzinfo=UTC)
    b = AppleExportBuilder().steps(T0, T0 + timedelta(minutes=5), 10).heart_rate(summer, 60)
    winter_steps, summer_hr = parse(b.xml_bytes())

    assert b"2024-01-05 08:30:00 +0100" in b.xml_bytes()
    assert b"2024-07-01 08:15:30 +0200" in b.xml_bytes()
    assert winter_steps.start == T0
    assert winter_steps.start.utcoffset() == timedelta(hours=1)
    assert winter_steps.end - winter_steps.start == timedelta(minutes=5)
    assert summer_hr.start == summer_hr.end == summer
    assert summer_hr.start.utcoffset() == timedelta(hours=2)


def test_parse_apple_datetime() -> None:
    assert parse_apple_datetime("2024-01-05 08:30:00 +0100") == T0
    assert parse_apple_datetime("2024-01-05 13:00:00 +0530").utcoffset() == timedelta(
        hours=5, minutes=30
    )
    with pytest.raises(InvalidExport):
        parse_apple_datetime("yesterday")


def test_escaped_attributes_are_unescaped() -> None:
    b = AppleExportBuilder(owner="Giò")
    b.steps(T0, T0 + timedelta(minutes=1), 5)
    b.heart_rate(T0, 70)
    b.record(f"{Q}StepCount", T0, T0, 3, "count", source_name='Runner & "Co" <beta>')
    data = b.xml_bytes()
    phone, watch, odd = parse(data)

    assert "Giò&apos;s iPhone".encode() in data
    assert "Giò’s Apple Watch".encode() in data  # raw UTF-8, as Apple writes it
    assert b"&lt;&lt;HKDevice: " in data
    assert phone.source_name == "Giò's iPhone"
    assert watch.source_name == "Giò’s Apple Watch"
    assert odd.source_name == 'Runner & "Co" <beta>'


def test_character_references_are_resolved() -> None:
    data = AppleExportBuilder().steps(T0, T0, 1).xml_bytes()
    data = data.replace(b"Mario&apos;s", b"Mario&#8217;s")
    (record,) = parse(data)
    assert record.source_name == "Mario’s iPhone"


def test_device_names_are_extracted() -> None:
    b = AppleExportBuilder()
    b.steps(T0, T0, 1, device=IPHONE).steps(T0, T0, 2, device=WATCH)
    b.record(f"{Q}BodyMass", T0, T0, 71.5, "kg", device="", source_name="Withings")
    phone, watch, scale = parse(b.xml_bytes())

    assert (phone.device, watch.device, scale.device) == ("iPhone", "Apple Watch", None)
    assert scale.source_name == "Withings"
    assert device_name("<<HKDevice: 0x1>, name:Polar H10, manufacturer:Polar>") == "Polar H10"
    assert device_name("<<HKDevice: 0x1>, manufacturer:Garmin, name:Edge 530>") == "Edge 530"
    assert device_name("<<HKDevice: 0x1>, name:Garmin>") == "Garmin"
    assert device_name("<<HKDevice: 0x1>, localIdentifier:x, manufacturer:Y>") is None
    assert device_name("<<HKDevice: 0x1>, hostname:foo, name:Bar>") == "Bar"


def test_workouts_with_statistics_in_kcal_and_metres() -> None:
    start, end = T0, T0 + timedelta(minutes=30, seconds=30)
    b = AppleExportBuilder()
    b.workout(start, end, energy_kcal=312.4, distance_km=5.2)
    b.workout(start, end, "HKWorkoutActivityTypeCycling", 500, 20, energy_unit="kJ")
    b.workout(start, end, energy_kcal=250, distance_km=1.609344, distance_unit="mi")
    b.workout(start, end, "HKWorkoutActivityTypeSwimming", 200, 1.5, distance_unit="m")
    b.workout(start, end, "HKWorkoutActivityTypeYoga")
    running, cycling, miles, swimming, yoga = parse(b.xml_bytes())

    assert running.type == WORKOUT_TYPE
    assert running.activity == "HKWorkoutActivityTypeRunning"
    assert (running.value, running.unit) == ("30.5", "min")
    assert (running.start, running.end) == (start, end)
    assert running.device == "Apple Watch"
    assert running.energy_kcal == pytest.approx(312.4)
    assert running.distance_m == pytest.approx(5200)
    assert b'unit="kJ"' in b.xml_bytes()
    assert cycling.activity == "HKWorkoutActivityTypeCycling"
    assert cycling.energy_kcal == pytest.approx(500)
    assert cycling.distance_m == pytest.approx(20_000)
    assert miles.distance_m == pytest.approx(1609.344)
    assert swimming.distance_m == pytest.approx(1500)
    assert (yoga.energy_kcal, yoga.distance_m) == (None, None)


def test_workouts_of_older_exports_carry_totals_as_attributes() -> None:
    b = AppleExportBuilder()
    b.workout(T0, T0 + timedelta(hours=1), energy_kcal=400, distance_km=8, legacy_totals=True)
    b.workout(T0, T0 + timedelta(hours=1), energy_kcal=400, energy_unit="kJ", legacy_totals=True)
    assert b"totalEnergyBurned=" in b.xml_bytes()
    assert b'<WorkoutStatistics type="HKQuantityTypeIdentifierActive' not in b.xml_bytes()

    in_cal, in_kj = parse(b.xml_bytes())
    assert in_cal.energy_kcal == pytest.approx(400)
    assert in_cal.distance_m == pytest.approx(8000)
    assert in_kj.energy_kcal == pytest.approx(400)
    assert in_kj.distance_m is None


def test_records_nested_in_a_correlation_are_yielded() -> None:
    b = AppleExportBuilder().blood_pressure(T0, 118, 76).steps(T0, T0, 1)
    stats = ExportStats()
    systolic, diastolic, steps = parse(b.xml_bytes(), stats)

    assert (systolic.type, systolic.value, systolic.unit) == (
        f"{Q}BloodPressureSystolic",
        "118",
        "mmHg",
    )
    assert (diastolic.value, diastolic.source_name) == ("76", "Omron Connect")
    assert steps.type == f"{Q}StepCount"
    assert (stats.correlations, stats.records) == (1, 3)


def test_xml_and_zip_are_both_opened(tmp_path: Path) -> None:
    b = full_export()
    expected = parse(b.xml_bytes())
    for path in (b.write_xml(tmp_path / "export.xml"), b.write_zip(tmp_path / "export.zip")):
        stats = ExportStats()
        with open_export(path) as (stream, total):
            assert list(iter_export(stream, stats)) == expected
        assert total == stats.bytes_read == len(b.xml_bytes())


def test_the_clinical_export_in_the_zip_is_ignored(tmp_path: Path) -> None:
    b = AppleExportBuilder().steps(T0, T0, 7)
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        # listed first, and itself a well-formed XML file
        archive.writestr("apple_health_export/export_cda.xml", b"<ClinicalDocument/>")
        archive.writestr("apple_health_export/electrocardiograms/ecg_2024-01-05.csv", b"x")
        archive.writestr("apple_health_export/export.xml", b.xml_bytes())
    with open_export(path) as (stream, _):
        assert [r.value for r in iter_export(stream)] == ["7"]

    only_cda = tmp_path / "cda.zip"
    with zipfile.ZipFile(only_cda, "w") as archive:
        archive.writestr("apple_health_export/export_cda.xml", b"<ClinicalDocument/>")
    with pytest.raises(InvalidExport) as caught, open_export(only_cda):
        pass
    assert caught.value.details == {"reason": "no export.xml in the archive"}


def test_an_export_xml_elsewhere_in_the_zip_is_found(tmp_path: Path) -> None:
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "Esportazione/export.xml", AppleExportBuilder().mindful(T0, T0).xml_bytes()
        )
    with open_export(path) as (stream, _):
        (record,) = iter_export(stream)
    assert record.type == "HKCategoryTypeIdentifierMindfulSession"


@pytest.mark.parametrize(
    "content",
    [b"", b"just some text\n", b"\x89PNG\r\n\x1a\n\x00\x00", b"PK\x03\x04truncated zip"],
    ids=["empty", "text", "png", "broken-zip"],
)
def test_other_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    with pytest.raises(InvalidExport), open_export(path) as (stream, _):
        list(iter_export(stream))


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidExport), open_export(tmp_path / "nope.zip"):
        pass


def test_xml_that_is_not_health_data_is_refused() -> None:
    error = refusal(b'<?xml version="1.0"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3"/>')
    assert "root element" in error.details["reason"]


def test_billion_laughs_is_refused_before_any_expansion() -> None:
    tracemalloc.start()
    try:
        error = refusal(BILLION_LAUGHS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert error.details == {"reason": "forbidden XML construct: EntitiesForbidden"}
    assert peak < 5_000_000  # the expansion would be gigabytes


def test_external_entities_are_refused() -> None:
    error = refusal(EXTERNAL_ENTITY)
    assert error.details == {"reason": "forbidden XML construct: EntitiesForbidden"}
    parameter_entity = (
        b'<?xml version="1.0"?>\n<!DOCTYPE HealthData [\n'
        b'<!ENTITY % ext SYSTEM "file:///etc/passwd">\n%ext;\n]>\n<HealthData/>'
    )
    assert refusal(parameter_entity).details["reason"].startswith("forbidden XML construct")


def test_malformed_xml_is_refused_with_its_line() -> None:
    data = AppleExportBuilder().steps(T0, T0, 1).heart_rate(T0, 60).xml_bytes()
    broken = data.replace(b' value="60">', b' value="60"<', 1)
    error = refusal(broken)
    assert error.details["reason"] == "malformed XML"
    line = broken[: broken.index(b'value="60"<')].count(b"\n") + 1
    assert error.details["line"] == line


def test_a_truncated_file_is_refused() -> None:
    data = full_export().xml_bytes()
    for cut in (len(data) - 20, len(data) // 2, 300):
        assert refusal(data[:cut]).details["reason"] == "malformed XML"


def test_a_truncated_zip_is_refused(tmp_path: Path) -> None:
    path = full_export().write_zip(tmp_path / "export.zip")
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(InvalidExport), open_export(path) as (stream, _):
        list(iter_export(stream))


def test_a_record_without_dates_is_refused() -> None:
    data = AppleExportBuilder().steps(T0, T0, 1).xml_bytes()
    assert "without" in refusal(data.replace(b" startDate=", b" beginDate=")).details["reason"]


def test_the_synthetic_export_has_the_records_asked_for(tmp_path: Path) -> None:
    for path, zipped in ((tmp_path / "export.zip", True), (tmp_path / "export.xml", False)):
        size = write_synthetic_export(path, 3000, zip=zipped)
        stats = ExportStats()
        with open_export(path) as (stream, total):
            records = list(iter_export(stream, stats))
        assert size == path.stat().st_size
        assert stats.records == 3000
        assert stats.bytes_read == total
        assert stats.workouts > 0 and stats.activity_summaries > 0
        assert len(records) == stats.records + stats.workouts
        kinds = {r.type for r in records}
        assert {f"{Q}HeartRate", f"{Q}StepCount", f"{Q}HeartRateVariabilitySDNN"} <= kinds
        assert {r.device for r in records if r.type == f"{Q}StepCount"} == {"iPhone", "Apple Watch"}


def test_memory_stays_flat_on_a_large_export(tmp_path: Path) -> None:
    path = tmp_path / "export.xml"
    write_synthetic_export(path, 200_000)
    stats = ExportStats()
    count = 0
    tracemalloc.start()
    try:
        with open_export(path) as (stream, _):
            for _record in iter_export(stream, stats):
                count += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stats.records == 200_000
    assert count == stats.records + stats.workouts
    assert peak < 20_000_000
