// Names and Role Provisioning Services 2.0: a course's membership container, paged with
// `limit` and a `Link: <…>; rel="next"` header, filtered by `rlid` and `role`; plus failure modes.
import express, { type Router } from 'express';
import { ROLES, SCOPES } from './claims.ts';
import { HttpError } from './http.ts';
import type { Site } from './site.ts';
import { requireScope, type AccessTokens } from './token.ts';
import type { Member, NrpsMode } from './types.ts';

export const NRPS_MEDIA_TYPE = 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json';
const HUGE_PAGES = 1000;
const HUGE_PAGE_SIZE = 100;

function memberJson(m: Member): Record<string, unknown> {
  return {
    status: m.status ?? 'Active',
    name: m.name,
    given_name: m.givenName,
    family_name: m.familyName,
    email: m.email,
    user_id: m.userId,
    roles: m.roles,
  };
}

function hasRole(m: Member, role: string): boolean {
  return m.roles.some((r) => r === role || r.endsWith(`#${role}`) || role.endsWith(`#${r}`));
}

function positiveInt(value: unknown): number | undefined {
  if (typeof value !== 'string' || !/^[0-9]+$/.test(value)) return undefined;
  const n = Number(value);
  return n > 0 ? n : undefined;
}

export class Nrps {
  mode: NrpsMode = 'ok';
  /** Membership requests served (all modes), for tests that count pages fetched. */
  requests = 0;

  router(site: Site, tokens: AccessTokens): Router {
    const router = express.Router();
    router.get(site.layout.memberships, requireScope(tokens, [SCOPES.nrps]), async (req, res) => {
      this.requests++;
      if (this.mode === 'slow') await new Promise((resolve) => setTimeout(resolve, 1_000));
      if (this.mode === 'down') throw new HttpError(503, 'temporarily_unavailable', 'the membership service is down');
      const course = site.courses.byNumber(Number(req.params.course));
      if (!course) throw new HttpError(404, 'not_found', `no course ${String(req.params.course)}`);
      const requestUrl = new URL(req.originalUrl, site.baseUrl);
      const rlid = typeof req.query.rlid === 'string' ? req.query.rlid : undefined;
      const role = typeof req.query.role === 'string' ? req.query.role : undefined;
      let members = course.members;
      const allowed = rlid === undefined ? undefined : course.perResourceLink?.[rlid];
      if (allowed) members = members.filter((m) => allowed.includes(m.userId));
      if (role) members = members.filter((m) => hasRole(m, role));

      const limit = positiveInt(req.query.limit) ?? (this.mode === 'huge' ? HUGE_PAGE_SIZE : undefined);
      const page = positiveInt(req.query.page) ?? 1;
      let pageMembers: Array<Record<string, unknown>>;
      let hasNext: boolean;
      if (this.mode === 'huge' && limit !== undefined) {
        const total = HUGE_PAGES * limit;
        const from = (page - 1) * limit;
        pageMembers = [];
        for (let i = from; i < Math.min(from + limit, total); i++) {
          const real = members[i];
          pageMembers.push(real ? memberJson(real) : { status: 'Active', user_id: `synthetic-${i}`, name: `Learner ${i}`, roles: [ROLES.learner] });
        }
        hasNext = from + limit < total;
      } else if (limit !== undefined) {
        pageMembers = members.slice((page - 1) * limit, page * limit).map(memberJson);
        hasNext = page * limit < members.length;
      } else {
        pageMembers = members.map(memberJson);
        hasNext = false;
      }
      if (this.mode === 'loop') {
        res.set('Link', `<${requestUrl.toString()}>; rel="next"`);
      } else if (hasNext && limit !== undefined) {
        const next = new URL(requestUrl);
        next.searchParams.set('limit', String(limit));
        next.searchParams.set('page', String(page + 1));
        res.set('Link', `<${next.toString()}>; rel="next"`);
      }
      res.type(NRPS_MEDIA_TYPE).send(JSON.stringify({
        id: requestUrl.toString(),
        context: { id: course.id, label: course.label, title: course.title },
        members: pageMembers,
      }));
    });
    return router;
  }
}
