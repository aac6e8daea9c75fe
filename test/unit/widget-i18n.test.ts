// The widget's catalogue: English and Simplified Chinese both complete, the locale mapping, and
// placeholders filled in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CATALOGUES, languageOf, translator } from '../../widget/i18n.ts';

describe('widget strings', () => {
  it('has every English string in Chinese too, translated and with the same placeholders', () => {
    const en = CATALOGUES.en;
    const zh = CATALOGUES['zh-CN'];
    assert.deepEqual(Object.keys(zh).sort(), Object.keys(en).sort());
    for (const [key, text] of Object.entries(en) as Array<[keyof typeof en, string]>) {
      assert.ok(zh[key].trim() !== '', `${key} is empty in zh-CN`);
      assert.notEqual(zh[key], text, `${key} is not translated`);
      const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      assert.deepEqual(placeholders(zh[key]), placeholders(text), `${key} placeholders`);
    }
  });

  it('picks Simplified Chinese for zh, zh-CN, zh_CN and zh-Hans, English for everything else', () => {
    for (const locale of ['zh', 'zh-CN', 'zh_CN', 'zh-cn', 'zh-Hans', 'zh-Hans-CN', 'zh-SG']) assert.equal(languageOf(locale), 'zh-CN', locale);
    for (const locale of ['en', 'en-US', 'fr-FR', 'zh-TW', 'zh-Hant', '', undefined, null]) assert.equal(languageOf(locale), 'en', String(locale));
  });

  it('fills placeholders', () => {
    assert.equal(translator('en')('participantsMany', { count: 12 }), '12 participants');
    assert.equal(translator('zh-CN')('removed', { reason: 'course fee not paid' }), '你已被移出本课程：course fee not paid');
  });
});
