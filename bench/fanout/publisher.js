// Fan-out benchmark publisher: fake camera (VP8) + fake microphone (Opus) to the SFU.
// Signaling is window.signal('publish', offerSdp) → answerSdp, exposed by bench/fanout/publisher.ts.
'use strict';

async function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return;
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

/** Chromium's own bitrate hints on the VP8 payload type of the SFU's answer (it sends no REMB). */
function withBitrateHints(sdp, startKbps, maxKbps) {
  if (!startKbps && !maxKbps) return sdp;
  const hints = [startKbps ? `x-google-start-bitrate=${startKbps}` : '', maxKbps ? `x-google-max-bitrate=${maxKbps}` : ''].filter(Boolean).join(';');
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(/\r?\n/);
  const out = [];
  for (const line of lines) {
    const vp8 = /^a=rtpmap:(\d+) VP8\/90000/i.exec(line);
    const fmtp = /^a=fmtp:(\d+) /.exec(line);
    if (fmtp && lines.some((l) => l.startsWith(`a=rtpmap:${fmtp[1]} VP8/`))) {
      out.push(`${line};${hints}`);
      continue;
    }
    out.push(line);
    if (vp8 && !lines.some((l) => l.startsWith(`a=fmtp:${vp8[1]} `))) out.push(`a=fmtp:${vp8[1]} ${hints}`);
  }
  return out.join(eol);
}

let publisher = null;

window.startPublishing = async ({ width, height, frameRate, startKbps, maxKbps }) => {
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width, height, frameRate } });
  const pc = new RTCPeerConnection({ iceServers: [] });
  for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
  publisher = { pc, stream };
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  const answer = await window.signal('publish', pc.localDescription.sdp);
  await pc.setRemoteDescription({ type: 'answer', sdp: withBitrateHints(answer, startKbps, maxKbps) });
  return stream.getTracks().map((track) => track.kind);
};

window.publisherStats = async () => {
  const report = await publisher.pc.getStats();
  const out = { connectionState: publisher.pc.connectionState, audio: null, video: null };
  report.forEach((stat) => {
    if (stat.type !== 'outbound-rtp') return;
    out[stat.kind] = {
      packetsSent: stat.packetsSent ?? 0,
      bytesSent: stat.bytesSent ?? 0,
      retransmittedPacketsSent: stat.retransmittedPacketsSent ?? 0,
      nackCount: stat.nackCount ?? 0,
      frameWidth: stat.frameWidth ?? 0,
      frameHeight: stat.frameHeight ?? 0,
      framesPerSecond: stat.framesPerSecond ?? 0,
      targetBitrate: stat.targetBitrate ?? 0,
      qualityLimitationReason: stat.qualityLimitationReason ?? '',
    };
  });
  return out;
};

window.stopPublishing = () => {
  if (!publisher) return;
  for (const track of publisher.stream.getTracks()) track.stop();
  publisher.pc.close();
  publisher = null;
};
