"""Apple Health exports in Apple's own format, for the parser's tests and the import benchmark.

Real exports hold a person's health history, so none can live in the repository; these are
written the way the Health app writes them (its DTD, attribute order, entity escaping,
local times with their offset, nested metadata) so the parser meets the same bytes.
"""

from __future__ import annotations

import random
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

IPHONE = "iPhone"
WATCH = "Apple Watch"

# The internal DTD subset of HealthKit export version 14, as the Health app writes it.
APPLE_DTD = """<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 14 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary|ClinicalRecord|Audiogram|VisionPrescription)*)>
<!ATTLIST HealthData
  locale CDATA #REQUIRED
>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate
  value CDATA #REQUIRED
>
<!ELEMENT Me EMPTY>
<!ATTLIST Me
  HKCharacteristicTypeIdentifierDateOfBirth                   CDATA #REQUIRED
  HKCharacteristicTypeIdentifierBiologicalSex                 CDATA #REQUIRED
  HKCharacteristicTypeIdentifierBloodType                     CDATA #REQUIRED
  HKCharacteristicTypeIdentifierFitzpatrickSkinType           CDATA #REQUIRED
  HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse   CDATA #REQUIRED
>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record
  type          CDATA #REQUIRED
  unit          CDATA #IMPLIED
  value         CDATA #IMPLIED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!-- Note: Any Records that appear as children of a correlation also appear as top-level records in this document. -->
<!ELEMENT Correlation ((MetadataEntry|Record)*)>
<!ATTLIST Correlation
  type          CDATA #REQUIRED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!ELEMENT Workout ((MetadataEntry|WorkoutEvent|WorkoutRoute|WorkoutStatistics)*)>
<!ATTLIST Workout
  workoutActivityType   CDATA #REQUIRED
  duration              CDATA #IMPLIED
  durationUnit          CDATA #IMPLIED
  totalDistance         CDATA #IMPLIED
  totalDistanceUnit     CDATA #IMPLIED
  totalEnergyBurned     CDATA #IMPLIED
  totalEnergyBurnedUnit CDATA #IMPLIED
  sourceName            CDATA #REQUIRED
  sourceVersion         CDATA #IMPLIED
  device                CDATA #IMPLIED
  creationDate          CDATA #IMPLIED
  startDate             CDATA #REQUIRED
  endDate               CDATA #REQUIRED
>
<!ELEMENT WorkoutActivity ((MetadataEntry)*)>
<!ATTLIST WorkoutActivity
  uuid                 CDATA #REQUIRED
  startDate            CDATA #REQUIRED
  endDate              CDATA #IMPLIED
  duration             CDATA #IMPLIED
  durationUnit         CDATA #IMPLIED
>
<!ELEMENT WorkoutEvent ((MetadataEntry)*)>
<!ATTLIST WorkoutEvent
  type                 CDATA #REQUIRED
  date                 CDATA #REQUIRED
  duration             CDATA #IMPLIED
  durationUnit         CDATA #IMPLIED
>
<!ELEMENT WorkoutStatistics EMPTY>
<!ATTLIST WorkoutStatistics
  type                 CDATA #REQUIRED
  startDate            CDATA #REQUIRED
  endDate              CDATA #REQUIRED
  average              CDATA #IMPLIED
  minimum              CDATA #IMPLIED
  maximum              CDATA #IMPLIED
  sum                  CDATA #IMPLIED
  unit                 CDATA #IMPLIED
>
<!ELEMENT WorkoutRoute ((MetadataEntry|FileReference)*)>
<!ATTLIST WorkoutRoute
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!ELEMENT FileReference EMPTY>
<!ATTLIST FileReference
  path CDATA #REQUIRED
>
<!ELEMENT ActivitySummary EMPTY>
<!ATTLIST ActivitySummary
  dateComponents           CDATA #IMPLIED
  activeEnergyBurned       CDATA #IMPLIED
  activeEnergyBurnedGoal   CDATA #IMPLIED
  activeEnergyBurnedUnit   CDATA #IMPLIED
  appleMoveTime            CDATA #IMPLIED
  appleMoveTimeGoal        CDATA #IMPLIED
  appleExerciseTime        CDATA #IMPLIED
  appleExerciseTimeGoal    CDATA #IMPLIED
  appleStandHours          CDATA #IMPLIED
  appleStandHoursGoal      CDATA #IMPLIED
>
<!ELEMENT MetadataEntry EMPTY>
<!ATTLIST MetadataEntry
  key   CDATA #REQUIRED
  value CDATA #REQUIRED
>
<!-- Note: Heart Rate Variability records captured by Apple Watch may include an associated list of instantaneous beats-per-minute readings. -->
<!ELEMENT HeartRateVariabilityMetadataList (InstantaneousBeatsPerMinute*)>
<!ELEMENT InstantaneousBeatsPerMinute EMPTY>
<!ATTLIST InstantaneousBeatsPerMinute
  bpm  CDATA #REQUIRED
  time CDATA #REQUIRED
>
<!ELEMENT ClinicalRecord EMPTY>
<!ATTLIST ClinicalRecord
  type              CDATA #REQUIRED
  identifier        CDATA #REQUIRED
  sourceName        CDATA #REQUIRED
  sourceURL         CDATA #REQUIRED
  fhirVersion       CDATA #REQUIRED
  receivedDate      CDATA #REQUIRED
  resourceFilePath  CDATA #REQUIRED
>
<!ELEMENT Audiogram ((MetadataEntry|SensitivityPoint)*)>
<!ATTLIST Audiogram
  type          CDATA #REQUIRED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!ELEMENT SensitivityPoint EMPTY>
<!ATTLIST SensitivityPoint
  frequencyValue   CDATA #REQUIRED
  frequencyUnit    CDATA #REQUIRED
  leftEarValue     CDATA #IMPLIED
  leftEarUnit      CDATA #IMPLIED
  rightEarValue    CDATA #IMPLIED
  rightEarUnit     CDATA #IMPLIED
>
<!ELEMENT VisionPrescription ((RightEye|LeftEye|Attachment|MetadataEntry)*)>
<!ATTLIST VisionPrescription
  type             CDATA #REQUIRED
  dateIssued       CDATA #REQUIRED
  expirationDate   CDATA #IMPLIED
  brand            CDATA #IMPLIED
>
<!ELEMENT RightEye EMPTY>
<!ATTLIST RightEye
  sphere           CDATA #IMPLIED
  sphereUnit       CDATA #IMPLIED
  cylinder         CDATA #IMPLIED
  cylinderUnit     CDATA #IMPLIED
  axis             CDATA #IMPLIED
  axisUnit         CDATA #IMPLIED
>
<!ELEMENT LeftEye EMPTY>
<!ATTLIST LeftEye
  sphere           CDATA #IMPLIED
  sphereUnit       CDATA #IMPLIED
  cylinder         CDATA #IMPLIED
  cylinderUnit     CDATA #IMPLIED
  axis             CDATA #IMPLIED
  axisUnit         CDATA #IMPLIED
>
<!ELEMENT Attachment EMPTY>
<!ATTLIST Attachment
  identifier       CDATA #IMPLIED
>
]>
"""  # noqa: E501 (Apple's DTD verbatim, long lines included)

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

