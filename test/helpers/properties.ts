import fc from 'fast-check'

/**
 * fast-check settings for every property of the suite: a fixed seed (reproducible runs; set
 * JANUA_FC_SEED to explore others) and a bounded number of runs. On failure fast-check prints the
 * seed and the counterexample's path, so a failing run can be replayed exactly.
 */
export const FC_SEED = Number(process.env.JANUA_FC_SEED ?? 20261130)
export const propertyRuns = (runs: number): fc.Parameters<unknown> => ({ seed: FC_SEED, numRuns: Number(process.env.JANUA_FC_RUNS ?? runs) })

/** Characters a terminal treats as controls: C0, DEL, C1 (ESC and CSI start escape sequences), bidi overrides. */
export const controlCharacter = fc
  .oneof(
    fc.integer({ min: 0, max: 0x1f }),
    fc.integer({ min: 0x7f, max: 0x9f }),
    fc.constantFrom(0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069),
  )
  .map((code) => String.fromCodePoint(code))

/** Terminal escape sequences as an attacker would write them: colour, cursor moves, OSC titles and links. */
export const escapeSequence = fc.constantFrom('\u001b[31m', '\u001b[2J', '\u001b[1;1H', '\u001b]0;pwned\u0007', '\u001b]8;;http://x\u001b\\', '\u009b31m', '\r', '\n', '\u0008')

/** text with one control character or escape sequence put somewhere inside */
export const withControl = (base: fc.Arbitrary<string>) =>
  fc.tuple(base, fc.oneof(controlCharacter, escapeSequence), fc.nat()).map(([text, bad, at]) => {
    const i = text.length === 0 ? 0 : at % (text.length + 1)
    return `${text.slice(0, i)}${bad}${text.slice(i)}`
  })

/** A valid tenant slug (lowercase letter, then a-z 0-9 and single dashes, at most 40, not reserved). */
export const validSlug = fc
  .tuple(fc.constantFrom(...'abcdefghijklmnoqrstuvwxyz'), fc.array(fc.stringMatching(/^[a-z0-9]{1,5}$/), { maxLength: 5 }))
  .map(([first, parts]) => [first, ...parts].join('-').slice(0, 40).replace(/-+$/, ''))
  .filter((s) => !/^(public|janua|shared|template|templates|postgres|admin|root|default|all|none|system|tenant|tenants)$/.test(s))
