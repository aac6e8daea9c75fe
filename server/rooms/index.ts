// Live classes: one LiveClass per room this node serves, the one owner of its participants, media,
// interaction, recording (through the recorder) and timers. The realtime layer hands it
// connections and calls it; recordings/ records for it; neither is imported here.
export { AttendanceReporter, ATTENDANCE_TAG, minutes, presentMs, type AttendanceReport } from './attendance.ts';
export { hostsChannel, roomChannel, userChannel } from './channels.ts';
export { spoken } from './class-media.ts';
export { iceServers } from './ice.ts';
export { Classes } from './classes.ts';
export { ClassRefusal } from './errors.ts';
export { exportInteraction, type InteractionExport } from './interaction-export.ts';
export { LiveClass, type ClassClosing, type ClassServices, type EndedClass } from './live-class.ts';
export { Participant, type Departure, type Seat } from './participant.ts';
export type { Audience, ClassRecorder, Connection, RecordingLibrary, StageSource } from './ports.ts';