_DEVICES = {
    IPHONE: ("iPhone", "iPhone14,2", "17.1.2", "0x283f1c4b0"),
    WATCH: ("Watch", "Watch6,2", "10.1", "0x283d4f2a0"),
}

SLEEP_STAGES = ("InBed", "AsleepCore", "AsleepDeep", "AsleepREM", "Awake", "AsleepUnspecified")

_DISTANCE_TYPES = {
    "HKWorkoutActivityTypeCycling": "HKQuantityTypeIdentifierDistanceCycling",
    "HKWorkoutActivityTypeSwimming": "HKQuantityTypeIdentifierDistanceSwimming",
}


def escape(value: str) -> str:
    """Escape an attribute value as the Health app does: named entities, UTF-8 otherwise."""
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


def device_attribute(device: str) -> str:
    """The HKDevice description the Health app stores, before escaping."""
    model, hardware, software, address = _DEVICES.get(device, (device, device, "1.0", "0x0"))
    return (
        f"<<HKDevice: {address}>, name:{device}, manufacturer:Apple Inc., model:{model}, "
        f"hardware:{hardware}, software:{software}>"
    )


def _attrs(pairs: list[tuple[str, object | None]]) -> str:
    return "".join(f' {k}="{escape(str(v))}"' for k, v in pairs if v is not None)


