// What a request must look like before ltijs sees it. ltijs reads `req.body.state` and friends
// without checking that there is a body, and hands the login's parameters straight to its database
// lookups: a POST without a form, a JSON or multipart body, a repeated parameter or a NUL in `iss`
// would otherwise reach code that throws (an unhandled rejection inside ltijs' express 4) or answer
// with the database's error text. Here every request bound for ltijs gets a body that is a plain
// object of strings, and the login's parameters are checked: present, bounded, free of control
// characters, URLs where LTI says URLs. A refusal is a page a person can read (400/413/415).
import express, { type NextFunction, type Request, type Response } from 'express';
import { problemPage } from './pages.ts';

/** The largest launch form we read; real id_tokens are a few kilobytes, Canvas' largest tens. */
export const MAX_LAUNCH_BODY = '256kb';
const FORM_TYPE = 'application/x-www-form-urlencoded';
/** C0 controls and DEL: no LTI identifier, URL or hint carries them; NUL cannot even be stored. */
const CONTROL = /[\u0000-\u001f\u007f]/;
/** What ltijs' state (hex, URL-encoded) and our client ids look like. */
const STATE = /^[A-Za-z0-9%._~-]{1,200}$/;

/** A request refused before ltijs, with the status and the page's words. */
export class LtiInputError extends Error {
  readonly status: number;
  readonly title: string;
  constructor(status: number, title: string, explanation: string) {
    super(explanation);
    this.name = 'LtiInputError';
    this.status = status;
    this.title = title;
  }
}

const AGAIN = 'Open the activity again from the course page; if this keeps happening, tell your LMS administrator.';

/** The login initiation's parameters (LTI Core 1.3, 5.1.1, and the client-side storage draft). */
interface Limit {
  max: number;
  required?: boolean;
  url?: boolean;
}
const LOGIN_PARAMETERS: Readonly<Record<string, Limit>> = {
  iss: { max: 1024, required: true, url: true },
  login_hint: { max: 4096, required: true },
  target_link_uri: { max: 2048, required: true, url: true },
  client_id: { max: 1024 },
  lti_message_hint: { max: 16384 },
  lti_deployment_id: { max: 1024 },
  lti_storage_target: { max: 64 },
};

function isHttpUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const { protocol } = new URL(value);
  return protocol === 'https:' || protocol === 'http:';
}

/** Throws LtiInputError unless every value is one string (a repeated parameter arrives as an array). */
function strings(source: unknown, where: string): Record<string, string> {
  if (source === undefined || source === null) return {};
  if (typeof source !== 'object') throw new LtiInputError(400, 'This launch could not be read', `The LMS sent ${where} Live Classroom cannot read. ${AGAIN}`);
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(source as Record<string, unknown>)) {
    if (typeof value !== 'string') {
      throw new LtiInputError(400, 'This launch could not be read', `The parameter "${printable(name)}" was sent more than once or is not text. ${AGAIN}`);
    }
    out[name] = value;
  }
  return out;
}

/** A parameter name as it may appear on a page: bounded, controls shown as "?". */
function printable(name: string): string {
  return name.slice(0, 40).replace(/[\u0000-\u001f\u007f]/g, '?');
}

/** Checks the login initiation (GET query or POST form, merged as ltijs merges them). */
export function checkLogin(query: unknown, body: unknown): void {
  const params = { ...strings(query, 'a sign-in address'), ...strings(body, 'a sign-in form') };
  const missing = Object.entries(LOGIN_PARAMETERS)
    .filter(([name, limit]) => limit.required && !params[name])
    .map(([name]) => name);
  if (missing.length > 0) {
    throw new LtiInputError(
      400,
      'This sign-in is incomplete',
      `This address starts an LTI 1.3 sign-in, and the LMS must send ${missing.join(', ')}. Open the activity from the course page; an LMS administrator can check how Live Classroom is registered.`,
    );
  }
  for (const [name, limit] of Object.entries(LOGIN_PARAMETERS)) {
    const value = params[name];
    if (value === undefined) continue;
    if (value.length > limit.max || CONTROL.test(value) || (limit.url === true && !isHttpUrl(value))) {
      throw new LtiInputError(400, 'This sign-in could not be read', `The LMS sent a ${name} Live Classroom cannot accept. ${AGAIN}`);
    }
  }
}

/** Checks what a launch POST carries besides the id_token, which ltijs verifies. */
export function checkLaunch(body: Record<string, string>): void {
  const state = body.state;
  if (state !== undefined && !STATE.test(state)) {
    throw new LtiInputError(400, 'This launch could not be read', `The launch's state is not one Live Classroom issues. ${AGAIN}`);
  }
  for (const name of ['id_token', 'lc_client_state', 'ltik']) {
    const value = body[name];
    if (value !== undefined && CONTROL.test(value)) {
      throw new LtiInputError(400, 'This launch could not be read', `The launch's ${name} is not readable. ${AGAIN}`);
    }
  }
}

function sendRefusal(res: Response, error: LtiInputError): void {
  res.status(error.status).type('html').set('Cache-Control', 'no-store').send(problemPage(error.title, error.message));
}

