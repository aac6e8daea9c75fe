// LTI Dynamic Registration 1.0, platform side: the OpenID configuration document and the
// registration endpoint that accepts a tool's client metadata and assigns a client_id and deployment.
import { randomBytes } from 'node:crypto';
import express, { type Router } from 'express';
import { SUPPORTED_SCOPES } from './claims.ts';
import { HttpError } from './http.ts';
import { newClientId, newDeploymentId } from './layout.ts';
import type { Site } from './site.ts';
import type { DynamicRegistrationRecord, ToolConfig } from './types.ts';

const TOOL_CONFIGURATION = 'https://purl.imsglobal.org/spec/lti-tool-configuration';
const PLATFORM_CONFIGURATION = 'https://purl.imsglobal.org/spec/lti-platform-configuration';

export interface Registered {
  clientId: string;
  deploymentId: string;
  tool: ToolConfig;
}

function isUrl(value: unknown): value is string {
  return typeof value === 'string' && URL.canParse(value);
}

export class DynamicRegistration {
  readonly records: DynamicRegistrationRecord[] = [];
  #tokens = new Set<string>();
  #tokenIssued = false;

  /** A one-time registration token; once any was issued, the endpoint requires one. */
  issueToken(): string {
    const token = randomBytes(24).toString('base64url');
    this.#tokens.add(token);
    this.#tokenIssued = true;
    return token;
  }

  configuration(site: Site): Record<string, unknown> {
    return {
      issuer: site.issuer,
      authorization_endpoint: site.url(site.layout.auth),
      token_endpoint: site.url(site.layout.token),
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS256'],
      jwks_uri: site.url(site.layout.jwks),
      registration_endpoint: site.url(site.layout.registration),
      scopes_supported: ['openid', ...SUPPORTED_SCOPES],
      response_types_supported: ['id_token'],
      subject_types_supported: ['public', 'pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      claims_supported: ['sub', 'iss', 'name', 'given_name', 'family_name', 'email', 'locale', 'picture'],
      [PLATFORM_CONFIGURATION]: {
        product_family_code: site.flavor,
        version: site.defaults.version,
        messages_supported: [
          { type: 'LtiResourceLinkRequest' },
          { type: 'LtiDeepLinkingRequest', placements: site.flavor === 'canvas' ? ['link_selection', 'assignment_selection'] : ['ContentArea'] },
        ],
        variables: ['ResourceLink.id', 'ResourceLink.title', 'Context.id', 'Context.title', 'User.id', 'Person.name.full', 'Person.email.primary'],
      },
    };
  }

  router(site: Site, onRegistered: (registered: Registered) => void): Router {
    const router = express.Router();
    router.get(site.layout.openidConfiguration, (_req, res) => {
      res.json(this.configuration(site));
    });
    router.post(site.layout.registration, (req, res) => {
      const body: unknown = req.body;
      const request = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
      const record: DynamicRegistrationRecord = { at: Date.now(), request, status: 0 };
      this.records.push(record);
      const fail = (status: number, code: string, description: string): never => {
        record.status = status;
        record.error = `${code}: ${description}`;
        throw new HttpError(status, code, description);
      };
      const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      if (token !== undefined || this.#tokenIssued) {
        if (token === undefined || !this.#tokens.delete(token)) fail(401, 'invalid_token', 'a valid, unused registration token is required');
      }
      if (request.application_type !== undefined && request.application_type !== 'web') fail(400, 'invalid_client_metadata', 'application_type must be web');
      if (Array.isArray(request.response_types) && !request.response_types.includes('id_token')) fail(400, 'invalid_client_metadata', 'response_types must include id_token');
      if (Array.isArray(request.grant_types) && !(request.grant_types.includes('implicit') && request.grant_types.includes('client_credentials'))) {
        fail(400, 'invalid_client_metadata', 'grant_types must include implicit and client_credentials');
      }
      if (!isUrl(request.initiate_login_uri)) fail(400, 'invalid_client_metadata', 'initiate_login_uri must be a URL');
      const redirectUris = request.redirect_uris;
      if (!Array.isArray(redirectUris) || redirectUris.length === 0 || !redirectUris.every(isUrl)) fail(400, 'invalid_redirect_uri', 'redirect_uris must be a non-empty array of URLs');
      if (!isUrl(request.jwks_uri)) fail(400, 'invalid_client_metadata', 'jwks_uri must be a URL');
      if (request.token_endpoint_auth_method !== undefined && request.token_endpoint_auth_method !== 'private_key_jwt') {
        fail(400, 'invalid_client_metadata', 'token_endpoint_auth_method must be private_key_jwt');
      }
      const toolConfig = request[TOOL_CONFIGURATION];
      if (!toolConfig || typeof toolConfig !== 'object' || Array.isArray(toolConfig)) return fail(400, 'invalid_client_metadata', `${TOOL_CONFIGURATION} is required`);
      const configuration = toolConfig as Record<string, unknown>;
      if (typeof configuration.domain !== 'string' || configuration.domain === '') fail(400, 'invalid_client_metadata', 'the tool configuration needs a domain');
      if (!isUrl(configuration.target_link_uri)) fail(400, 'invalid_client_metadata', 'the tool configuration needs a target_link_uri URL');
      const messages = Array.isArray(configuration.messages) ? configuration.messages : [];
      const deepLinking = messages.find((m): m is Record<string, unknown> => typeof m === 'object' && m !== null && m.type === 'LtiDeepLinkingRequest');

      const requested = typeof request.scope === 'string' ? request.scope.split(' ').filter(Boolean) : [];
      const scopes = requested.filter((s) => SUPPORTED_SCOPES.includes(s));
      const clientId = newClientId(site.flavor);
      const deploymentId = newDeploymentId(site.flavor);
      const targetLinkUri = configuration.target_link_uri as string;
      onRegistered({
        clientId,
        deploymentId,
        tool: {
          loginUrl: request.initiate_login_uri as string,
          launchUrl: targetLinkUri,
          jwksUrl: request.jwks_uri as string,
          deepLinkUrl: isUrl(deepLinking?.target_link_uri) ? deepLinking.target_link_uri : undefined,
          redirectUris: redirectUris as string[],
          scopes,
        },
      });
      record.status = 200;
      record.clientId = clientId;
      record.deploymentId = deploymentId;
      // Moodle answers the deployment it created; Canvas creates one only when the admin installs the
      // tool, so its answer has none (the tool learns it from the admin or from the first launch).
      res.json({
        ...request,
        client_id: clientId,
        scope: scopes.join(' '),
        [TOOL_CONFIGURATION]: site.flavor === 'moodle' ? { ...configuration, deployment_id: deploymentId } : configuration,
      });
    });
    return router;
  }
}
