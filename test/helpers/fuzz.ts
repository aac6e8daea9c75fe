// What a stranger sends, generated from a seed (a failure names its seed and case, and replays).
// Values that break parsers, databases and templates: control characters, NULs, broken escapes,
// prototype-pollution keys, deep nesting, wrong types, and sizes past every limit.

/** A small, fast PRNG (mulberry32): the same seed gives the same run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** What no response, page, acknowledgement or error should ever show a stranger. */
export const INTERNAL_DETAIL = /select |insert into|delete from|update "|lti_store|drizzle|Failed query|params:|\bat [\w.<>$]+ \((?:file:|node:|\/)|node_modules|\/work\/|\.ts:\d+|TypeError|ReferenceError|SyntaxError: Unexpected|ECONNREFUSED|ENOENT|EACCES/;

export const NASTY_STRINGS: readonly string[] = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u0007\u001b[31m',
  '\r\n\r\nX-Injected: 1',
  '%00',
  '%E0%A4%A',
  '%',
  '../../../../etc/passwd',
  '..%2f..%2fetc%2fpasswd',
  '<script>alert(1)</script>',
  '"><img src=x onerror=alert(1)>',
  "' OR '1'='1' --",
  '"; drop table users; --',
  '${7*7}{{7*7}}',
  '\uFFFF\uFFFE',
  '\uD800',
  '😀'.repeat(50),
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'null',
  'undefined',
  'NaN',
  '-1',
  '0',
  '1e309',
  '9007199254740993',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'x'.repeat(1_000),
  'y'.repeat(70_000),
];

/** Non-string JSON values of every kind, including deep and wide ones. */
export function nastyValues(): unknown[] {
  let deep: unknown = 'bottom';
  for (let i = 0; i < 200; i++) deep = { a: deep };
  let deepArray: unknown = [];
  for (let i = 0; i < 200; i++) deepArray = [deepArray];
  return [
    null,
    true,
    false,
    0,
    -1,
    1.5,
    2 ** 53 + 2,
    -(2 ** 63),
    1e308,
    [],
    [1, 'two', null],
    {},
    deep,
    deepArray,
    Array.from({ length: 5_000 }, (_, i) => i),
    Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, i])),
    JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}'),
    { toString: 'not a function', valueOf: 1, hasOwnProperty: 'x' },
  ];
}

/** Variants of a valid payload: each field dropped, given a wrong type or a nasty string, an extra key, a polluting key. */
export function mutations(valid: Record<string, unknown>, random: () => number): unknown[] {
  const out: unknown[] = [valid];
  for (const key of Object.keys(valid)) {
    const { [key]: _dropped, ...rest } = valid;
    out.push(rest);
    for (const value of [...NASTY_STRINGS.filter(() => random() < 0.25), ...nastyValues().filter(() => random() < 0.2)]) out.push({ ...valid, [key]: value });
  }
  out.push({ ...valid, unexpected: 'field' });
  out.push(JSON.parse(`{"__proto__": {"polluted": true}, ${JSON.stringify(valid).slice(1)}`.replace(/, }$/, '}')));
  return out;
}
