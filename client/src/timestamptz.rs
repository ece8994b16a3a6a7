//! TIMESTAMPTZ values: ISO 8601 text in, microseconds since the Unix epoch (UTC) stored, ISO text in UTC
//! (`...Z`) out; ISO 8601 durations for `INTERVAL` literals; the calendar fields `time_fields` asks for. No I/O.
//!
//! A timestamp without an offset is read in a `Zone`: the request's `timezone`, else the collection's, else
//! the database's, else UTC. Values span years 1 to 9999 in UTC, as ISO's four-digit years (and Python's
//! datetime) do.

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};

/// 0001-01-01T00:00:00Z.
pub const MIN_MICROS: i64 = -62_135_596_800_000_000;
/// 9999-12-31T23:59:59.999999Z.
pub const MAX_MICROS: i64 = 253_402_300_799_999_999;

const MICROS_PER_SECOND: i64 = 1_000_000;
const MICROS_PER_DAY: i64 = 86_400 * MICROS_PER_SECOND;

/// The time zone naive timestamps are read in: UTC or an IANA zone (`Asia/Shanghai`).
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    /// The IANA zone `name`; an error naming it when the bundled time zone database has no such zone.
    pub fn named(name: &str) -> Result<Zone, String> {
        let tz = TimeZone::get(name).map_err(|_| format!("unknown timezone '{name}'"))?;
        Ok(Zone {
            name: name.to_string(),
            tz,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone's offset from UTC in seconds at UTC instant `micros`.
    fn offset_at(&self, micros: i64) -> i64 {
        // jiff's instants end a day short of year 9999's end; offsets there are the zone's last rule.
        let t = jiff::Timestamp::from_microsecond(micros).unwrap_or(if micros < 0 {
            jiff::Timestamp::MIN
        } else {
            jiff::Timestamp::MAX
        });
        i64::from(self.tz.to_offset(t).seconds())
    }

    /// The offset in seconds that turns the local time `dt` into UTC. A local time skipped by a transition
    /// (a gap) or repeated (a fold) takes the offset in force before it, as Python's `fold=0` does.
    fn offset_of_local(&self, dt: DateTime) -> i64 {
        let offset = match self.tz.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset,
            AmbiguousOffset::Gap { before, .. } | AmbiguousOffset::Fold { before, .. } => before,
        };
        i64::from(offset.seconds())
    }
}

/// A civil date and time with microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    micro: i64,
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01 (the inverse of `days_from_civil`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

impl Civil {
    fn micros(&self) -> i64 {
        let day = days_from_civil(self.year, self.month, self.day);
        day * MICROS_PER_DAY
            + ((self.hour * 60 + self.minute) * 60 + self.second) * MICROS_PER_SECOND
            + self.micro
    }

    fn of_micros(micros: i64) -> Civil {
        let (year, month, day) = civil_from_days(micros.div_euclid(MICROS_PER_DAY));
        let rem = micros.rem_euclid(MICROS_PER_DAY);
        let secs = rem / MICROS_PER_SECOND;
        Civil {
            year,
            month,
            day,
            hour: secs / 3600,
            minute: secs / 60 % 60,
            second: secs % 60,
            micro: rem % MICROS_PER_SECOND,
        }
    }
}

/// A cursor over ASCII text.
struct Scan<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Exactly `n` digits.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let d = self.s.get(self.pos..self.pos + n)?;
        if !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += n;
        Some(d.iter().fold(0, |acc, b| acc * 10 + i64::from(b - b'0')))
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `.ffffff` (1 to 9 digits; past microseconds they are dropped), or 0 when there is no fraction.
    fn fraction(&mut self) -> Option<i64> {
        if !(self.eat(b'.') || self.eat(b',')) {
            return Some(0);
        }
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = &self.s[start..self.pos];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        let micro = digits
            .iter()
            .take(6)
            .fold(0, |acc, b| acc * 10 + i64::from(b - b'0'));
        Some(micro * 10i64.pow(6u32.saturating_sub(digits.len() as u32)))
    }
}

/// `YYYY-MM-DD[(T| )HH[:MM[:SS[.ffffff]]]][Z|±HH[:MM[:SS[.ffffff]]]|±HHMM]`: the civil time and, when the
/// text has one, its offset from UTC in microseconds.
fn parse_parts(text: &str) -> Option<(Civil, Option<i64>)> {
    let mut s = Scan {
        s: text.trim().as_bytes(),
        pos: 0,
    };
    let year = s.digits(4)?;
    let month = s.eat(b'-').then(|| s.digits(2))??;
    let day = s.eat(b'-').then(|| s.digits(2))??;
    let mut c = Civil {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        micro: 0,
    };
    if matches!(s.peek(), Some(b'T' | b't' | b' ')) {
        s.pos += 1;
        c.hour = s.digits(2)?;
        if s.eat(b':') {
            c.minute = s.digits(2)?;
            if s.eat(b':') {
                c.second = s.digits(2)?;
                c.micro = s.fraction()?;
            }
        }
    }
    let offset = match s.peek() {
        None => None,
        Some(b'Z' | b'z') => {
            s.pos += 1;
            Some(0)
        }
        Some(sign @ (b'+' | b'-')) => {
            s.pos += 1;
            let hours = s.digits(2)?;
            let (mut minutes, mut seconds, mut micro) = (0, 0, 0);
            if s.eat(b':') {
                minutes = s.digits(2)?;
                if s.eat(b':') {
                    seconds = s.digits(2)?;
                    micro = s.fraction()?;
                }
            } else if let Some(m) = s.digits(2) {
                minutes = m;
            }
            if minutes > 59 || seconds > 59 {
                return None;
            }
            let total = ((hours * 60 + minutes) * 60 + seconds) * MICROS_PER_SECOND + micro;
            if total >= MICROS_PER_DAY {
                return None;
            }
            Some(if sign == b'-' { -total } else { total })
        }
        Some(_) => return None,
    };
    let valid = (1..=12).contains(&c.month)
        && c.day >= 1
        && c.day <= days_in_month(c.year, c.month)
        && c.hour < 24
        && c.minute < 60
        && c.second < 60;
    (s.pos == s.s.len() && valid && c.year >= 1).then_some((c, offset))
}

/// The UTC microseconds of an ISO 8601 timestamp; a timestamp without an offset is read in `zone`. The error
/// says what is wrong (the caller names the field).
pub fn parse(text: &str, zone: &Zone) -> Result<i64, String> {
    let (civil, offset) = parse_parts(text).ok_or_else(|| {
        format!("'{text}' is not a valid ISO 8601 timestamp (e.g. 2025-01-01T08:00:00+08:00)")
    })?;
    let offset = match offset {
        Some(o) => o,
        None => {
            let dt = DateTime::new(
                civil.year as i16,
                civil.month as i8,
                civil.day as i8,
                civil.hour as i8,
                civil.minute as i8,
                civil.second as i8,
                (civil.micro * 1000) as i32,
            )
            .map_err(|e| format!("'{text}': {e}"))?;
            zone.offset_of_local(dt) * MICROS_PER_SECOND
        }
    };
    let micros = civil.micros() - offset;
    if (MIN_MICROS..=MAX_MICROS).contains(&micros) {
        Ok(micros)
    } else {
        Err(format!(
            "'{text}' is outside the TIMESTAMPTZ range 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z"
        ))
    }
}

/// `micros` as ISO 8601 in UTC: `2024-12-31T16:00:00Z`, with six fraction digits when there are
/// microseconds (`...:00.500000Z`), as Milvus shows it.
pub fn format_utc(micros: i64) -> String {
    let c = Civil::of_micros(micros);
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    );
    if c.micro != 0 {
        out.push_str(&format!(".{:06}", c.micro));
    }
    out.push('Z');
    out
}

