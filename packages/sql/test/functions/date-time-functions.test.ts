// Java DateTimeFormatter patterns and zones, beyond the golden cases of scalar-cases.ts.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import {
  compilePattern,
  formatDate,
  formatTimestamp,
  parseDate,
  parseTimestamp,
} from '../../src/functions/date-time-pattern.ts'
import { localToEpoch, UTC, zoneOf } from '../../src/functions/time-zones.ts'
import { assertCode, call, date, dbl, i, s, ts } from './helpers.ts'

/** 2021-06-30T10:18:39.446Z, a Wednesday. */
const TS = 1625048319446
const fmt = (pattern: string, ms = TS, zone = 'UTC'): string =>
  formatTimestamp(compilePattern(pattern), ms, zoneOf(zone))
const parse = (text: string, pattern: string, zone = 'UTC'): number =>
  parseTimestamp(compilePattern(pattern), text, zoneOf(zone))

describe('formatting with Java pattern letters', () => {
  test('years, months, days, weekdays, quarters, eras', () => {
    assert.equal(fmt('y yy yyy yyyy uuuu'), '2021 21 2021 2021 2021')
    assert.equal(fmt('M MM MMM MMMM MMMMM L'), '6 06 Jun June J 6')
    assert.equal(fmt('d dd D DDD'), '30 30 181 181')
    assert.equal(fmt('E EEE EEEE EEEEE'), 'Wed Wed Wednesday W')
    assert.equal(fmt('Q QQ QQQ QQQQ G GGGG'), '2 02 Q2 2nd quarter AD Anno Domini')
  })

  test('hours, minutes, seconds, fractions, AM/PM', () => {
    assert.equal(fmt('H HH k h hh K a'), '10 10 10 10 10 10 AM')
    assert.equal(fmt('h a k K', 0), '12 AM 24 0')
    assert.equal(fmt('m mm s ss'), '18 18 39 39')
    assert.equal(fmt('S SS SSS SSSSSS'), '4 44 446 446000')
    assert.equal(fmt('A n'), '37119446 446000000')
  })

  test('offsets and zones', () => {
    assert.equal(fmt('X XX XXX x xxx Z ZZZZ ZZZZZ O'), 'Z Z Z +00 +00:00 +0000 GMT Z GMT')
    assert.equal(
      fmt('X XX XXX xxxx Z ZZZZ ZZZZZ O OOOO', TS, 'Asia/Kolkata'),
      '+0530 +0530 +05:30 +0530 +0530 GMT+05:30 +05:30 GMT+5:30 GMT+05:30',
    )
    assert.equal(fmt('VV z zzzz', TS, 'America/Los_Angeles'), 'America/Los_Angeles PDT Pacific Daylight Time')
    assert.equal(fmt('HH:mm z', Date.UTC(2021, 0, 15, 12), 'America/Los_Angeles'), '04:00 PST')
    assert.equal(fmt('XXX', TS, '+02:00'), '+02:00')
  })

  test("quoted text, '' for a quote, optional sections, other characters as they are", () => {
    assert.equal(fmt("yyyy-MM-dd'T'HH:mm:ss.SSSX"), '2021-06-30T10:18:39.446Z')
    assert.equal(fmt("'o''clock' HH 'h'"), "o'clock 10 h")
    assert.equal(fmt('HH[:mm]'), '10:18')
    assert.equal(formatDate(compilePattern('yyyy-MM-dd[ HH:mm]'), 18808), '2021-06-30')
  })

  test('years past 9999 and before 1 as Java writes them', () => {
    const y10000 = Date.UTC(10000, 0, 1)
    assert.equal(fmt('yyyy-MM-dd', y10000), '+10000-01-01')
    const bc = Date.UTC(0, 0, 1) - 1000 * 86_400_000 * 366
    assert.equal(fmt('u G', new Date(bc).setUTCFullYear(-5)), '-5 BC')
    assert.equal(fmt('y G', new Date(bc).setUTCFullYear(-5)), '6 BC')
  })

  test('a DATE has no time of day and a TIME no date: those letters are OFA_SQL_VALUE errors', () => {
    assertCode(() => call('FORMAT_DATE', date(18808), s('yyyy-MM-dd HH:mm')), 'OFA_SQL_VALUE', /H needs a time of day/)
    assertCode(() => call('FORMAT_TIME', [{ kind: 'TIME' }, 0], s('yyyy')), 'OFA_SQL_VALUE', /y needs a date/)
    assertCode(() => call('FORMAT_DATE', date(18808), s('yyyy X')), 'OFA_SQL_VALUE', /needs a time zone/)
  })

  test('bad patterns are OFA_SQL_VALUE errors naming the pattern', () => {
    assertCode(() => compilePattern("yyyy 'T"), 'OFA_SQL_VALUE', /quote is not closed/)
    assertCode(() => compilePattern('YYYY-ww'), 'OFA_SQL_VALUE', /pattern letter Y .*not supported/)
    assertCode(() => compilePattern('yyyy-bb'), 'OFA_SQL_VALUE', /unknown pattern letter b/)
    assertCode(() => compilePattern('HHH'), 'OFA_SQL_VALUE', /too many/)
    assertCode(() => compilePattern('[yyyy'), 'OFA_SQL_VALUE', /not closed/)
    assertCode(() => compilePattern('yyyy]'), 'OFA_SQL_VALUE', /without its/)
    assertCode(() => compilePattern('yyyy#'), 'OFA_SQL_VALUE', /reserved/)
  })
})

