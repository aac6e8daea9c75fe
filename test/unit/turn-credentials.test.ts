// Browsers get TURN credentials in the TURN REST scheme coturn checks (static-auth-secret): the
// user name is "<expiry>:<user id>", the password base64(HMAC-SHA1(secret, user name)).
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { iceServers } from '../../server/rooms/index.ts';

const signaling = (turn: { urls: string[]; secret: string | undefined }) => ({ iceServers: (userId: string) => iceServers(turn, userId) });

describe('ICE servers handed to browsers', () => {
  it('mints time-limited TURN credentials that coturn would accept', () => {
    const before = Math.floor(Date.now() / 1000);
    const [stun, turn] = signaling({ urls: ['stun:turn.example.edu:3478', 'turn:turn.example.edu:3478?transport=udp', 'turns:turn.example.edu:5349'], secret: 's3cret' }).iceServers('user-1');
    assert.deepEqual(stun, { urls: ['stun:turn.example.edu:3478'] });
    assert.ok(turn);
    assert.deepEqual(turn.urls, ['turn:turn.example.edu:3478?transport=udp', 'turns:turn.example.edu:5349']);
    const [expiry, user] = (turn.username ?? '').split(':');
    assert.equal(user, 'user-1');
    const lifetime = Number(expiry) - before;
    assert.ok(lifetime >= 12 * 3600 && lifetime <= 12 * 3600 + 5, `valid 12 hours (got ${lifetime} s)`);
    assert.equal(turn.credential, createHmac('sha1', 's3cret').update(turn.username ?? '').digest('base64'));
  });

  it('hands out nothing without servers, and no TURN entry without a secret', () => {
    assert.deepEqual(signaling({ urls: [], secret: undefined }).iceServers('u'), []);
    assert.deepEqual(signaling({ urls: ['stun:stun.example.edu'], secret: undefined }).iceServers('u'), [{ urls: ['stun:stun.example.edu'] }]);
  });
});