/**
 * Reads a POSTed LTI form (login, launch, deep linking): form-encoded or nothing at all, at most
 * MAX_LAUNCH_BODY, every value one string. Anything else is answered here and never reaches ltijs.
 * `refused` hears of each refusal, for the log.
 */
export function formReader(refused: (req: Request, status: number, why: string) => void) {
  const parse = express.urlencoded({ extended: false, limit: MAX_LAUNCH_BODY, type: FORM_TYPE });
  return (req: Request, res: Response, next: NextFunction): void => {
    const refuse = (error: LtiInputError) => {
      refused(req, error.status, error.message);
      sendRefusal(res, error);
    };
    const length = Number(req.get('content-length') ?? 0);
    const hasBody = length > 0 || req.get('transfer-encoding') !== undefined;
    if (hasBody && !req.is(FORM_TYPE)) {
      refuse(new LtiInputError(415, 'This launch could not be read', `Live Classroom reads LTI launches sent as an HTML form (${FORM_TYPE}), as every LMS sends them. ${AGAIN}`));
      return;
    }
    parse(req, res, (error?: unknown) => {
      if (error) {
        const tooLarge = (error as { status?: number }).status === 413;
        refuse(
          tooLarge
            ? new LtiInputError(413, 'This launch is too large', `The LMS sent more than ${MAX_LAUNCH_BODY} of launch data; Live Classroom refuses it. Ask your LMS administrator to check the tool's custom parameters.`)
            : new LtiInputError(400, 'This launch could not be read', `The LMS sent a launch form that could not be read. ${AGAIN}`),
        );
        return;
      }
      try {
        req.body = strings(req.body, 'a launch form');
      } catch (refusal) {
        refuse(refusal as LtiInputError);
        return;
      }
      ltijsSkipsParsing(req);
      next();
    });
  };
}

/** Every other request bound for ltijs: an empty body of the right type, never an unread one. */
export function noBody(req: Request, _res: Response, next: NextFunction): void {
  if (req.body === undefined || req.body === null || typeof req.body !== 'object') req.body = {};
  ltijsSkipsParsing(req);
  next();
}

/** body-parser 1 (inside ltijs) leaves a request alone once this flag is set. */
function ltijsSkipsParsing(req: Request): void {
  (req as unknown as { _body: boolean })._body = true;
}

/** Runs a check that throws LtiInputError, answering the refusal page; other errors go on to `next`. */
export function guard(check: (req: Request) => void, refused: (req: Request, status: number, why: string) => void) {
  return (req: Request, res: Response, next: NextFunction): void => {
    try {
      check(req);
    } catch (error) {
      if (!(error instanceof LtiInputError)) return next(error);
      refused(req, error.status, error.message);
      sendRefusal(res, error);
      return;
    }
    next();
  };
}

/**
 * Every request bound for ltijs: a body that is a plain object (an empty one unless a form was read),
 * and a query of single strings. Anything else is refused here.
 */
export function plainRequest(refused: (req: Request, status: number, why: string) => void) {
  return guard((req) => {
    if (req.body === undefined || req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) req.body = {};
    strings(req.query, 'an address');
    // ltijs reads `state`, `id_token` and `ltik` from any request it serves (a cookie is named after the state).
    checkLaunch(req.body as Record<string, string>);
    // ...and validates an id_token wherever it arrives: only the launch route binds it to its login
    // (its nonce, its storage proof), so nowhere else may carry one.
    if (req.path !== '/launch' && ((req.body as Record<string, unknown>).id_token !== undefined || req.query.id_token !== undefined)) {
      throw new LtiInputError(400, 'This launch could not be read', `An LMS posts its id_token to the launch address only. ${AGAIN}`);
    }
    ltijsSkipsParsing(req);
  }, refused);
}

/**
 * What ltijs answers by itself is JSON for machines (`{ status, error, details: { message } }`), and
 * for a failure its `details` carry the error's own text (a database error quotes its query). Its
 * refusals become the same pages as ours; a failure is logged and answered in neutral words.
 */
export function guardLtijsAnswers(res: Response, failed: (status: number, detail: unknown) => void): void {
  const send = res.send;
  let replaced = false;
  const guarded = function (this: Response, body?: unknown): Response {
    const fromLtijs = (body !== null && typeof body === 'object' && !Buffer.isBuffer(body)) || looksLikeLtijsJson(body);
    if (replaced || res.statusCode < 400 || !fromLtijs) return send.call(this, body);
    replaced = true;
    const status = res.statusCode;
    if (status >= 500) failed(status, body);
    res.type('html').set('Cache-Control', 'no-store');
    const page =
      status >= 500
        ? problemPage('Live Classroom could not finish this', 'Something went wrong on our side; it has been logged. Try again in a moment.')
        : problemPage('This request could not be read', `Live Classroom could not use this request (HTTP ${status}). ${AGAIN}`);
    return send.call(this, page);
  };
  res.send = guarded as Response['send'];
}

function looksLikeLtijsJson(body: unknown): boolean {
  return typeof body === 'string' && body.startsWith('{"status":');
}
