// The VOD routes: /vod/<recording id>/index.m3u8 and /vod/<recording id>/segment-NNNNN.ts, each
// with a signed, expiring query for one user. Every request re-checks that user's access to the
// recording's room (a student whose payment lapsed loses the replay too). A link works for whoever
// holds it, but only while the user it was signed for may watch, and only until it expires
// (RECORDING_LINK_MINUTES): a copied link stops working.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Router, type Request, type Response } from 'express';
import type { Decision } from '../server/access/index.ts';
import { ended, LinkSigner, PLAYLIST, signPlaylist } from './playlist.ts';
import type { RecordingService } from './service.ts';

const FILE = /^(index\.m3u8|segment-\d{5}\.ts)$/;
const ID = /^[0-9a-f-]{36}$/;

export interface VodDependencies {
  recordings: RecordingService;
  signer: LinkSigner;
  decide: (userId: string, roomId: string) => Promise<Decision>;
}

export function vodRouter({ recordings, signer, decide }: VodDependencies): Router {
  const router = Router();
  router.get('/:id/:file', async (req: Request, res: Response) => {
    const id = String(req.params.id);
    const file = String(req.params.file);
    const refuse = (status: number, reason: string) => res.status(status).type('text/plain').set('Cache-Control', 'no-store').send(reason);
    if (!ID.test(id) || !FILE.test(file)) return refuse(404, 'no such recording file');
    const link = signer.verify(id, req.query as Record<string, unknown>);
    if (!link.ok) return refuse(403, link.reason);
    const service = recordings;
    const row = await service.get(id);
    if (!row || row.status === 'failed') return refuse(404, 'this recording does not exist (it may have been deleted)');
    const decision = await decide(link.grant.userId, row.roomId);
    if (decision.grant === 'denied') return refuse(403, `you may not watch this recording: ${decision.reason}`);
    const path = join(service.folder(row), file);
    res.set('Cache-Control', 'private, no-store');
    if (file === PLAYLIST) {
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text === undefined) return refuse(404, 'this recording has no playlist yet');
      const query = new URLSearchParams(req.query as Record<string, string>).toString();
      return res.type('application/vnd.apple.mpegurl').send(signPlaylist(row.status === 'recording' ? text : ended(text), query));
    }
    res.type('video/mp2t').sendFile(path, (error) => {
      if (error && !res.headersSent) refuse(404, 'this part of the recording is missing');
    });
  });
  return router;
}