/// An ISO 8601 duration `P[nW][nD][T[nH][nM][nS]]` (numbers may have a fraction) in microseconds. Years and
/// months are refused: their length depends on the date they are added to.
pub fn parse_interval(text: &str) -> Result<i64, String> {
    let bad = || {
        format!("unsupported INTERVAL '{text}'; supported: P[nW][nD][T[nH][nM][nS]], e.g. P1D, PT3H, P2DT6H")
    };
    let upper = text.trim().to_ascii_uppercase();
    let body = upper.strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match body.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return Err(bad()),
        None => (body, None),
    };
    let mut total = 0f64;
    let mut any = false;
    let mut add = |part: &str, units: &[(char, f64)]| -> Result<(), String> {
        let mut rest = part;
        let mut last = None;
        while !rest.is_empty() {
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(bad)?;
            let number: f64 = rest[..end].parse().map_err(|_| bad())?;
            let unit = rest[end..].chars().next().ok_or_else(bad)?;
            let at = units.iter().position(|(u, _)| *u == unit).ok_or_else(|| {
                if matches!(unit, 'Y' | 'M') {
                    format!("INTERVAL '{text}': years and months are not supported (their length varies); use weeks, days, hours, minutes, seconds")
                } else {
                    bad()
                }
            })?;
            if last.is_some_and(|l| at <= l) {
                return Err(bad());
            }
            last = Some(at);
            total += number * units[at].1;
            any = true;
            rest = &rest[end + 1..];
        }
        Ok(())
    };
    add(date, &[('W', 7.0 * 86_400.0), ('D', 86_400.0)])?;
    if let Some(time) = time {
        add(time, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)])?;
    }
    let micros = (total * 1e6).round();
    if !any || !micros.is_finite() || micros.abs() > (MAX_MICROS - MIN_MICROS) as f64 {
        return Err(bad());
    }
    Ok(micros as i64)
}