def _num(value: float) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _beat_time(at: datetime) -> str:
    hour = at.hour % 12 or 12
    half = "AM" if at.hour < 12 else "PM"
    return f"{hour}:{at.minute:02d}:{at.second:02d}.{at.microsecond // 10000:02d} {half}"


class AppleExportBuilder:
    """An export assembled element by element, in the order the test adds them."""

    def __init__(self, tz: str = "Europe/Rome", owner: str = "Mario") -> None:
        self.tz = ZoneInfo(tz)
        self.owner = owner
        self.iphone_name = f"{owner}'s iPhone"  # written with &apos;
        self.watch_name = f"{owner}\u2019s Apple Watch"  # written as UTF-8, as Apple does
        self._body: list[str] = []
        self._latest: datetime | None = None

    # -- formatting

    def stamp(self, at: datetime) -> str:
        """A datetime as Apple writes it: local time in the export's zone, with its offset."""
        if at.tzinfo is None:
            raise ValueError("the builder takes aware datetimes")
        if self._latest is None or at > self._latest:
            self._latest = at
        return at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S %z")

    def _source(self, device: str, source_name: str | None) -> str:
        if source_name is not None:
            return source_name
        return self.watch_name if device == WATCH else self.iphone_name

    def raw(self, fragment: str) -> AppleExportBuilder:
        """Add XML as is, for elements the builder has no method for."""
        self._body.append(fragment if fragment.endswith("\n") else fragment + "\n")
        return self

    # -- records

    def _record_xml(
        self,
        type: str,
        start: datetime,
        end: datetime,
        value: str | float | None,
        unit: str | None,
        *,
        device: str | None,
        source_name: str | None,
        metadata: dict[str, str] | None,
        hrv_beats: list[int] | None,
        indent: str = " ",
    ) -> str:
        source = self._source(device or IPHONE, source_name)
        version = _DEVICES.get(device or IPHONE, ("", "", "17.1.2", ""))[2]
        head = "<Record" + _attrs(
            [
                ("type", type),
                ("sourceName", source),
                ("sourceVersion", version),
                ("device", device_attribute(device) if device else None),
                ("unit", unit),
                ("creationDate", self.stamp(end)),
                ("startDate", self.stamp(start)),
                ("endDate", self.stamp(end)),
                ("value", _num(value) if isinstance(value, float | int) else value),
            ]
        )
        children: list[str] = []
        for key, val in (metadata or {}).items():
            children.append(f"{indent} <MetadataEntry{_attrs([('key', key), ('value', val)])}/>")
        if hrv_beats:
            children.append(f"{indent} <HeartRateVariabilityMetadataList>")
            at = start.astimezone(self.tz)
            for bpm in hrv_beats:
                at += timedelta(seconds=60 / bpm)
                children.append(
                    f'{indent}  <InstantaneousBeatsPerMinute bpm="{bpm}" time="{_beat_time(at)}"/>'
                )
            children.append(f"{indent} </HeartRateVariabilityMetadataList>")
        if not children:
            return f"{indent}{head}/>"
        return "\n".join([f"{indent}{head}>", *children, f"{indent}</Record>"])

    def record(
        self,
        type: str,
        start: datetime,
        end: datetime,
        value: str | float | None,
        unit: str | None,
        *,
        device: str = IPHONE,
        source_name: str | None = None,
        metadata: dict[str, str] | None = None,
        hrv_beats: list[int] | None = None,
    ) -> AppleExportBuilder:
        return self.raw(
            self._record_xml(
                type,
                start,
                end,
                value,
                unit,
                device=device or None,
                source_name=source_name,
                metadata=metadata,
                hrv_beats=hrv_beats,
            )
        )

    def steps(
        self, start: datetime, end: datetime, count: int, *, device: str = IPHONE
    ) -> AppleExportBuilder:
        return self.record(
            "HKQuantityTypeIdentifierStepCount", start, end, count, "count", device=device
        )

    def heart_rate(self, at: datetime, bpm: float, *, device: str = WATCH) -> AppleExportBuilder:
        return self.record(
            "HKQuantityTypeIdentifierHeartRate",
            at,
            at,
            bpm,
            "count/min",
            device=device,
            metadata={"HKMetadataKeyHeartRateMotionContext": "0"},
        )

    def resting_heart_rate(self, day_at: datetime, bpm: float) -> AppleExportBuilder:
        return self.record(
            "HKQuantityTypeIdentifierRestingHeartRate",
            day_at,
            day_at + timedelta(hours=23, minutes=59),
            bpm,
            "count/min",
            device=WATCH,
        )

    def hrv(self, at: datetime, ms: float) -> AppleExportBuilder:
        return self.record(
            "HKQuantityTypeIdentifierHeartRateVariabilitySDNN",
            at,
            at + timedelta(seconds=60),
            ms,
            "ms",
            device=WATCH,
            hrv_beats=[62, 64, 61, 63, 65, 60],
        )

    def sleep(self, start: datetime, end: datetime, stage: str) -> AppleExportBuilder:
        if stage not in SLEEP_STAGES:
            raise ValueError(f"unknown sleep stage {stage!r}")
        return self.record(
            "HKCategoryTypeIdentifierSleepAnalysis",
            start,
            end,
            f"HKCategoryValueSleepAnalysis{stage}",
            None,
            device=WATCH,
            metadata={"HKTimeZone": self.tz.key},
        )

    def mindful(self, start: datetime, end: datetime) -> AppleExportBuilder:
        return self.record(
            "HKCategoryTypeIdentifierMindfulSession",
            start,
            end,
            "HKCategoryValueNotApplicable",
            None,
            device=WATCH,
        )

    def blood_pressure(self, at: datetime, systolic: int, diastolic: int) -> AppleExportBuilder:
        """A Correlation with its two Records inside (Apple also lists them at top level)."""
        inner = [
            self._record_xml(
                f"HKQuantityTypeIdentifierBloodPressure{kind}",
                at,
                at,
                value,
                "mmHg",
                device=None,
                source_name="Omron Connect",
                metadata=None,
                hrv_beats=None,
                indent="  ",
            )
            for kind, value in (("Systolic", systolic), ("Diastolic", diastolic))
        ]
        head = "<Correlation" + _attrs(
            [
                ("type", "HKCorrelationTypeIdentifierBloodPressure"),
                ("sourceName", "Omron Connect"),
                ("sourceVersion", "7.2"),
                ("creationDate", self.stamp(at)),
                ("startDate", self.stamp(at)),
                ("endDate", self.stamp(at)),
            ]
        )
        return self.raw("\n".join([f" {head}>", *inner, " </Correlation>"]))

    # -- workouts and summaries

    def workout(
        self,
        start: datetime,
        end: datetime,
        activity: str = "HKWorkoutActivityTypeRunning",
        energy_kcal: float | None = None,
        distance_km: float | None = None,
        device: str = WATCH,
        *,
        energy_unit: str = "Cal",
        distance_unit: str = "km",
        legacy_totals: bool = False,
    ) -> AppleExportBuilder:
        """A workout as iOS 16+ writes it (WorkoutStatistics), or with `legacy_totals` as
        older exports did (totalEnergyBurned/totalDistance attributes)."""
        energy = None
        if energy_kcal is not None:
            energy = energy_kcal * 4.184 if energy_unit == "kJ" else energy_kcal
        distance = None
        if distance_km is not None:
            factor = {"km": 1.0, "m": 1000.0, "mi": 1 / 1.609344}[distance_unit]
            distance = distance_km * factor
        minutes = (end - start).total_seconds() / 60
        attrs: list[tuple[str, object | None]] = [
            ("workoutActivityType", activity),
            ("duration", f"{minutes:.6g}"),
            ("durationUnit", "min"),
        ]
        if legacy_totals:
            attrs += [
                ("totalDistance", _num(distance) if distance is not None else None),
                ("totalDistanceUnit", distance_unit if distance is not None else None),
                ("totalEnergyBurned", _num(energy) if energy is not None else None),
                ("totalEnergyBurnedUnit", energy_unit if energy is not None else None),
            ]
        attrs += [
            ("sourceName", self._source(device, None)),
            ("sourceVersion", _DEVICES.get(device, ("", "", "10.1", ""))[2]),
            ("device", device_attribute(device)),
            ("creationDate", self.stamp(end)),
            ("startDate", self.stamp(start)),
            ("endDate", self.stamp(end)),
        ]
        s, e = self.stamp(start), self.stamp(end)
        children = [
            '  <MetadataEntry key="HKIndoorWorkout" value="0"/>',
            f'  <MetadataEntry key="HKTimeZone" value="{escape(self.tz.key)}"/>',
            '  <MetadataEntry key="HKAverageMETs" value="9.8 kcal/hr·kg"/>',
            f'  <WorkoutEvent type="HKWorkoutEventTypeSegment" date="{s}" '
            f'duration="{minutes:.6g}" durationUnit="min"/>',
        ]
        if not legacy_totals:
            if energy is not None:
                children.append(
                    '  <WorkoutStatistics type="HKQuantityTypeIdentifierActiveEnergyBurned" '
                    f'startDate="{s}" endDate="{e}" sum="{_num(energy)}" unit="{energy_unit}"/>'
                )
            if distance is not None:
                kind = _DISTANCE_TYPES.get(
                    activity, "HKQuantityTypeIdentifierDistanceWalkingRunning"
                )
                children.append(
                    f'  <WorkoutStatistics type="{kind}" startDate="{s}" endDate="{e}" '
                    f'sum="{_num(distance)}" unit="{distance_unit}"/>'
                )
            children.append(
                '  <WorkoutStatistics type="HKQuantityTypeIdentifierHeartRate" '
                f'startDate="{s}" endDate="{e}" average="142" minimum="98" maximum="171" '
                'unit="count/min"/>'
            )
        local = start.astimezone(self.tz)
        route = f"route_{local:%Y-%m-%d}_{local.hour % 12 or 12}.{local:%M}{local:%p}".lower()
        children += [
            f"  <WorkoutRoute{_attrs([('sourceName', self._source(device, None))])}"
            f' sourceVersion="10.1" creationDate="{e}" startDate="{s}" endDate="{e}">',
            f'   <FileReference path="/workout-routes/{route}.gpx"/>',
            "  </WorkoutRoute>",
        ]
        return self.raw("\n".join([f" <Workout{_attrs(attrs)}>", *children, " </Workout>"]))

    def activity_summary(
        self,
        day: date,
        active_kcal: float = 450.2,
        exercise_min: int = 35,
        stand_hours: int = 10,
        *,
        active_goal: float = 500,
        exercise_goal: int = 30,
        stand_goal: int = 12,
    ) -> AppleExportBuilder:
        return self.raw(
            f' <ActivitySummary dateComponents="{day.isoformat()}" '
            f'activeEnergyBurned="{_num(active_kcal)}" '
            f'activeEnergyBurnedGoal="{_num(active_goal)}" '
            'activeEnergyBurnedUnit="Cal" appleMoveTime="0" appleMoveTimeGoal="0" '
            f'appleExerciseTime="{exercise_min}" appleExerciseTimeGoal="{exercise_goal}" '
            f'appleStandHours="{stand_hours}" appleStandHoursGoal="{stand_goal}"/>'
        )

    # -- output

    def header(self, exported_at: datetime | None = None) -> str:
        """Everything before the first record: declaration, DTD, root, ExportDate, Me."""
        when = exported_at or self._latest or datetime(2024, 1, 31, 12, tzinfo=self.tz)
        return (
            XML_DECLARATION
            + APPLE_DTD
            + '<HealthData locale="en_US">\n'
            + f' <ExportDate value="{self.stamp(when)}"/>\n'
            + ' <Me HKCharacteristicTypeIdentifierDateOfBirth="1994-03-12"'
            ' HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexMale"'
            ' HKCharacteristicTypeIdentifierBloodType="HKBloodTypeNotSet"'
            ' HKCharacteristicTypeIdentifierFitzpatrickSkinType="HKFitzpatrickSkinTypeNotSet"'
            ' HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse="None"/>\n'
        )

    def xml_bytes(self) -> bytes:
        return (self.header() + "".join(self._body) + "</HealthData>\n").encode("utf-8")

    def write_xml(self, path: Path) -> Path:
        path.write_bytes(self.xml_bytes())
        return path

    def write_zip(self, path: Path) -> Path:
        """The zip the Health app shares: export.xml beside the clinical export.xml decoy."""
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("apple_health_export/export.xml", self.xml_bytes())
            archive.writestr("apple_health_export/export_cda.xml", CDA_DECOY)
        return path


