// The two TCP relays of a test network namespace (test/helpers/netns.ts): listens on `from` at
// each given port and relays every connection to the same port on `to`. In the namespace it runs
// from its own 127.0.0.1 to the host's end of the veth link, so pages in a namespaced browser keep
// their 127.0.0.1 URLs (a secure context) while every byte crosses the link a test can cut; on the
// host it runs from that end of the link to the services on 127.0.0.1.
//
//   node test/helpers/netns-relay.ts <from address> <to address> <port> [<port> ...]
import { connect, createServer, type Socket } from 'node:net';

const [from, host, ...ports] = process.argv.slice(2);
if (!from || !host || ports.length === 0) {
  console.error('usage: netns-relay.ts <from address> <to address> <port> [<port> ...]');
  process.exit(2);
}

function relay(port: number): Promise<void> {
  const server = createServer((inside: Socket) => {
    const outside = connect({ host, port });
    const end = () => {
      inside.destroy();
      outside.destroy();
    };
    inside.on('error', end).on('close', end);
    outside.on('error', end).on('close', end);
    inside.pipe(outside);
    outside.pipe(inside);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, from, () => resolve());
  });
}

await Promise.all(ports.map((p) => relay(Number(p))));
process.stdout.write('ready\n');
process.on('SIGTERM', () => process.exit(0));
