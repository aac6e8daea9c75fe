// Why ltijs refused a launch, in words for the person in front of the page. The ltijs code goes to
// the log; the page says what happened and who can fix it: the user (open it again), the LMS
// administrator (the registration or the LMS sends something wrong), or nobody yet (LMS down).
// And, for a launch the access rules refused, what the student can do about it.
import type { RefusalCode } from '../server/access/index.ts';

export interface Refusal {
  /** 401 for a launch we refuse; 502 when the LMS itself could not be reached. */
  status: number;
  title: string;
  explanation: string;
}

const ADMIN = 'Ask your LMS administrator to check how Live Classroom is registered.';
const AGAIN = 'Open the activity again from the course page.';

const CLAIM_NAMES: Record<string, string> = {
  SUB: 'user (sub)',
  MESSAGE_TYPE: 'message type',
  LTI_VERSION: 'LTI version',
  DEPLOYMENT_ID: 'deployment id',
  ROLES: 'roles',
  RESOURCE_LINK_ID: 'resource link',
  IAT: 'issue time (iat)',
  EXP: 'expiry (exp)',
  NONCE: 'nonce',
};

function misconfigured(what: string): Refusal {
  return { status: 401, title: 'This launch could not be verified', explanation: `The LMS sent a launch Live Classroom cannot accept: ${what}. ${ADMIN}` };
}

function stale(what: string): Refusal {
  return { status: 401, title: 'This launch could not be verified', explanation: `This launch ${what}. ${AGAIN}` };
}

/** `message` is ltijs' error message (a code such as NO_ROLES_CLAIM, or a JWT or HTTP error). */
export function explainRefusal(message: string | undefined, body: unknown): Refusal {
  const code = message ?? '';
  const claim = /^NO_([A-Z_]+)_CLAIM$/.exec(code);
  if (claim?.[1]) return misconfigured(`it has no ${CLAIM_NAMES[claim[1]] ?? claim[1].toLowerCase().replace(/_/g, ' ')} claim`);
  switch (code) {
    case 'UNREGISTERED_PLATFORM':
      return misconfigured('it is addressed to a client id that is not registered for this LMS');
    case 'WRONG_LTI_VERSION_CLAIM':
      return misconfigured('it is not an LTI 1.3 launch');
    case 'KEY_NOT_FOUND':
      return misconfigured("it is signed with a key the LMS does not publish in its key set");
    case 'KID_NOT_FOUND':
      return misconfigured('its header does not name the key it is signed with (kid)');
    case 'KEY_UNUSABLE':
      return misconfigured('the LMS publishes its signing key in a form Live Classroom cannot use');
    case 'NUL_IN_LTI_DATA':
      return misconfigured('it carries a NUL character, which no LTI value may hold');
    case 'invalid signature':
      return misconfigured("its signature does not match the LMS's published keys");
    case 'jwt signature is required':
    case 'ALG_NOT_RS256':
    case 'invalid algorithm':
      return misconfigured('it is not signed with RS256');
    case 'INVALID_JWT_RECEIVED':
    case 'jwt malformed':
      return misconfigured('its id_token is not a valid JWT');
    case 'AZP_DOES_NOT_MATCH_CLIENTID':
      return misconfigured('it names another client (azp)');
    case 'TOKEN_ISSUED_IN_THE_FUTURE':
    case 'jwt not active':
      return misconfigured("it is dated in the future; the LMS's clock and ours disagree");
    case 'jwt expired':
    case 'TOKEN_TOO_OLD':
      return stale('expired before it reached Live Classroom');
    case 'NONCE_ALREADY_RECEIVED':
      return stale('was already used');
    case 'MISSING_VALIDATION_COOKIE':
    case 'ISS_CLAIM_DOES_NOT_MATCH':
      return stale('does not match a sign-in started in this browser');
    case 'NO_LTIK_OR_IDTOKEN_FOUND': {
      const error = body && typeof body === 'object' ? (body as Record<string, unknown>).error : undefined;
      if (typeof error === 'string') {
        const description = (body as Record<string, unknown>).error_description;
        return {
          status: 401,
          title: 'The LMS did not sign you in',
          explanation: `The LMS answered "${error}"${typeof description === 'string' && description ? `: ${description}` : ''}. ${AGAIN}`,
        };
      }
      return { status: 401, title: 'Open Live Classroom from your course', explanation: `This page only works as part of a launch from the LMS. ${AGAIN}` };
    }
    case 'Session not found.':
      return stale('session has ended');
  }
  if (/^KEYSET_UNREACHABLE|^Response code \d+|Timeout awaiting|ECONNREFUSED|ENOTFOUND|ECONNRESET|EAI_AGAIN|socket hang up/.test(code)) {
    return {
      status: 502,
      title: 'The LMS could not be reached',
      explanation: "Live Classroom could not fetch the LMS's signing keys to check this launch. Try again in a few minutes; if it keeps happening, tell your LMS administrator.",
    };
  }
  return misconfigured('it could not be verified');
}

const ACTIVE_MEMBERS_ONLY = 'Live classes are for active members of the course. If you think this is wrong, contact your instructor.';

/** What a student refused by the access rules can do about it, by refusal (every one has its advice). */
const ACCESS_ADVICE: Readonly<Record<RefusalCode, string>> = {
  notPaid: 'This class is for students who paid the course fee. Once your payment is recorded in the course, open the class again from the course page.',
  unverified: 'Live Classroom could not confirm your payment with the LMS just now. Try again in a few minutes.',
  paymentUnsupported: 'This LMS does not let Live Classroom check payments; your instructor or LMS administrator can fix that.',
  notEnrolled: ACTIVE_MEMBERS_ONLY,
  inactive: ACTIVE_MEMBERS_ONLY,
  deleted: ACTIVE_MEMBERS_ONLY,
  role: 'Your role in this course does not give access to live classes.',
  restricted: 'Check the activity\'s conditions in the course page, or ask your instructor.',
};

export function accessAdvice(code: RefusalCode | undefined): string {
  return code === undefined ? 'If you think this is wrong, contact your instructor.' : ACCESS_ADVICE[code];
}
