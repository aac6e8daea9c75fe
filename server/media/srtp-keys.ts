// werift (0.25.2) creates a cipher and an HMAC per SRTP/SRTCP packet from Buffer keys. On Node 24
// a Buffer key costs node:crypto two thrown-and-caught exceptions per call (prepareSecretKey), which
// tripled the cost of each call (15.2 µs against 5.0 µs with a KeyObject, measured by bench/fanout's
// profile). Once DTLS has made the SRTP session keys, they never change, so each is swapped for an
// equal KeyObject, which node:crypto takes as it is.
import { createSecretKey } from 'node:crypto';
import type { RTCPeerConnection } from 'werift';

const KEY_FIELDS = ['srtpSessionKey', 'srtcpSessionKey', 'srtpSessionAuthTag', 'srtcpSessionAuthTag'] as const;

interface SrtpSession {
  localContext?: { cipher?: unknown };
  remoteContext?: { cipher?: unknown };
}

/**
 * Replaces the Buffer session keys of every SRTP/SRTCP context of a connected peer connection with
 * KeyObjects. Returns how many keys were replaced (0 if SRTP has not started, or did already).
 */
export function useKeyObjects(pc: RTCPeerConnection): number {
  let replaced = 0;
  const transports = new Set<unknown>();
  for (const transceiver of pc.getTransceivers()) {
    transports.add(transceiver.receiver.dtlsTransport);
    transports.add(transceiver.sender.dtlsTransport);
  }
  for (const candidate of transports) {
    const transport = candidate as { srtpStarted?: boolean; srtp?: SrtpSession; srtcp?: SrtpSession } | undefined;
    if (!transport?.srtpStarted) continue;
    for (const session of [transport.srtp, transport.srtcp]) {
      for (const context of [session?.localContext, session?.remoteContext]) {
        const cipher = context?.cipher as Record<string, unknown> | undefined;
        if (!cipher) continue;
        for (const field of KEY_FIELDS) {
          const key = cipher[field];
          if (Buffer.isBuffer(key)) {
            cipher[field] = createSecretKey(key);
            replaced++;
          }
        }
      }
    }
  }
  return replaced;
}