CDA_DECOY = (
    XML_DECLARATION + '<ClinicalDocument xmlns="urn:hl7-org:v3"><title>Health Data Export</title>'
    "</ClinicalDocument>\n"
).encode()

# -- the synthetic export of the import benchmark


class _Clock:
    """Fast local timestamps for the synthetic export: one offset per day, strings built by
    hand, since strftime on millions of datetimes would dominate the benchmark."""

    def __init__(self, tz: ZoneInfo, first: date) -> None:
        self.tz = tz
        self.first = first
        self._days: dict[int, tuple[str, str]] = {}

    def day(self, index: int) -> tuple[str, str]:
        cached = self._days.get(index)
        if cached is None:
            d = self.first + timedelta(days=index)
            noon = datetime(d.year, d.month, d.day, 12, tzinfo=self.tz)
            cached = (f"{d.isoformat()} ", noon.strftime(" %z"))
            if len(self._days) > 4:
                self._days.clear()
            self._days[index] = cached
        return cached

    def at(self, day_index: int, second: int) -> str:
        extra, second = divmod(second, 86400)
        prefix, offset = self.day(day_index + extra)
        hours, rest = divmod(second, 3600)
        return f"{prefix}{hours:02d}:{rest // 60:02d}:{rest % 60:02d}{offset}"