/// A calendar field of `time_fields`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Microsecond,
}

/// `"year, month, day"` (commas or blanks between names, any case) as fields.
pub fn parse_time_fields(spec: &str) -> Result<Vec<TimeField>, String> {
    spec.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(|p| {
            Ok(match p.to_ascii_lowercase().as_str() {
                "year" => TimeField::Year,
                "month" => TimeField::Month,
                "day" => TimeField::Day,
                "hour" => TimeField::Hour,
                "minute" => TimeField::Minute,
                "second" => TimeField::Second,
                "microsecond" => TimeField::Microsecond,
                _ => return Err(format!("unsupported time_fields component '{p}'; supported: year, month, day, hour, minute, second, microsecond")),
            })
        })
        .collect()
}

/// The `fields` of instant `micros` as a clock in `zone` shows it.
pub fn time_fields(micros: i64, zone: &Zone, fields: &[TimeField]) -> Vec<i64> {
    let local = Civil::of_micros(micros + zone.offset_at(micros) * MICROS_PER_SECOND);
    fields
        .iter()
        .map(|f| match f {
            TimeField::Year => local.year,
            TimeField::Month => local.month,
            TimeField::Day => local.day,
            TimeField::Hour => local.hour,
            TimeField::Minute => local.minute,
            TimeField::Second => local.second,
            TimeField::Microsecond => local.micro,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> i64 {
        parse(text, &Zone::utc()).unwrap()
    }

    #[test]
    fn offsets_normalise_to_utc() {
        for (input, out) in [
            ("2025-01-01T00:00:00+08:00", "2024-12-31T16:00:00Z"),
            ("2025-01-03T00:00:00Z", "2025-01-03T00:00:00Z"),
            ("2024-02-29T00:00:00+03:00", "2024-02-28T21:00:00Z"),
            ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"),
            ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
            ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
            ("2000-01-01T00:00:00+01:00", "1999-12-31T23:00:00Z"),
            ("2024-12-31 22:00:00-08:00", "2025-01-01T06:00:00Z"),
            ("2025-01-01t00:00:00.5z", "2025-01-01T00:00:00.500000Z"),
            (
                "2025-01-01T00:00:00.1234569Z",
                "2025-01-01T00:00:00.123456Z",
            ),
            ("2025-01-01T00:00+0530", "2024-12-31T18:30:00Z"),
            ("2025-01-01", "2025-01-01T00:00:00Z"),
            ("1969-12-31T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z"),
        ] {
            assert_eq!(format_utc(utc(input)), out, "{input}");
        }
        assert_eq!(utc("1970-01-01T00:00:01Z"), 1_000_000);
        assert_eq!(utc(&format_utc(MAX_MICROS)), MAX_MICROS);
        assert_eq!(utc(&format_utc(MIN_MICROS)), MIN_MICROS);
    }

    #[test]
    fn naive_times_are_read_in_the_zone() {
        let shanghai = Zone::named("Asia/Shanghai").unwrap();
        let ny = Zone::named("America/New_York").unwrap();
        for (text, zone, out) in [
            ("2025-01-01T00:00:00", &shanghai, "2024-12-31T16:00:00Z"),
            ("2024-12-31 22:00:00", &shanghai, "2024-12-31T14:00:00Z"),
            ("2025-01-01T00:00:00", &ny, "2025-01-01T05:00:00Z"),
            ("2025-07-01T00:00:00", &ny, "2025-07-01T04:00:00Z"),
            // 02:30 does not exist on 2025-03-09 in New York: the offset before the gap (EST) applies.
            ("2025-03-09T02:30:00", &ny, "2025-03-09T07:30:00Z"),
            // 01:30 happens twice on 2025-11-02: the first (EDT) is meant.
            ("2025-11-02T01:30:00", &ny, "2025-11-02T05:30:00Z"),
            ("2025-01-01T00:00:00Z", &ny, "2025-01-01T00:00:00Z"),
        ] {
            assert_eq!(format_utc(parse(text, zone).unwrap()), out, "{text}");
        }
        assert_eq!(
            format_utc(utc("2025-01-01T00:00:00")),
            "2025-01-01T00:00:00Z"
        );
        assert!(Zone::named("Nope/Zone").unwrap_err().contains("Nope/Zone"));
    }

    #[test]
    fn invalid_timestamps_are_refused() {
        for bad in [
            "invalid_time_format",
            "2025-04-31T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2025-01-01T00:00:00+24:00",
            "2025-01-01T24:00:00Z",
            "2025-01-01T00:60:00Z",
            "2025-13-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2025-01-01T00:00:00Zjunk",
            "2025-01-01T00:00:00.Z",
            "2025-1-01T00:00:00Z",
            "",
            "２０２５-01-01",
        ] {
            assert!(parse(bad, &Zone::utc()).is_err(), "{bad}");
        }
    }

    #[test]
    fn intervals() {
        let day = 86_400_000_000;
        assert_eq!(parse_interval("P1D"), Ok(day));
        assert_eq!(parse_interval("p1w"), Ok(7 * day));
        assert_eq!(parse_interval("PT3H"), Ok(3 * 3_600_000_000));
        assert_eq!(
            parse_interval("P2DT6H30M1.5S"),
            Ok(2 * day + 6 * 3_600_000_000 + 30 * 60_000_000 + 1_500_000)
        );
        assert_eq!(parse_interval("P0D"), Ok(0));
        assert_eq!(parse_interval("P1.5D"), Ok(day + day / 2));
        assert!(parse_interval("P1Y")
            .unwrap_err()
            .contains("years and months"));
        assert!(parse_interval("P1M")
            .unwrap_err()
            .contains("years and months"));
        for bad in [
            "",
            "P",
            "PT",
            "1D",
            "P1H",
            "PT1D",
            "P1D1W",
            "P-1D",
            "P1DT",
            "P99999999999D",
        ] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn time_fields_in_a_zone() {
        let t = utc("2024-12-31T16:00:00Z");
        let all = parse_time_fields("year, month, day, hour, minute, second, microsecond").unwrap();
        let shanghai = Zone::named("Asia/Shanghai").unwrap();
        assert_eq!(
            time_fields(t, &shanghai, &all),
            vec![2025, 1, 1, 0, 0, 0, 0]
        );
        assert_eq!(
            time_fields(t, &Zone::utc(), &all[..4]),
            vec![2024, 12, 31, 16]
        );
        assert_eq!(time_fields(MAX_MICROS, &Zone::utc(), &all[..1]), vec![9999]);
        assert!(parse_time_fields("year, week")
            .unwrap_err()
            .contains("'week'"));
    }

    #[test]
    fn civil_days_round_trip() {
        for days in (-800_000..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!(d >= 1 && d <= days_in_month(y, m));
        }
    }
}
