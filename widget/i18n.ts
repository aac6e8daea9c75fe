// The widget's strings, English and Simplified Chinese, both complete. The launch's locale
// (launch_presentation.locale) picks one; anything else falls back to English.

const en = {
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Connection lost. Reconnecting…',
  offline: 'Offline',
  waiting: 'The class has not started yet. You will join automatically when it starts.',
  waitingHost: 'The class has not started. Students who are here will join as soon as you go live.',
  live: 'Live',
  notStarted: 'Not started',
  ended: 'The class has ended.',
  goLive: 'Go live',
  endClass: 'End class',
  camera: 'Camera',
  microphone: 'Microphone',
  shareScreen: 'Share screen',
  participantsOne: '1 participant',
  participantsMany: '{count} participants',
  removed: 'You were removed from this class: {reason}',
  refused: 'You cannot join this class: {reason}',
  failed: 'That did not work: {reason}',
  roleHost: 'Host',
  roleSpeaker: 'On stage',
  roleAttendee: 'Attendee',
  stageEmpty: 'The instructor\'s video will appear here.',
  connection: 'Connection',
  status: 'Class status',
  hostControls: 'Class controls',
  mediaControls: 'Your camera, microphone and screen',
  stage: 'Stage',
  you: 'You',
  screenOf: '{name}\'s screen',
  yourScreen: 'Your screen',
  cameraOf: '{name}\'s camera',
  cameraOff: 'Camera off',
  microphoneOff: 'Microphone off',
  speaking: 'Speaking',
  turnOnSound: 'Turn on sound',
  stopSharing: 'Stop sharing',
  deviceProblem: 'Your camera or microphone could not be used: {reason}',
  screenProblem: 'Your screen could not be shared: {reason}',
  mediaProblem: 'The video connection has a problem: {reason}. Retrying…',
  waitingForVideo: 'Waiting for the instructor\'s video…',
  reason_notEnrolled: 'you are not enrolled in this course',
  reason_inactive: 'your enrollment in this course is inactive',
  reason_deleted: 'you were removed from the course',
  reason_restricted: 'the course restricts this activity for you (a group, date, payment or other condition)',
  reason_notPaid: 'the course fee has not been paid',
  reason_unverified: 'your payment could not be verified; try again in a few minutes',
  reason_role: 'your role in the course does not allow it',
  reason_paymentUnsupported: 'the course requires payment, but the LMS does not let Live Classroom check it; tell your instructor',
  reason_roomFull: 'the room is full; try again when someone leaves',
} as const;

export type MessageKey = keyof typeof en;
type Catalogue = Record<MessageKey, string>;

const zhCN: Catalogue = {
  connecting: '正在连接…',
  connected: '已连接',
  reconnecting: '连接已断开，正在重新连接…',
  offline: '离线',
  waiting: '课程尚未开始。开始后你将自动加入。',
  waitingHost: '课程尚未开始。你开始直播后，已在此等候的学生会立即加入。',
  live: '直播中',
  notStarted: '未开始',
  ended: '课程已结束。',
  goLive: '开始直播',
  endClass: '结束课程',
  camera: '摄像头',
  microphone: '麦克风',
  shareScreen: '共享屏幕',
  participantsOne: '1 位参与者',
  participantsMany: '{count} 位参与者',
  removed: '你已被移出本课程：{reason}',
  refused: '你无法加入本课程：{reason}',
  failed: '操作未成功：{reason}',
  roleHost: '主持人',
  roleSpeaker: '上台发言',
  roleAttendee: '听众',
  stageEmpty: '讲师的视频将显示在这里。',
  connection: '连接',
  status: '课程状态',
  hostControls: '课程控制',
  mediaControls: '你的摄像头、麦克风和屏幕',
  stage: '讲台',
  you: '你',
  screenOf: '{name} 的屏幕',
  yourScreen: '你的屏幕',
  cameraOf: '{name} 的摄像头',
  cameraOff: '摄像头已关闭',
  microphoneOff: '麦克风已关闭',
  speaking: '正在发言',
  turnOnSound: '打开声音',
  stopSharing: '停止共享',
  deviceProblem: '无法使用你的摄像头或麦克风：{reason}',
  screenProblem: '无法共享你的屏幕：{reason}',
  mediaProblem: '视频连接出现问题：{reason}。正在重试…',
  waitingForVideo: '正在等待讲师的视频…',
  reason_notEnrolled: '你未选修本课程',
  reason_inactive: '你在本课程的选课状态为未激活',
  reason_deleted: '你已被移出本课程',
  reason_restricted: '课程对你限制了此活动（分组、日期、付费或其他条件）',
  reason_notPaid: '课程费用尚未支付',
  reason_unverified: '无法核实你的付款，请几分钟后再试',
  reason_role: '你在课程中的角色不允许此操作',
  reason_paymentUnsupported: '本课程需要付费，但学习平台不允许 Live Classroom 核实付款；请告知你的讲师',
  reason_roomFull: '教室已满，请在有人离开后再试',
};

export const CATALOGUES: Readonly<Record<'en' | 'zh-CN', Catalogue>> = { en, 'zh-CN': zhCN };
export type Language = keyof typeof CATALOGUES;

/** 'zh-CN', 'zh_CN', 'zh-Hans', 'zh' -> zh-CN; anything else -> en. */
export function languageOf(locale: string | null | undefined): Language {
  const tag = (locale ?? '').trim().toLowerCase().replace('_', '-');
  if (tag === 'zh' || tag.startsWith('zh-cn') || tag.startsWith('zh-hans') || tag.startsWith('zh-sg')) return 'zh-CN';
  return 'en';
}

export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;

export function translator(language: Language): Translate {
  const catalogue = CATALOGUES[language];
  return (key, values = {}) => catalogue[key].replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? `{${name}}`));
}