def _synthetic_elements(
    builder: AppleExportBuilder, clock: _Clock, rng: random.Random
) -> Iterator[str]:
    """Yield top-level elements, day after day, forever."""
    watch = _attrs(
        [
            ("sourceName", builder.watch_name),
            ("sourceVersion", "10.1"),
            ("device", device_attribute(WATCH)),
        ]
    )
    phone = _attrs(
        [
            ("sourceName", builder.iphone_name),
            ("sourceVersion", "17.1.2"),
            ("device", device_attribute(IPHONE)),
        ]
    )
    hr_type = ' <Record type="HKQuantityTypeIdentifierHeartRate"'
    steps_type = ' <Record type="HKQuantityTypeIdentifierStepCount"'
    motion = '  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="0"/>\n </Record>\n'
    day = 0
    while True:
        at = clock.at
        # nightly sleep, from about 23:00 of the previous evening
        t = 23 * 3600 + rng.randrange(-3600, 3600) - 86400
        s, e = at(day, t), at(day, t + 8 * 3600)
        yield (
            f' <Record type="HKCategoryTypeIdentifierSleepAnalysis"{phone} creationDate="{e}"'
            f' startDate="{s}" endDate="{e}" value="HKCategoryValueSleepAnalysisInBed"/>\n'
        )
        t += 300
        while t < 6 * 3600 + 1800:
            stage = rng.choice(("AsleepCore", "AsleepCore", "AsleepDeep", "AsleepREM", "Awake"))
            length = rng.randrange(600, 3000)
            s, e = at(day, t), at(day, t + length)
            yield (
                f' <Record type="HKCategoryTypeIdentifierSleepAnalysis"{watch} creationDate="{e}"'
                f' startDate="{s}" endDate="{e}" value="HKCategoryValueSleepAnalysis{stage}">\n'
                f'  <MetadataEntry key="HKTimeZone" value="{builder.tz.key}"/>\n </Record>\n'
            )
            t += length
        # resting heart rate and HRV with its beat-to-beat list
        s, e = at(day, 0), at(day, 86340)
        yield (
            f' <Record type="HKQuantityTypeIdentifierRestingHeartRate"{watch} unit="count/min"'
            f' creationDate="{e}" startDate="{s}" endDate="{e}" value="{rng.randrange(44, 60)}"/>\n'
        )
        for hour in (3, 9, 14, 19):
            t = hour * 3600 + rng.randrange(3000)
            s, e = at(day, t), at(day, t + 60)
            clock_time = f"{(hour % 12) or 12}:{t % 3600 // 60:02d}"
            half = "AM" if hour < 12 else "PM"
            beats = "".join(
                f'   <InstantaneousBeatsPerMinute bpm="{rng.randrange(55, 75)}"'
                f' time="{clock_time}:{i * 7 % 60:02d}.{i * 13 % 100:02d} {half}"/>\n'
                for i in range(8)
            )
            yield (
                f' <Record type="HKQuantityTypeIdentifierHeartRateVariabilitySDNN"{watch} unit="ms"'
                f' creationDate="{e}" startDate="{s}" endDate="{e}"'
                f' value="{rng.uniform(35, 90):.5g}">\n'
                f"  <HeartRateVariabilityMetadataList>\n{beats}"
                "  </HeartRateVariabilityMetadataList>\n </Record>\n"
            )
        # heart rate every few minutes while awake, steps from both devices overlapping
        t = 7 * 3600
        while t < 23 * 3600:
            s = at(day, t)
            yield (
                f'{hr_type}{watch} unit="count/min" creationDate="{s}" startDate="{s}"'
                f' endDate="{s}" value="{rng.randrange(55, 150)}">\n{motion}'
            )
            if t % 600 < 300:
                for dev in (phone, watch):
                    s, e = at(day, t), at(day, t + 540)
                    yield (
                        f'{steps_type}{dev} unit="count" creationDate="{e}" startDate="{s}"'
                        f' endDate="{e}" value="{rng.randrange(20, 1200)}"/>\n'
                    )
            t += rng.randrange(200, 400)
        # a workout every other day, and the day's activity summary
        if day % 2 == 0:
            t = 18 * 3600
            minutes = rng.randrange(30, 70)
            s, e = at(day, t), at(day, t + minutes * 60)
            yield (
                f' <Workout workoutActivityType="HKWorkoutActivityTypeRunning" duration="{minutes}"'
                f' durationUnit="min"{watch} creationDate="{e}" startDate="{s}" endDate="{e}">\n'
                '  <MetadataEntry key="HKIndoorWorkout" value="0"/>\n'
                f'  <WorkoutEvent type="HKWorkoutEventTypeSegment" date="{s}" duration="{minutes}"'
                ' durationUnit="min"/>\n'
                '  <WorkoutStatistics type="HKQuantityTypeIdentifierActiveEnergyBurned"'
                f' startDate="{s}" endDate="{e}" sum="{minutes * 10.4:.5g}" unit="Cal"/>\n'
                '  <WorkoutStatistics type="HKQuantityTypeIdentifierDistanceWalkingRunning"'
                f' startDate="{s}" endDate="{e}" sum="{minutes * 0.17:.4g}" unit="km"/>\n'
                f'  <WorkoutRoute{watch} creationDate="{e}" startDate="{s}" endDate="{e}">\n'
                f'   <FileReference path="/workout-routes/route_{day}.gpx"/>\n'
                "  </WorkoutRoute>\n </Workout>\n"
            )
        d = clock.first + timedelta(days=day)
        yield (
            f' <ActivitySummary dateComponents="{d.isoformat()}"'
            f' activeEnergyBurned="{rng.uniform(200, 900):.5g}" activeEnergyBurnedGoal="500"'
            ' activeEnergyBurnedUnit="Cal" appleMoveTime="0" appleMoveTimeGoal="0"'
            f' appleExerciseTime="{rng.randrange(0, 90)}" appleExerciseTimeGoal="30"'
            f' appleStandHours="{rng.randrange(6, 16)}" appleStandHoursGoal="12"/>\n'
        )
        day += 1


