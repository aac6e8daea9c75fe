// Where the mediasoup engine's transports listen, and which addresses their ICE candidates give.
import { networkInterfaces } from 'node:os';
import type { TransportListenInfo } from 'mediasoup/types';
import type { MediaServerOptions } from '../types.ts';

/**
 * Where a transport listens, one UDP socket each: every extra host address (loopback in tests and
 * on a one-machine install), then either every interface with the announced address in its
 * candidate (RTC_ANNOUNCED_IP: 1:1 NAT, a container), or, with none announced, each of this
 * host's own addresses (at most 8), as a browser's ICE agent would gather them.
 */
export function listenInfos(options: MediaServerOptions): TransportListenInfo[] {
  const portRange = options.portRange ? { portRange: { min: options.portRange[0], max: options.portRange[1] } } : {};
  const infos: TransportListenInfo[] = [];
  const seen = new Set<string>();
  const add = (info: TransportListenInfo) => {
    const key = info.announcedAddress ?? info.ip;
    if (seen.has(key) || infos.length >= 8) return;
    seen.add(key);
    infos.push({ ...info, ...portRange });
  };
  for (const ip of options.hostAddresses ?? []) add({ protocol: 'udp', ip });
  if (options.announcedIp) add({ protocol: 'udp', ip: options.announcedIp.includes(':') ? '::' : '0.0.0.0', announcedAddress: options.announcedIp });
  else {
    for (const address of Object.values(networkInterfaces()).flat()) {
      if (!address || address.internal) continue;
      if (address.family === 'IPv4' || (options.ipv6 && !address.address.startsWith('fe80'))) add({ protocol: 'udp', ip: address.address });
    }
  }
  if (infos.length === 0) add({ protocol: 'udp', ip: '127.0.0.1' });
  return infos;
}
