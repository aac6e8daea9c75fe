// Assignment and Grade Services 2.0: line items (container and item), results and scores, with the
// scope checks of each route, and failure modes ('down', 'garbage') for the tool's error paths.
import express, { type Request, type Router } from 'express';
import { SCOPES } from './claims.ts';
import { HttpError } from './http.ts';
import { fillPath } from './layout.ts';
import type { Course, Site } from './site.ts';
import { requireScope, type AccessTokens } from './token.ts';
import type { AgsMode, LineItem, NewLineItem, Result, Score } from './types.ts';

const MEDIA = {
  container: 'application/vnd.ims.lis.v2.lineitemcontainer+json',
  lineItem: 'application/vnd.ims.lis.v2.lineitem+json',
  results: 'application/vnd.ims.lis.v2.resultcontainer+json',
};
const ACTIVITY = ['Initialized', 'Started', 'InProgress', 'Submitted', 'Completed'];
const GRADING = ['FullyGraded', 'Pending', 'PendingManual', 'Failed', 'NotReady'];

interface StoredLineItem extends LineItem {
  number: number;
  course: Course;
  results: Map<string, Result & { timestamp?: string }>;
  scores: Score[];
}

function publicItem(item: StoredLineItem): LineItem {
  const { number: _n, course: _c, results: _r, scores: _s, ...rest } = item;
  return structuredClone(rest);
}

function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new HttpError(400, 'invalid_request', `${key} must be a string`);
  return value;
}

function bodyOf(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'invalid_request', 'a JSON object body is required');
  return body as Record<string, unknown>;
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'string' && /^[1-9][0-9]*$/.test(value) ? Number(value) : undefined;
}

export class Ags {
  mode: AgsMode = 'ok';
  #items = new Map<number, StoredLineItem>();
  #next = 1;
  readonly #site: Site;

  constructor(site: Site) {
    this.#site = site;
  }

  create(course: Course, input: NewLineItem): LineItem {
    if (typeof input.label !== 'string' || input.label.trim() === '') throw new HttpError(400, 'invalid_request', 'label is required');
    if (typeof input.scoreMaximum !== 'number' || !(input.scoreMaximum > 0)) throw new HttpError(400, 'invalid_request', 'scoreMaximum must be a number > 0');
    const number = this.#next++;
    const item: StoredLineItem = {
      id: this.#site.lineItemUrl(course, number),
      label: input.label,
      scoreMaximum: input.scoreMaximum,
      number,
      course,
      results: new Map(),
      scores: [],
    };
    if (input.tag !== undefined) item.tag = input.tag;
    if (input.resourceId !== undefined) item.resourceId = input.resourceId;
    if (input.resourceLinkId !== undefined) item.resourceLinkId = input.resourceLinkId;
    this.#items.set(number, item);
    return publicItem(item);
  }

  /** A line item by its URL (id) or its number. */
  find(id: string | number): StoredLineItem | undefined {
    if (typeof id === 'number') return this.#items.get(id);
    for (const item of this.#items.values()) if (item.id === id || String(item.number) === id) return item;
    return undefined;
  }

  #require(id: string | number): StoredLineItem {
    const item = this.find(id);
    if (!item) throw new TypeError(`no line item ${id}`);
    return item;
  }

