// The deep_link_return_url: receives the tool's LtiDeepLinkingResponse (form field `JWT`), verifies
// it against the tool's JWKS and records the content items it carries.
import express, { type Router } from 'express';
import { CLAIM } from './claims.ts';
import { escapeHtml, HttpError, page } from './http.ts';
import { decodeJwt } from './keys.ts';
import type { Launches } from './oidc.ts';
import type { Site } from './site.ts';
import type { DeepLinkResponseRecord } from './types.ts';

export class DeepLinking {
  readonly responses: DeepLinkResponseRecord[] = [];

  router(site: Site, launches: Launches): Router {
    const router = express.Router();
    router.post(site.layout.deepLinkReturn, async (req, res) => {
      const body: unknown = req.body;
      const jwt = body && typeof body === 'object' && 'JWT' in body && typeof body.JWT === 'string' ? body.JWT : undefined;
      const record: DeepLinkResponseRecord = { at: Date.now(), ok: false, contentItems: [] };
      this.responses.push(record);
      const refuse = (description: string): never => {
        record.error = description;
        throw new HttpError(400, 'invalid_request', description, { format: 'html' });
      };
      if (!jwt) return refuse('the form field JWT is missing');
      record.claims = decodeJwt(jwt).claims;
      let payload;
      try {
        ({ payload } = await site.toolKeys().verify(jwt, { issuer: site.clientId, audience: site.issuer, requiredClaims: ['iat', 'exp', 'nonce'] }));
      } catch (error) {
        return refuse(`the deep linking response JWT was refused: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
      }
      record.claims = payload;
      if (payload[CLAIM.messageType] !== 'LtiDeepLinkingResponse') refuse(`message_type must be LtiDeepLinkingResponse, got ${String(payload[CLAIM.messageType])}`);
      if (payload[CLAIM.version] !== '1.3.0') refuse(`version must be 1.3.0, got ${String(payload[CLAIM.version])}`);
      const deploymentId = payload[CLAIM.deploymentId];
      if (typeof deploymentId !== 'string' || !site.deploymentIds.includes(deploymentId)) refuse(`unknown deployment_id: ${String(deploymentId)}`);
      const data = payload[CLAIM.deepLinkData];
      const request = typeof data === 'string' ? launches.deepLinkRequests.get(data) : undefined;
      if (!request) refuse('the data claim does not echo the data of a deep linking request this platform sent');
      if (request?.deploymentId !== deploymentId) refuse('deployment_id differs from the deep linking request');
      const items = payload[CLAIM.deepLinkContentItems];
      if (items !== undefined && !Array.isArray(items)) refuse('content_items must be an array');
      record.contentItems = Array.isArray(items) ? items.filter((i): i is Record<string, unknown> => typeof i === 'object' && i !== null) : [];
      record.ok = true;
      const titles = record.contentItems.map((i) => `<li>${escapeHtml(String(i.title ?? i.type ?? 'item'))}</li>`).join('');
      res.type('html').send(page('Content added', `<h1>Content added</h1><p>${record.contentItems.length} item(s)</p><ul>${titles}</ul>`));
    });
    return router;
  }
}
