// LMS roles -> grants, and the attendance arithmetic.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { roleGrant } from '../../server/access/index.ts';
import { minutes, presentMs } from '../../server/rooms/index.ts';

const V2 = 'http://purl.imsglobal.org/vocab/lis/v2/';

describe('roles', () => {
  it('makes instructors, teaching assistants, content developers and administrators hosts, in full URIs and short forms', () => {
    for (const roles of [
      [`${V2}membership#Instructor`],
      [`${V2}membership/Instructor#TeachingAssistant`],
      [`${V2}membership#ContentDeveloper`],
      [`${V2}membership#Administrator`],
      ['Instructor'],
      ['TeachingAssistant'],
      ['ContentDeveloper'],
      ['Administrator'],
      [`${V2}institution/person#Administrator`],
      [`${V2}system/person#SysAdmin`, `${V2}system/person#User`],
    ]) {
      assert.equal(roleGrant(roles).grant, 'host', roles.join(' '));
    }
  });

  it('makes learners attendees', () => {
    assert.deepEqual(roleGrant([`${V2}membership#Learner`]), { grant: 'attendee', reason: 'enrolled as a learner' });
    assert.equal(roleGrant(['Learner']).grant, 'attendee');
    assert.equal(roleGrant([`${V2}institution/person#Student`, `${V2}membership#Learner`, `${V2}system/person#User`]).grant, 'attendee');
  });

  it('lets the course role decide over an institution role: a lecturer enrolled as a learner is a learner', () => {
    assert.equal(roleGrant([`${V2}institution/person#Instructor`, `${V2}membership#Learner`]).grant, 'attendee');
    assert.equal(roleGrant([`${V2}institution/person#Instructor`]).grant, 'host');
  });

  it('denies anything else, naming the role', () => {
    assert.deepEqual(roleGrant([`${V2}membership#Mentor`]), { grant: 'denied', reason: 'role not allowed in live classes (Mentor)' });
    assert.equal(roleGrant(['http://example.edu/roles#Auditor']).grant, 'denied');
    assert.equal(roleGrant([]).grant, 'denied');
    assert.equal(roleGrant(undefined).grant, 'denied');
    assert.equal(roleGrant([`${V2}system/person#User`]).grant, 'denied');
    // Not strings at all: ignored, then denied.
    assert.equal(roleGrant([42, null] as unknown as string[]).grant, 'denied');
  });
});

describe('attendance minutes', () => {
  const at = (minute: number) => new Date(Date.UTC(2026, 10, 24, 9, minute));
  const start = at(0);
  const end = at(50);

  it('counts overlapping stretches (two tabs) once and clips to the class', () => {
    const presence = {
      userId: 'u',
      intervals: [
        { joinedAt: at(-5), leftAt: at(10) }, // joined before the start: 10 minutes count
        { joinedAt: at(5), leftAt: at(12) }, // a second tab overlapping: +2
        { joinedAt: at(30), leftAt: null }, // still there at the end: +20
      ],
    };
    assert.equal(minutes(presentMs(presence, start, end)), 32);
  });

  it('is zero for someone who left before the class began', () => {
    assert.equal(presentMs({ userId: 'u', intervals: [{ joinedAt: at(-20), leftAt: at(-1) }] }, start, end), 0);
  });

  it('rounds to a tenth of a minute', () => {
    assert.equal(minutes(90_000), 1.5);
    assert.equal(minutes(2_999), 0);
    assert.equal(minutes(3_000), 0.1);
  });
});
