// The media module's public API: an SFU on werift. Nothing outside server/media imports werift.
export { MediaError, type MediaErrorCode } from './errors.ts';
export {
  MediaRoom,
  MediaServer,
  type ConnectionStateEvent,
  type FailureEvent,
  type IceServer,
  type MediaServerEvents,
  type MediaServerOptions,
  type MediaStats,
  type PublishedTrackInfo,
  type RenegotiateEvent,
  type SubscribedTrackInfo,
  type TrackKind,
} from './server.ts';