describe('parsing with Java pattern letters', () => {
  test('ksqlDB documentation patterns', () => {
    assert.equal(parse('2021-06-30 10:18:39.446', 'yyyy-MM-dd HH:mm:ss.SSS'), TS)
    assert.equal(parse('2021-06-30T12:18:39.446+0200', "yyyy-MM-dd'T'HH:mm:ss.SSSZ"), TS)
    assert.equal(parse('2021-06-30T10:18:39.446Z', "yyyy-MM-dd''T''HH:mm:ss.SSSX".replaceAll("''", "'")), TS)
  })

  test('adjacent numbers without separators', () => {
    assert.equal(parse('20210630101839446', 'yyyyMMddHHmmssSSS'), TS)
    assert.equal(parse('2021063010', 'yyyyMMddHH'), Date.UTC(2021, 5, 30, 10))
  })

  test('one-letter fields take one or two digits; names match without regard to case', () => {
    assert.equal(parse('6/3/2021 7:05', 'M/d/yyyy H:mm'), Date.UTC(2021, 5, 3, 7, 5))
    assert.equal(parse('30 jun 2021', 'd MMM yyyy'), Date.UTC(2021, 5, 30))
    assert.equal(parse('Wednesday, 30 June 2021', 'EEEE, d MMMM yyyy'), Date.UTC(2021, 5, 30))
    assert.equal(parse('10:18 pm', 'hh:mm a'), Date.UTC(1970, 0, 1, 22, 18))
    assert.equal(parse('12:00 AM', 'hh:mm a'), 0)
  })

  test('missing fields default to 1970-01-01T00:00:00.000', () => {
    assert.equal(parse('10:18', 'HH:mm'), Date.UTC(1970, 0, 1, 10, 18))
    assert.equal(parse('2021', 'yyyy'), Date.UTC(2021, 0, 1))
    assert.equal(parse('181 2021', 'DDD yyyy'), Date.UTC(2021, 5, 30))
  })

  test('the SMART resolver moves a day past the month end to its last day (2021-06-31 → 2021-06-30)', () => {
    assert.equal(parse('2021-06-31', 'yyyy-MM-dd'), Date.UTC(2021, 5, 30))
    assert.equal(parse('2020-02-30', 'yyyy-MM-dd'), Date.UTC(2020, 1, 29))
    assertCode(() => parse('2021-06-32', 'yyyy-MM-dd'), 'OFA_SQL_VALUE', /day 32 out of range/)
    assertCode(() => parse('2021-13-01', 'yyyy-MM-dd'), 'OFA_SQL_VALUE', /month 13 out of range/)
    assertCode(() => parse('24:00', 'HH:mm'), 'OFA_SQL_VALUE', /hour 24 out of range/)
    assertCode(() => parse('Thursday 2021-06-30', 'EEEE yyyy-MM-dd'), 'OFA_SQL_VALUE', /day of week does not match/)
  })

  test('a zone or offset in the text wins over the zone argument', () => {
    assert.equal(parse('2021-06-30 12:18:39.446 +02:00', 'yyyy-MM-dd HH:mm:ss.SSS XXX', 'Asia/Tokyo'), TS)
    assert.equal(parse('2021-06-30 12:18:39.446 Europe/Paris', 'yyyy-MM-dd HH:mm:ss.SSS VV', 'Asia/Tokyo'), TS)
    assert.equal(parse('2021-06-30 03:18:39.446 PDT', 'yyyy-MM-dd HH:mm:ss.SSS z'), TS)
    assert.equal(parse('2021-06-30 12:18:39.446 GMT+2', 'yyyy-MM-dd HH:mm:ss.SSS O'), TS)
  })

  test('optional sections are read when they match', () => {
    const p = "yyyy-MM-dd'T'HH:mm[:ss[.SSS]][XXX]"
    assert.equal(parse('2021-06-30T10:18', p), Date.UTC(2021, 5, 30, 10, 18))
    assert.equal(parse('2021-06-30T10:18:39', p), Date.UTC(2021, 5, 30, 10, 18, 39))
    assert.equal(parse('2021-06-30T12:18:39.446+02:00', p), TS)
  })

  test('text that does not match is an OFA_SQL_VALUE error with the position', () => {
    assertCode(
      () => call('PARSE_TIMESTAMP', s('2021-06-30 10:18'), s('yyyy-MM-dd HH:mm:ss')),
      'OFA_SQL_VALUE',
      /text '2021-06-30 10:18' does not match the date-time pattern 'yyyy-MM-dd HH:mm:ss' at position 17/,
    )
    assertCode(() => parse('2021-06-30x', 'yyyy-MM-dd'), 'OFA_SQL_VALUE', /unexpected text/)
    assertCode(() => parse('21-06-30', 'yyyy-MM-dd'), 'OFA_SQL_VALUE', /4 digits expected/)
    assertCode(() => parse('Jux 2021', 'MMM yyyy'), 'OFA_SQL_VALUE', /a month expected/)
  })

  test('DATE parsing ignores time fields', () => {
    assert.equal(parseDate(compilePattern('yyyy-MM-dd HH:mm'), '2021-06-30 23:59'), 18808)
  })

  test('property: parse(format(t)) is t for a pattern with every field, in several zones', () => {
    // XXXXX keeps the seconds of old local mean time offsets (Lord Howe's +10:36:20 before 1895).
    const pattern = compilePattern("uuuu-MM-dd'T'HH:mm:ss.SSSXXXXX")
    fc.assert(
      fc.property(
        fc.integer({ min: -30_000_000_000_000, max: 200_000_000_000_000 }),
        fc.constantFrom('UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', '-03:30'),
        (ms, zone) => {
          const z = zoneOf(zone)
          assert.equal(parseTimestamp(pattern, formatTimestamp(pattern, ms, z), UTC), ms)
        },
      ),
    )
  })
})