  lineItems(course: Course): LineItem[] {
    return [...this.#items.values()].filter((i) => i.course === course).map(publicItem);
  }

  lineItemFor(course: Course, resourceLinkId: string): string | undefined {
    return [...this.#items.values()].find((i) => i.course === course && i.resourceLinkId === resourceLinkId)?.id;
  }

  setResult(lineItemId: string | number, userId: string, score: number | undefined, max?: number): void {
    const item = this.#require(lineItemId);
    item.results.set(userId, { userId, resultScore: score, resultMaximum: max ?? item.scoreMaximum });
  }

  scores(lineItemId: string | number): Score[] {
    return structuredClone(this.#require(lineItemId).scores);
  }

  results(lineItemId: string | number): Result[] {
    return [...this.#require(lineItemId).results.values()].map(({ timestamp: _t, ...r }) => ({ ...r }));
  }

  #itemOf(req: Request): StoredLineItem {
    const item = this.find(Number(req.params.item));
    if (!item || item.course.number !== Number(req.params.course)) throw new HttpError(404, 'not_found', 'no such line item');
    return item;
  }

  #resultsUrl(item: StoredLineItem): string {
    const site = this.#site;
    return site.url(`${fillPath(site.layout.lineItem, { course: item.course.number, item: item.number })}/results`) + site.layout.serviceQuery(site.deploymentId);
  }

  #postScore(item: StoredLineItem, body: Record<string, unknown>): void {
    const userId = body.userId;
    if (typeof userId !== 'string' || userId === '') throw new HttpError(400, 'invalid_request', 'userId is required');
    const timestamp = body.timestamp;
    if (typeof timestamp !== 'string' || Number.isNaN(Date.parse(timestamp))) throw new HttpError(400, 'invalid_request', 'timestamp must be an ISO 8601 date-time');
    if (typeof body.activityProgress !== 'string' || !ACTIVITY.includes(body.activityProgress)) throw new HttpError(400, 'invalid_request', `activityProgress must be one of ${ACTIVITY.join(', ')}`);
    if (typeof body.gradingProgress !== 'string' || !GRADING.includes(body.gradingProgress)) throw new HttpError(400, 'invalid_request', `gradingProgress must be one of ${GRADING.join(', ')}`);
    const { scoreGiven, scoreMaximum } = body;
    if (scoreGiven !== undefined && (typeof scoreGiven !== 'number' || !(scoreGiven >= 0))) throw new HttpError(400, 'invalid_request', 'scoreGiven must be a number >= 0');
    if (scoreGiven !== undefined && (typeof scoreMaximum !== 'number' || !(scoreMaximum > 0))) throw new HttpError(400, 'invalid_request', 'scoreMaximum must be a number > 0 when scoreGiven is set');
    const previous = item.results.get(userId);
    if (previous?.timestamp !== undefined && Date.parse(timestamp) < Date.parse(previous.timestamp)) {
      throw new HttpError(409, 'conflict', 'a later score is already recorded for this user');
    }
    const score: Score = { userId, activityProgress: body.activityProgress, gradingProgress: body.gradingProgress, timestamp };
    if (typeof scoreGiven === 'number') score.scoreGiven = scoreGiven;
    if (typeof scoreMaximum === 'number') score.scoreMaximum = scoreMaximum;
    const comment = optionalString(body, 'comment');
    if (comment !== undefined) score.comment = comment;
    item.scores.push(score);
    const result: Result & { timestamp?: string } = { ...previous, userId, timestamp, resultMaximum: item.scoreMaximum };
    if (score.scoreGiven === undefined) delete result.resultScore;
    else if (score.gradingProgress === 'FullyGraded' && score.scoreMaximum !== undefined) result.resultScore = (score.scoreGiven * item.scoreMaximum) / score.scoreMaximum;
    if (comment !== undefined) result.comment = comment;
    item.results.set(userId, result);
  }

  router(tokens: AccessTokens): Router {
    const site = this.#site;
    const { layout } = site;
    const router = express.Router();
    const readItems = requireScope(tokens, [SCOPES.lineItem, SCOPES.lineItemReadonly]);
    const writeItems = requireScope(tokens, [SCOPES.lineItem]);
    router.use(layout.lineItems, (_req, _res, next) => {
      if (this.mode === 'down') throw new HttpError(503, 'temporarily_unavailable', 'the grade service is down');
      next();
    });

    router.get(layout.lineItems, readItems, (req, res) => {
      const course = site.courses.byNumber(Number(req.params.course));
      if (!course) throw new HttpError(404, 'not_found', 'no such course');
      const q = req.query;
      let items = this.lineItems(course);
      if (typeof q.resource_link_id === 'string') items = items.filter((i) => i.resourceLinkId === q.resource_link_id);
      if (typeof q.resource_id === 'string') items = items.filter((i) => i.resourceId === q.resource_id);
      if (typeof q.tag === 'string') items = items.filter((i) => i.tag === q.tag);
      const limit = positiveInt(q.limit);
      if (limit !== undefined) {
        const page = positiveInt(q.page) ?? 1;
        if (page * limit < items.length) {
          const next = new URL(req.originalUrl, site.baseUrl);
          next.searchParams.set('page', String(page + 1));
          res.set('Link', `<${next.toString()}>; rel="next"`);
        }
        items = items.slice((page - 1) * limit, page * limit);
      }
      res.type(MEDIA.container).send(JSON.stringify(items));
    });

    router.post(layout.lineItems, writeItems, (req, res) => {
      const course = site.courses.byNumber(Number(req.params.course));
      if (!course) throw new HttpError(404, 'not_found', 'no such course');
      const body = bodyOf(req);
      const item = this.create(course, {
        label: body.label as string,
        scoreMaximum: body.scoreMaximum as number,
        tag: optionalString(body, 'tag'),
        resourceId: optionalString(body, 'resourceId'),
        resourceLinkId: optionalString(body, 'resourceLinkId'),
      });
      res.status(201).type(MEDIA.lineItem).send(JSON.stringify(item));
    });

    router.get(layout.lineItem, readItems, (req, res) => {
      res.type(MEDIA.lineItem).send(JSON.stringify(publicItem(this.#itemOf(req))));
    });

    router.put(layout.lineItem, writeItems, (req, res) => {
      const item = this.#itemOf(req);
      const body = bodyOf(req);
      if (body.label !== undefined) {
        if (typeof body.label !== 'string' || body.label.trim() === '') throw new HttpError(400, 'invalid_request', 'label must be a non-empty string');
        item.label = body.label;
      }
      if (body.scoreMaximum !== undefined) {
        if (typeof body.scoreMaximum !== 'number' || !(body.scoreMaximum > 0)) throw new HttpError(400, 'invalid_request', 'scoreMaximum must be a number > 0');
        item.scoreMaximum = body.scoreMaximum;
      }
      const tag = optionalString(body, 'tag');
      if (tag !== undefined) item.tag = tag;
      res.type(MEDIA.lineItem).send(JSON.stringify(publicItem(item)));
    });

    router.delete(layout.lineItem, writeItems, (req, res) => {
      this.#items.delete(this.#itemOf(req).number);
      res.status(204).end();
    });

    router.get(`${layout.lineItem}/results`, requireScope(tokens, [SCOPES.resultReadonly]), (req, res) => {
      const item = this.#itemOf(req);
      const userId = typeof req.query.user_id === 'string' ? req.query.user_id : undefined;
      const resultsUrl = this.#resultsUrl(item);
      const results = [...item.results.values()]
        .filter((r) => userId === undefined || r.userId === userId)
        .map((r) => {
          const id = new URL(resultsUrl);
          id.searchParams.set('user_id', r.userId);
          return {
            id: id.toString(),
            scoreOf: item.id,
            userId: r.userId,
            resultScore: this.mode === 'garbage' ? 'not-a-number' : r.resultScore,
            resultMaximum: r.resultMaximum,
            comment: r.comment,
          };
        });
      res.type(MEDIA.results).send(JSON.stringify(results));
    });

    router.post(`${layout.lineItem}/scores`, requireScope(tokens, [SCOPES.score]), (req, res) => {
      const item = this.#itemOf(req);
      this.#postScore(item, bodyOf(req));
      res.status(200).json({ resultUrl: this.#resultsUrl(item) });
    });
    return router;
  }
}
