// .env.example and the compose files (docker-compose.yml, deploy/docker-compose.node.yml) cannot be
// started here (no Docker engine): they are checked against the code instead, the settings the tool
// accepts and the ports, volumes and secrets the services have to agree on.
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, parseSettings, SETTING_NAMES, type Settings } from '../../config/index.ts';
import { type Dict, dict, envExample, envFilesOf, envFileValues, environmentOf, inRange, interpolate, interpolateDeep, isDict, isLoopbackOrPrivate, loadCompose, type Mount, mountHolding, mountsOf, operatorLookup, type PortMapping, portsOf, seconds, service, servicesOf, turnOptions } from '../helpers/deploy/compose.ts';
import { read, ROOT } from '../helpers/deploy/files.ts';
import { finalStage, words, workdir } from '../helpers/deploy/image.ts';

describe('.env.example', () => {
  it('documents every setting the tool reads, with what it is and its default', () => {
    const missing = SETTING_NAMES.filter((name) => !envExample.has(name));
    assert.deepEqual(missing, [], `.env.example lacks ${missing.join(', ')}`);
    for (const name of SETTING_NAMES) {
      const description = envExample.get(name)?.description;
      assert.ok(description, `.env.example: ${name} has no comment naming it ("# ${name}: what it is; default ...")`);
      assert.match(description, /default/i, `.env.example: the comment on ${name} does not say its default`);
    }
  });

  it('shows real defaults: a commented value is the default unless its comment calls it an example (e.g.)', () => {
    const defaults = parseSettings({}, '/app');
    for (const line of envExample.values()) {
      if (!line.commented || line.value === '' || !(SETTING_NAMES as string[]).includes(line.name)) continue;
      const withValue = parseSettings({ [line.name]: line.value }, '/app');
      let isDefault = true;
      try {
        assert.deepEqual(withValue, defaults);
      } catch {
        isDefault = false;
      }
      if (!isDefault) {
        assert.match(line.description ?? '', /e\.g\./, `.env.example: "# ${line.name}=${line.value}" is not the default and its comment does not say it is an example`);
      }
    }
  });

  it('names only real settings and variables the compose files use (no typos)', () => {
    const composeNames = new Set([...loadCompose('docker-compose.yml').refs, ...loadCompose('deploy/docker-compose.node.yml').refs].map((r) => r.name));
    const unknown = [...envExample.keys()].filter((name) => !(SETTING_NAMES as string[]).includes(name) && !composeNames.has(name));
    assert.deepEqual(unknown, [], `.env.example names variables nothing reads: ${unknown.join(', ')}`);
  });

  it('starts the tool when copied to .env as it is (npm start)', () => {
    const tool = Object.fromEntries(Object.entries(envFileValues).filter(([name]) => (SETTING_NAMES as string[]).includes(name)));
    assert.doesNotThrow(() => parseSettings(tool, '/app'));
  });
});

const COMPOSE_FILES = [
  { file: 'docker-compose.yml', allInOne: true },
  { file: 'deploy/docker-compose.node.yml', allInOne: false },
] as const;