describe('time zones', () => {
  test("Java's IDs: IANA regions, UTC and GMT, offsets, the short IDs", () => {
    assert.equal(zoneOf('Europe/Paris').offsetAt(TS), 2 * 3_600_000)
    assert.equal(zoneOf('europe/paris').offsetAt(TS), 2 * 3_600_000)
    assert.equal(zoneOf('UTC').offsetAt(TS), 0)
    assert.equal(zoneOf('GMT').offsetAt(TS), 0)
    assert.equal(zoneOf('+05:30').offsetAt(TS), 5.5 * 3_600_000)
    assert.equal(zoneOf('UTC-3').offsetAt(TS), -3 * 3_600_000)
    assert.equal(zoneOf('GMT+0530').offsetAt(TS), 5.5 * 3_600_000)
    assert.equal(zoneOf('PST').offsetAt(TS), -7 * 3_600_000)
    assert.equal(zoneOf('EST').offsetAt(TS), -5 * 3_600_000)
    assert.equal(zoneOf('ECT').id, 'Europe/Paris')
  })

  test('an unknown zone is an OFA_SQL_VALUE error (Java would silently take GMT)', () => {
    assertCode(() => zoneOf('Mars/Olympus_Mons'), 'OFA_SQL_VALUE', /unknown time zone 'Mars\/Olympus_Mons'/)
    assertCode(() => call('FORMAT_TIMESTAMP', ts(0), s('yyyy'), s('PDT')), 'OFA_SQL_VALUE', /unknown time zone/)
  })

  test('a local time in a gap moves forward by the gap; in an overlap, the earlier instant', () => {
    const paris = zoneOf('Europe/Paris')
    // 2021-03-28 02:30 does not exist in Paris: 03:30 CEST, 01:30Z.
    assert.equal(localToEpoch(paris, Date.UTC(2021, 2, 28, 2, 30)), Date.UTC(2021, 2, 28, 1, 30))
    // 2021-10-31 02:30 happens twice: the first, CEST, 00:30Z.
    assert.equal(localToEpoch(paris, Date.UTC(2021, 9, 31, 2, 30)), Date.UTC(2021, 9, 31, 0, 30))
    assert.equal(localToEpoch(paris, Date.UTC(2021, 5, 30, 12)), Date.UTC(2021, 5, 30, 10))
  })

  test('offsets across the years a factory cares about, and before 1970', () => {
    const ny = zoneOf('America/New_York')
    assert.equal(ny.offsetAt(Date.UTC(1969, 6, 1)), -4 * 3_600_000)
    assert.equal(ny.offsetAt(Date.UTC(2040, 0, 1)), -5 * 3_600_000)
  })
})

describe('date arithmetic', () => {
  test('units: singular or plural, any case; an unknown unit is an OFA_SQL_VALUE error', () => {
    assert.equal(call('TIMESTAMPADD', s('Minute'), i(2), ts(0)), 120_000)
    assert.equal(call('TIMESTAMPADD', s('nanoseconds'), i(2_500_000), ts(0)), 2)
    assertCode(
      () => call('TIMESTAMPADD', s('FORTNIGHTS'), i(1), ts(0)),
      'OFA_SQL_VALUE',
      /unknown time unit FORTNIGHTS/,
    )
  })

  test('DATEADD of less than a day truncates toward zero, as Java converts units', () => {
    assert.equal(call('DATEADD', s('HOURS'), i(23), date(10)), 10)
    assert.equal(call('DATEADD', s('HOURS'), i(-25), date(10)), 9)
  })

  test('widening reaches the interval: TIMESTAMPADD takes an INTEGER interval as BIGINT, not a DOUBLE', () => {
    assertCode(() => call('TIMESTAMPADD', s('SECONDS'), dbl(1.5), ts(0)), 'OFA_SQL_FUNCTION')
  })
})