def _write_synthetic(out: IO[bytes], records: int, start: datetime) -> None:
    builder = AppleExportBuilder()
    clock = _Clock(builder.tz, start.astimezone(builder.tz).date())
    rng = random.Random(20240105)
    out.write(builder.header(start).encode())
    written = 0
    batch: list[str] = []
    if records > 0:
        for element in _synthetic_elements(builder, clock, rng):
            batch.append(element)
            if element.startswith(" <Record"):
                written += 1
                if written == records:
                    break
            if len(batch) >= 2000:
                out.write("".join(batch).encode())
                batch.clear()
    batch.append("</HealthData>\n")
    out.write("".join(batch).encode())


def write_synthetic_export(
    path: Path, records: int, *, start: datetime | None = None, zip: bool = False
) -> int:
    """Stream a realistic export of `records` Records (a mix: minute-level heart rate from the
    watch, step counts from both iPhone and Watch overlapping, nightly sleep stages, daily
    resting HR and HRV with metadata lists, some workouts with statistics, ActivitySummary per
    day) to `path` without holding it in memory; returns bytes written to `path`."""
    first = start or datetime(2018, 1, 1, tzinfo=ZoneInfo("Europe/Rome"))
    if zip:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
            with archive.open("apple_health_export/export.xml", "w", force_zip64=True) as member:
                _write_synthetic(member, records, first)
            archive.writestr("apple_health_export/export_cda.xml", CDA_DECOY)
    else:
        with path.open("wb") as out:
            _write_synthetic(out, records, first)
    return path.stat().st_size