for (const { file, allInOne } of COMPOSE_FILES) {
  describe(file, () => {
    const compose = loadCompose(file);
    const services = servicesOf(compose);
    const app = (): Dict => service(compose, 'app');

    /** The tool's environment in the app container: env_file (.env) overlaid with `environment`. */
    const appEnvironment = (): Record<string, string> => {
      const env: Record<string, string> = {};
      for (const path of envFilesOf(compose, app())) {
        assert.equal(path, join(ROOT, '.env'), `${file}: env_file should be the .env next to .env.example, not ${relative(ROOT, path)}`);
        Object.assign(env, envFileValues);
      }
      return { ...env, ...environmentOf(app()) };
    };
    const settings = (): Settings => {
      try {
        return parseSettings(appEnvironment(), workdir);
      } catch (error) {
        if (error instanceof ConfigError) assert.fail(`${file}: the app's settings are refused:\n${error.problems.join('\n')}`);
        throw error;
      }
    };

    it('has the services', () => {
      const expected = allInOne ? ['app', 'postgres', 'redis', 'coturn'] : ['app', 'coturn'];
      for (const name of expected) assert.ok(isDict(services[name]), `${file}: no ${name} service`);
    });

    it("builds the app from this repository's Dockerfile", () => {
      const build = app().build;
      const context = isDict(build) ? String(build.context ?? '.') : String(build);
      assert.equal(resolve(compose.dir, context), resolve(ROOT), `${file}: the app should be built from the repository's folder`);
      const dockerfilePath = isDict(build) && build.dockerfile !== undefined ? String(build.dockerfile) : 'Dockerfile';
      assert.equal(resolve(ROOT, dockerfilePath), join(ROOT, 'Dockerfile'));
    });

    it('gives every service a health check', () => {
      for (const [name, svc] of Object.entries(services)) {
        const check = dict(svc, name).healthcheck;
        if (check !== undefined) {
          const hc = dict(check, `${name} healthcheck`);
          assert.notEqual(hc.disable, true, `${file}: ${name}'s health check is disabled`);
          assert.ok(hc.test !== undefined && hc.test !== 'NONE' && !(Array.isArray(hc.test) && hc.test[0] === 'NONE'), `${file}: ${name} has an empty health check`);
          continue;
        }
        assert.equal(name, 'app', `${file}: ${name} has no health check`);
        const imageCheck = finalStage.find((i) => i.op === 'HEALTHCHECK');
        assert.ok(imageCheck, `${file}: the app has no health check, nor has the image`);
        assert.match(imageCheck.args, /\/readyz/, 'the image HEALTHCHECK should ask /readyz');
      }
    });

    it("gives the tool's settings values it accepts", () => {
      const s = settings();
      assert.match(s.publicUrl, /^https:\/\//, `${file}: PUBLIC_URL should be the https address behind the proxy`);
      assert.ok(s.rtc.announcedIp, `${file}: RTC_ANNOUNCED_IP must be set: the container's own address is not reachable by browsers`);
      assert.ok(s.databaseUrl, `${file}: DATABASE_URL must be set (PostgreSQL)`);
      assert.ok(s.redisUrl, `${file}: REDIS_URL must be set`);
      assert.ok(s.turn.urls.some((u) => u.startsWith('turn')), `${file}: TURN_URLS should list the TURN server`);
    });

    if (allInOne) {
      it('points DATABASE_URL and REDIS_URL at its own postgres and redis', () => {
        const s = settings();
        const db = new URL(s.databaseUrl as string);
        const pg = environmentOf(service(compose, 'postgres'));
        assert.equal(db.hostname, 'postgres');
        assert.equal(db.port || '5432', '5432');
        assert.equal(decodeURIComponent(db.username), pg.POSTGRES_USER ?? 'postgres', 'DATABASE_URL user vs POSTGRES_USER');
        assert.equal(decodeURIComponent(db.password), pg.POSTGRES_PASSWORD, 'DATABASE_URL password vs POSTGRES_PASSWORD');
        assert.equal(db.pathname.slice(1), pg.POSTGRES_DB ?? pg.POSTGRES_USER ?? 'postgres', 'DATABASE_URL database vs POSTGRES_DB');
        const redis = new URL(s.redisUrl as string);
        assert.equal(redis.hostname, 'redis');
        assert.equal(redis.port || '6379', '6379');
        const dependsOn = dict(app().depends_on, 'app depends_on');
        for (const name of ['postgres', 'redis']) {
          assert.equal(dict(dependsOn[name], `depends_on ${name}`).condition, 'service_healthy', `the app should wait for ${name} to be healthy`);
        }
      });

      it("keeps PostgreSQL's data on a named volume", () => {
        const pg = service(compose, 'postgres');
        const pgdata = environmentOf(pg).PGDATA ?? '/var/lib/postgresql/data';
        const mount = mountHolding(mountsOf(pg), pgdata);
        assert.ok(mount, `postgres keeps ${pgdata} on no volume: the database would go with the container`);
        assert.equal(mount.type, 'volume');
        assert.ok(mount.source && isDict(compose.resolved.volumes) && mount.source in compose.resolved.volumes, 'the postgres volume should be a named volume declared under volumes:');
      });
    }

    it('keeps DATA_DIR and RECORDINGS_DIR on separate named volumes', () => {
      const s = settings();
      const mounts = mountsOf(app());
      const declared = isDict(compose.resolved.volumes) ? compose.resolved.volumes : {};
      const holding = (what: string, path: string): Mount => {
        const mount = mountHolding(mounts, path);
        assert.ok(mount, `${file}: ${what} (${path}) is on no volume: it would go with the container`);
        assert.equal(mount.type, 'volume', `${file}: ${what} should be on a named volume`);
        assert.ok(mount.source !== undefined && mount.source in declared, `${file}: ${what}'s volume should be declared under volumes:`);
        return mount;
      };
      const data = holding('DATA_DIR', s.dataDir);
      const recordings = holding('RECORDINGS_DIR', s.recordingsDir);
      assert.notEqual(recordings.source, data.source, `${file}: recordings should have a volume of their own, not DATA_DIR's`);
      if (!allInOne) {
        const volume = dict(declared[recordings.source as string] ?? {}, 'recordings volume');
        const type = isDict(volume.driver_opts) ? String(volume.driver_opts.type ?? '') : '';
        assert.ok(/^(nfs4?|cifs)$/.test(type) || (volume.driver !== undefined && volume.driver !== 'local'), `${file}: every node must see the same recordings: a shared (NFS) volume`);
      }
    });

    it('publishes RTC_MIN_PORT..RTC_MAX_PORT as the same UDP range', () => {
      const s = settings();
      const udp = portsOf(app()).filter((p) => p.protocol === 'udp');
      assert.equal(udp.length, 1, `${file}: the app should publish one UDP range`);
      const [mapping] = udp as [PortMapping];
      assert.deepEqual(mapping.target, [s.rtc.minPort, s.rtc.maxPort], `${file}: the container's UDP range vs RTC_MIN_PORT..RTC_MAX_PORT`);
      assert.deepEqual(mapping.published, [s.rtc.minPort, s.rtc.maxPort], `${file}: the host's UDP range must equal the container's (browsers are told these port numbers)`);
    });

    it('publishes the HTTP port to the reverse proxy only', () => {
      const s = settings();
      const http = portsOf(app()).filter((p) => p.protocol === 'tcp');
      assert.equal(http.length, 1, `${file}: the app should publish one TCP port`);
      const [mapping] = http as [PortMapping];
      assert.deepEqual(mapping.target, [s.port, s.port], `${file}: the published container port vs PORT`);
      assert.ok(finalStage.some((i) => i.op === 'EXPOSE' && words(i.args).includes(String(s.port))), `the image should EXPOSE ${s.port}`);
      // The tool trusts X-Forwarded-* from private addresses: only the proxy may reach it.
      assert.ok(mapping.hostIp && isIP(mapping.hostIp) && isLoopbackOrPrivate(mapping.hostIp), `${file}: publish the app's HTTP port on a loopback or private address, not ${mapping.hostIp ?? 'every interface'}`);
      assert.ok(s.host === undefined || s.host === '0.0.0.0' || s.host === '::', `${file}: HOST=${s.host} inside the container would not be reachable through the published port`);
    });

    it('leaves time for a drain on SIGTERM', () => {
      const grace = app().stop_grace_period;
      assert.ok(grace !== undefined, `${file}: the app needs stop_grace_period (Docker kills it after 10 s otherwise)`);
      const s = seconds(String(grace));
      assert.ok(s >= 30, `${file}: stop_grace_period ${String(grace)} is under 30 s`);
      const limit = /SHUTDOWN_LIMIT_MS\s*=\s*([\d_]+)/.exec(read('server/main.ts'));
      if (limit) assert.ok(s * 1000 > Number((limit[1] as string).replaceAll('_', '')), `${file}: stop_grace_period ${String(grace)} is shorter than the tool's own shutdown limit`);
    });

    it('gives the app a stable host name (unique per node)', () => {
      const hostname = app().hostname;
      assert.ok(typeof hostname === 'string' && hostname !== '', `${file}: without hostname the container id is the host name, new at every re-creation`);
      if (!allInOne) {
        // Another node (another NODE_ID) must get another host name.
        const raw = dict(dict(compose.raw.services, 'services').app, 'app').hostname;
        const other = interpolate(String(raw), (name, required) => (name === 'NODE_ID' ? 'zz9' : operatorLookup(name, required)), []);
        assert.ok(other.includes('zz9'), `${file}: each node's host name should include its NODE_ID`);
      }
    });

    it('points TURN_URLS at its coturn, which shares TURN_SECRET', () => {
      const s = settings();
      const coturn = service(compose, 'coturn');
      const { file: conf, merged } = turnOptions(compose, coturn);
      const one = (key: string): string | undefined => merged.get(key)?.at(-1);
      assert.ok(merged.has('use-auth-secret'), 'coturn: use-auth-secret (TURN REST credentials) is missing');
      assert.ok(!merged.has('lt-cred-mech'), 'coturn: lt-cred-mech conflicts with use-auth-secret');
      assert.ok(!conf.has('static-auth-secret'), 'turnserver.conf holds a static-auth-secret: keep the secret in .env (TURN_SECRET)');
      assert.equal(one('static-auth-secret'), s.turn.secret, "coturn's static-auth-secret differs from the tool's TURN_SECRET");
      assert.ok(one('realm'), 'coturn: realm is missing');
      assert.ok(merged.has('no-cli'), 'coturn: no-cli is missing');
      assert.equal(one('external-ip'), s.rtc.announcedIp, "coturn's external-ip should be this machine's public address (RTC_ANNOUNCED_IP)");

      const ports = portsOf(coturn);
      const listening = Number(one('listening-port') ?? 3478);
      for (const url of s.turn.urls) {
        const m = /^(stun|turns?):(\[[^\]]+\]|[^:?]+)(?::(\d+))?(?:\?transport=(udp|tcp))?$/.exec(url);
        assert.ok(m, `cannot read TURN URL ${url}`);
        const host = (m[2] as string).replace(/^\[|\]$/g, '');
        assert.ok(!(host in services), `${url}: browsers cannot resolve the compose service name ${host}`);
        assert.ok(isIP(host) === 0 || !isLoopbackOrPrivate(host), `${url}: browsers cannot reach a private address`);
        const port = Number(m[3] ?? (m[1] === 'turns' ? 5349 : 3478));
        const protocol = m[4] ?? 'udp';
        assert.equal(port, m[1] === 'turns' ? Number(one('tls-listening-port') ?? 5349) : listening, `${url}: coturn does not listen on ${port}`);
        assert.ok(
          ports.some((p) => p.protocol === protocol && p.published?.[0] === port && p.target[0] === port),
          `${url}: coturn does not publish ${port}/${protocol}`,
        );
      }

      const relay: [number, number] = [Number(one('min-port') ?? 49152), Number(one('max-port') ?? 65535)];
      const published = ports.filter((p) => p.protocol === 'udp' && p.target[0] !== listening);
      assert.equal(published.length, 1, 'coturn should publish one UDP relay range');
      assert.deepEqual(published[0]?.target, relay, "coturn's published relay range vs min-port..max-port");
      assert.deepEqual(published[0]?.published, relay, "coturn's relay range must be published with the same numbers");
    });

    it('keeps coturn from relaying into private networks', () => {
      const s = settings();
      const { merged } = turnOptions(compose, service(compose, 'coturn'));
      const denied = merged.get('denied-peer-ip') ?? [];
      for (const probe of ['127.0.0.1', '10.1.2.3', '172.17.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fd00::1', 'fe80::1', '::ffff:127.0.0.1']) {
        assert.ok(denied.some((spec) => inRange(probe, spec)), `coturn would relay to ${probe}: add a denied-peer-ip range`);
      }
      // allowed-peer-ip wins over denied-peer-ip: only the SFU's own address may be allowed.
      for (const spec of merged.get('allowed-peer-ip') ?? []) {
        assert.equal(spec, s.rtc.announcedIp, `coturn allows relaying to ${spec}: only RTC_ANNOUNCED_IP should be allowed`);
      }
    });

    it('documents every variable it uses in .env.example', () => {
      const undocumented = [...new Set(compose.refs.map((r) => r.name))].filter((name) => !envExample.has(name));
      assert.deepEqual(undocumented, [], `${file} uses variables .env.example does not document`);
    });

    it('stops with a message when a required value is missing', () => {
      const required = [...new Set(compose.refs.filter((r) => r.required).map((r) => r.name))];
      for (const name of ['PUBLIC_URL', 'TURN_SECRET', 'RTC_ANNOUNCED_IP']) assert.ok(required.includes(name), `${file}: \${${name}:?message} should stop compose when ${name} is unset`);
      if (allInOne) assert.ok(required.includes('POSTGRES_PASSWORD'), `${file}: POSTGRES_PASSWORD should be required`);
      else for (const name of ['DATABASE_URL', 'REDIS_URL', 'NODE_ID', 'NODE_URL', 'LTI_KEY']) assert.ok(required.includes(name), `${file}: ${name} should be required on a node of several`);
      // Blank in .env.example, so compose refuses to start until the operator sets it.
      assert.throws(() => interpolateDeep(compose.raw, (name) => envFileValues[name], []), /is required/);
    });
  });
}
