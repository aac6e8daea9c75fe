// The media module's public API: an SFU on werift. Nothing outside server/media imports werift.
export { MediaError, type MediaErrorCode } from './errors.ts';
export { MediaRoom } from './room.ts';
export { MediaServer } from './server.ts';
export { MediaTap, TAP_CODECS, type TapSources, type TapStats, type TapTarget } from './tap.ts';
export { VIDEO_CODECS } from './types.ts';
export type {
  CodecRefusedEvent,
  ConnectionStateEvent,
  FailureEvent,
  IceServer,
  MediaServerEvents,
  MediaServerOptions,
  MediaStats,
  PublishedTrackInfo,
  RenegotiateEvent,
  SubscribedTrackInfo,
  TrackKind,
  VideoCodec,
  WorkerExitEvent,
  WorkerStats,
} from './types.ts';
