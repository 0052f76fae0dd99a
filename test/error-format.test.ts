import { scrubValues } from '../src/server/error-format';

describe('scrubValues', () => {
  it.each([
    [
      'Variable "$t" got invalid value { refreshTokn: "s3cret" }; Field "refreshTokn" is not defined by type "TokenInput".',
      'Variable "$t" got an invalid value; Field "refreshTokn" is not defined by type "TokenInput".',
    ],
    [
      'Variable "$t" got invalid value "s3cret" at "t.expiresIn"; Int cannot represent non-integer value: "s3cret"',
      'Variable "$t" got an invalid value; Int cannot represent this value',
    ],
    ['String cannot represent a non string value: {nested: "s3cret"}', 'String cannot represent this value'],
    ['DateTime cannot represent an invalid date-time-string s3cret.', 'DateTime cannot represent this value'],
    ['Expected value of type "Int", found "s3cret".', 'Expected value of type "Int"'],
    ['Syntax Error: Unexpected Name "s3cret".', 'Syntax Error: Unexpected Name "…".'],
    ['Syntax Error: Unterminated string.', 'Syntax Error: Unterminated string.'],
  ])('%s', (input, expected) => {
    const out = scrubValues(input);
    expect(out).not.toContain('s3cret');
    expect(out).toBe(expected);
  });

  it('keeps names that help the caller', () => {
    expect(scrubValues('Cannot query field "nope" on type "TokenPage".')).toBe('Cannot query field "nope" on type "TokenPage".');
  });
});
