// Test page for the SFU: publish fake camera + microphone (+ a canvas as "screen"), or subscribe.
// Signaling is window.signal(op, sdp), a function the test exposes (page.exposeFunction).
'use strict';

async function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return;
  // No m-line (an empty room's offer, answered): nothing to gather, the state stays "new".
  if (!/^m=/m.test(pc.localDescription?.sdp ?? '')) return;
  await new Promise((resolve) => {
    const timer = setTimeout(done, 5000);
    function done() {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    }
    function check() {
      if (pc.iceGatheringState === 'complete') done();
    }
    pc.addEventListener('icegatheringstatechange', check);
  });
}

const state = { publisher: null, screenShare: null, subscriber: null, chain: Promise.resolve() };
window.mediaState = state;

async function negotiatePublisher() {
  const pc = state.publisher.pc;
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const answer = await window.signal('publish', pc.localDescription.sdp);
  await pc.setRemoteDescription({ type: 'answer', sdp: answer });
}

// `videoCodec` (e.g. 'video/VP8'): the camera is offered in that codec only, as a browser without
// the others would.
window.startPublishing = async (videoCodec) => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240, frameRate: 15 } });
  const pc = new RTCPeerConnection({ iceServers: [] });
  for (const track of stream.getTracks()) {
    const transceiver = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    if (track.kind === 'video' && videoCodec) transceiver.setCodecPreferences(RTCRtpReceiver.getCapabilities('video').codecs.filter((c) => c.mimeType === videoCodec));
  }
  state.publisher = { pc, stream };
  await negotiatePublisher();
  return stream.getTracks().map((track) => track.kind);
};

// A "screen" without a screen picker: a canvas that changes every frame.
window.startScreen = async () => {
  const canvas = document.createElement('canvas');
  canvas.width = 320;
  canvas.height = 180;
  document.getElementById('media').append(canvas);
  const context = canvas.getContext('2d');
  let n = 0;
  const timer = setInterval(() => {
    n++;
    context.fillStyle = `hsl(${(n * 7) % 360} 70% 50%)`;
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.fillStyle = '#fff';
    context.fillText(`screen ${n}`, 10, 20);
  }, 66);
  const stream = canvas.captureStream(15);
  const track = stream.getVideoTracks()[0];
  const transceiver = state.publisher.pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
  state.screenShare = { transceiver, track, timer, canvas };
  await negotiatePublisher();
};

window.stopScreen = async () => {
  const share = state.screenShare;
  state.screenShare = null;
  clearInterval(share.timer);
  state.publisher.pc.removeTrack(share.transceiver.sender);
  share.track.stop();
  share.canvas.remove();
  await negotiatePublisher();
};

// A browser that cannot decode some video codecs (window.cannotDecode = ['video/H264']): its
// receivers are limited to the others, as such a browser's would be.
window.cannotDecode = [];

async function answerOffer(sdp) {
  const pc = state.subscriber.pc;
  await pc.setRemoteDescription({ type: 'offer', sdp });
  if (window.cannotDecode.length > 0) {
    const codecs = RTCRtpReceiver.getCapabilities('video').codecs.filter((c) => !window.cannotDecode.includes(c.mimeType));
    for (const t of pc.getTransceivers()) if (t.receiver.track.kind === 'video' && !t.stopped) t.setCodecPreferences(codecs);
  }
  await pc.setLocalDescription(await pc.createAnswer());
  await gathered(pc);
  await window.signal('answer', pc.localDescription.sdp);
}

window.startSubscribing = async () => {
  const pc = new RTCPeerConnection({ iceServers: [] });
  state.subscriber = { pc, tracks: [] };
  pc.ontrack = (event) => {
    state.subscriber.tracks.push(event.track);
    // A sink for every track, as a real page would have.
    const element = document.createElement(event.track.kind === 'video' ? 'video' : 'audio');
    element.autoplay = true;
    element.muted = true;
    element.srcObject = new MediaStream([event.track]);
    document.getElementById('media').append(element);
  };
  const offer = await window.signal('subscribe');
  await answerOffer(offer);
};

// The server's renegotiation offers, answered one after another.
window.onServerOffer = (sdp) => {
  const next = state.chain.then(() => answerOffer(sdp));
  state.chain = next.catch(() => {});
  return next;
};

window.subscriberStats = async () => {
  const pc = state.subscriber.pc;
  const report = await pc.getStats();
  const inbound = [];
  report.forEach((stat) => {
    if (stat.type !== 'inbound-rtp') return;
    inbound.push({
      kind: stat.kind,
      mid: stat.mid,
      packetsReceived: stat.packetsReceived ?? 0,
      framesDecoded: stat.framesDecoded ?? 0,
      keyFramesDecoded: stat.keyFramesDecoded ?? 0,
      bytesReceived: stat.bytesReceived ?? 0,
      codec: report.get(stat.codecId)?.mimeType,
    });
  });
  const receiving = pc
    .getTransceivers()
    .filter((t) => t.currentDirection === 'recvonly' || t.currentDirection === 'sendrecv')
    .map((t) => ({ mid: t.mid, kind: t.receiver.track.kind }));
  return { connectionState: pc.connectionState, inbound, receiving };
};

// A publish offer from a fresh connection that is never answered (to test cleanup of half-made peers).
window.makeOffer = async () => {
  const pc = new RTCPeerConnection({ iceServers: [] });
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly' });
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  return pc.localDescription.sdp;
};

// What the publisher's camera encoder aims at and has sent, for the bandwidth test.
window.publisherStats = async () => {
  const camera = state.publisher.stream.getVideoTracks()[0];
  const report = await state.publisher.pc.getStats(camera);
  const video = [];
  report.forEach((stat) => {
    if (stat.type === 'outbound-rtp' && stat.kind === 'video') video.push({ targetBitrate: stat.targetBitrate ?? 0, bytesSent: stat.bytesSent ?? 0 });
  });
  return video;
};
