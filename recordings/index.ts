// Recording to VOD: the public API of recordings/ (every FFmpeg call of the project is in here).
export { checkFfmpeg } from './ffmpeg.ts';
export { LinkSigner, measure, PLAYLIST, readPlaylist } from './playlist.ts';
export { ClassRecordings, recordingSources } from './policy.ts';
export { Recording, type Ending, type RecordingOutcome } from './recording.ts';
export { vodRouter, type VodDependencies } from './routes.ts';
export { RecordingError, RecordingService, type RecordingServiceOptions, type RecordingState, type RecordingSummary } from './service.ts';
