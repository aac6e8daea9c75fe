// The media module's public API: an SFU on mediasoup or werift (engine.ts). Nothing outside
// server/media imports either library.
export type { EngineName, MediaEngine, MediaRoomView } from './engine.ts';
export { MediaError, type MediaErrorCode } from './errors.ts';
export { MediasoupEngine, type SoupWorkerStats } from './mediasoup/engine.ts';
export { MediaRoom } from './room.ts';
export { WeriftEngine } from './server.ts';
export { startMediaEngine, type EngineChoice, type StartedEngine } from './start.ts';
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