def _entity_header(declarations: str) -> str:
    return (
        XML_DECLARATION
        + "<!DOCTYPE HealthData [\n<!ELEMENT HealthData ANY>\n<!ELEMENT Record ANY>\n"
        + declarations
        + "]>\n"
    )


_LAUGHS = '<!ENTITY lol0 "lollollollollollollollollollol">\n' + "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10)
)

BILLION_LAUGHS: bytes = (
    _entity_header(_LAUGHS)
    + '<HealthData locale="en_US">\n'
    + ' <Record type="HKQuantityTypeIdentifierStepCount" sourceName="&lol9;" unit="count"'
    ' startDate="2024-01-05 08:30:00 +0100" endDate="2024-01-05 08:40:00 +0100" value="1"/>\n'
    + "</HealthData>\n"
).encode()

EXTERNAL_ENTITY: bytes = (
    _entity_header('<!ENTITY xxe SYSTEM "file:///etc/passwd">\n')
    + '<HealthData locale="en_US">\n'
    + ' <Record type="HKQuantityTypeIdentifierStepCount" sourceName="x" unit="count"'
    ' startDate="2024-01-05 08:30:00 +0100" endDate="2024-01-05 08:40:00 +0100" value="1">'
    "&xxe;</Record>\n" + "</HealthData>\n"
).encode()
