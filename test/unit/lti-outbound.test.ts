// Which addresses a stranger's URL may lead the tool to (lti/outbound.ts), in every written form.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyAddress, hostAllowList } from '../../lti/outbound.ts';

describe('outbound addresses', () => {
  it('classes every special-purpose address as not public, IPv4 and IPv6 alike', () => {
    const cases: Array<[string, ReturnType<typeof classifyAddress>]> = [
      ['8.8.8.8', 'public'],
      ['2606:4700:4700::1111', 'public'],
      ['127.0.0.1', 'private'],
      ['127.255.255.254', 'private'],
      ['10.1.2.3', 'private'],
      ['172.31.0.1', 'private'],
      ['192.168.0.10', 'private'],
      ['100.100.100.100', 'private'],
      ['198.18.0.1', 'private'],
      ['240.0.0.1', 'private'],
      ['169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['fe80::1%eth0', 'link-local'],
      ['0.0.0.0', 'never'],
      ['0.1.2.3', 'never'],
      ['224.0.0.1', 'never'],
      ['255.255.255.255', 'never'],
      ['::', 'never'],
      ['ff02::1', 'never'],
      ['::1', 'private'],
      ['::ffff:127.0.0.1', 'private'],
      ['::ffff:7f00:1', 'private'],
      ['::ffff:169.254.169.254', 'link-local'],
      ['::ffff:8.8.8.8', 'public'],
      ['::127.0.0.1', 'private'], // IPv4-compatible
      ['64:ff9b::a00:1', 'private'], // NAT64 of 10.0.0.1
      ['64:ff9b::8.8.8.8', 'public'],
      ['64:ff9b:1::1', 'private'], // local-use NAT64
      ['fc00::1', 'private'],
      ['fd00:ec2::254', 'private'],
      ['2001:db8::1', 'private'],
      ['2002:7f00:1::1', 'private'], // 6to4 of 127.0.0.1
      ['[::1]', 'private'],
      ['not an address', 'never'],
    ];
    for (const [address, kind] of cases) assert.equal(classifyAddress(address), kind, address);
  });

  it('allows private addresses only for hosts named exactly, or under a named domain', () => {
    const allowed = hostAllowList(['moodle.campus.local', '*.lms.example.edu', '10.1.2.3', '']);
    assert.equal(allowed('moodle.campus.local'), true);
    assert.equal(allowed('MOODLE.campus.local.'), true);
    assert.equal(allowed('evil-moodle.campus.local'), false);
    assert.equal(allowed('a.lms.example.edu'), true);
    assert.equal(allowed('lms.example.edu'), false);
    assert.equal(allowed('lms.example.edu.evil.com'), false);
    assert.equal(allowed('10.1.2.3'), true);
    assert.equal(allowed('10.1.2.4'), false);
  });
});
