import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  mtconnectNamespace,
  mtconnectTagToType,
  mtconnectTypeToTag,
  observationElement,
  xmlAttributes,
  xmlEscape,
} from '../src/mtconnect.ts'

test('namespaces name the document and the version', () => {
  assert.equal(mtconnectNamespace('Streams'), 'urn:mtconnect.org:MTConnectStreams:2.2')
  assert.equal(mtconnectNamespace('Error', '2.0'), 'urn:mtconnect.org:MTConnectError:2.0')
})

test('escaping: markup characters escaped, characters XML forbids replaced, the rest as it is', () => {
  assert.equal(xmlEscape('plain'), 'plain')
  assert.equal(xmlEscape('a<b & "c">'), 'a&lt;b &amp; &quot;c&quot;&gt;')
  assert.equal(xmlEscape('bell\u0007 tab\t nl\n'), 'bell\ufffd tab\t nl\n')
  assert.equal(xmlEscape('lone \ud800 pair \ud83d\ude00'), 'lone \ufffd pair \ud83d\ude00')
  assert.equal(xmlAttributes({ a: 1, b: undefined, c: 'x"y', d: true }), ' a="1" c="x&quot;y" d="true"')
})

test('types, tags and observation elements', () => {
  assert.equal(mtconnectTypeToTag('PART_COUNT'), 'PartCount')
  assert.equal(observationElement('POSITION', 'TIME_SERIES'), 'PositionTimeSeries')
  assert.equal(mtconnectTagToType('PartCount'), 'PART_COUNT')
  assert.equal(mtconnectTagToType('XDimension'), 'X_DIMENSION')
  assert.equal(mtconnectTagToType('x:SpindleLoad'), 'x:SPINDLE_LOAD')
  assert.equal(mtconnectTagToType('PositionTimeSeries', 'TIME_SERIES'), 'POSITION')
  assert.equal(mtconnectTagToType('VariableDataSet', 'DATA_SET'), 'VARIABLE')
  assert.equal(mtconnectTagToType('temp-1'), 'TEMP_1')
  assert.equal(mtconnectTagToType(''), 'UNKNOWN')
})

test('property: every UPPER_SNAKE type comes back from its tag', () => {
  const word = fc.stringMatching(/^[A-Z][A-Z]{1,8}$/)
  fc.assert(
    fc.property(fc.array(word, { minLength: 1, maxLength: 4 }), (words) => {
      const type = words.join('_')
      assert.equal(mtconnectTagToType(mtconnectTypeToTag(type)), type)
    }),
  )
})
