// A TCP port nothing listens on right now: for a node that must know its own URL (NODE_URL) before
// it starts, or for a service address that answers nothing (Redis "down").
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';

export async function freePort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  probe.close();
  await once(probe, 'close');
  return port;
}
