// join.js — the browser join page: a patient's side of the televisit.v1 protocol
// (signaling/PROTOCOL.md) with the browser's RTCPeerConnection.
//
// Flow: read the join token from the URL fragment (#token=..., never sent to the
// server by the browser), get the camera and microphone, open
// wss://<this host>/ with subprotocol televisit.v1, send join; show the waiting
// room (waiting / doctor-ready); on paired build a fresh RTCPeerConnection with
// the server's ice_servers, answer the doctor's offer, trickle candidates both
// ways, report media connected/disconnected; chat in both directions; a quality
// indicator from getStats; reconnect with back-off when the connection drops.
// window.tvJoin exposes the state for tests (frames rendered, chat, screen).
'use strict';

(() => {
  const SUBPROTOCOL = 'televisit.v1';
  const TOKEN_RE = /^[A-Za-z0-9_-]{16,128}$/;
  const PING_MS = 5000;          // keep-alive; the connection is dead after 3 missed pongs
  const DEAD_MS = 15000;
  const STATS_MS = 2000;
  const CHAT_MAX_BYTES = 2000;
  const RETRY_MS = [1000, 2000, 4000, 8000, 10000];

  const $ = (id) => document.getElementById(id);
  const state = {
    screen: 'start', role: null, consult: null, iceServers: [], framesRendered: 0, remoteFramesSeen: false,
    chat: [], errors: [], mediaReported: null, paired: false, ended: false, left: false,
    quality: null, reconnects: 0, admitted: false, mediaRestarts: 0,
  };
  window.tvJoin = state;

  let token = null;
  let ws = null;
  let pc = null;
  let local = null;            // MediaStream from getUserMedia (null: receive only)
  let pendingCandidates = [];  // remote candidates that arrived before the offer was applied
  let pingTimer = 0, statsTimer = 0, retryTimer = 0, lastPong = 0, pingId = 0;
  let retryIndex = 0;
  let fatal = false;           // a fatal error or the end: no reconnecting
  let lastStats = null;
  const seenChat = new Set();

  // ---- screens and messages ------------------------------------------------
  const screens = ['start', 'problem', 'waiting', 'call', 'ended'];
  function show (name) {
    state.screen = name;
    for (const s of screens) $('screen-' + s).hidden = s !== name;
    // Chat opens once the doctor has admitted us (the server refuses it before).
    $('chat').hidden = !(name === 'call' || (name === 'waiting' && state.admitted));
    $('quality').hidden = name !== 'call';
    const h = $('screen-' + name).querySelector('h1');
    if (h) { h.tabIndex = -1; h.focus({ preventScroll: true }); }
  }
  function problem (title, text, opts = {}) {
    $('problem-title').textContent = title;
    $('problem-text').textContent = text;
    $('btn-retry').hidden = !opts.retry;
    $('btn-nomedia').hidden = !opts.nomedia;
    show('problem');
  }
  function banner (text) {
    $('banner').textContent = text || '';
    $('banner').hidden = !text;
  }

  // ---- the WebSocket -------------------------------------------------------
  function send (msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  function connect () {
    clearTimeout(retryTimer);
    ws = new WebSocket(`wss://${location.host}/`, SUBPROTOCOL);
    const me = ws;
    ws.onopen = () => {
      if (me !== ws) return;
      lastPong = Date.now();
      send({ type: 'join', token });
      clearInterval(pingTimer);
      pingTimer = setInterval(() => {
        if (Date.now() - lastPong > DEAD_MS) { me.close(); return; }
        send({ type: 'ping', id: ++pingId });
      }, PING_MS);
    };
    ws.onmessage = (ev) => {
      if (me !== ws) return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch { return; }
      if (msg && typeof msg.type === 'string') handle(msg);
    };
    ws.onclose = () => {
      if (me !== ws) return;
      clearInterval(pingTimer);
      ws = null;
      closePeer(false);
      state.paired = false;
      if (fatal || state.ended || state.left) return;
      // Dropped: try again with back-off; the server keeps our place in the visit.
      const wait = RETRY_MS[Math.min(retryIndex++, RETRY_MS.length - 1)];
      state.reconnects++;
      banner('Connection lost — reconnecting…');
      retryTimer = setTimeout(connect, wait);
    };
  }

  const FATAL_TEXT = {
    4102: ['This link does not work', 'The visit link is not valid. Please check that you opened the whole link, or ask the clinic for a new one.'],
    4103: ['This link has expired', 'The visit link is no longer valid. Please ask the clinic for a new one.'],
    4104: ['The visit is open elsewhere', 'This visit is already open in another window or device. Close it there, then try again.'],
    4105: ['This visit is over', 'This visit has ended or was cancelled. Please contact the clinic if you need another appointment.'],
    4106: ['Could not join', 'Joining took too long. Please try again.'],
    5001: ['The service is restarting', 'Please try again in a minute.'],
  };

  function handle (msg) {
    switch (msg.type) {
    case 'joined':
      retryIndex = 0;
      banner('');
      state.role = msg.role;
      state.consult = msg.consult;
      state.iceServers = Array.isArray(msg.ice_servers) ? msg.ice_servers : [];
      if (msg.role !== 'patient') {
        fatal = true;
        send({ type: 'leave' });
        problem('This is the doctor\'s link', 'Doctors hold visits from the Televisit desktop client. Patients use the link they were sent.');
        return;
      }
      if (!state.paired) show('waiting');
      break;
    case 'waiting':
      state.paired = false;
      closePeer(false);
      $('waiting-doctor').textContent = msg.doctor ? `Your visit with ${msg.doctor}` : 'Your visit';
      $('waiting-time').textContent = msg.scheduled_start ? `Scheduled for ${formatTime(msg.scheduled_start)}` : '';
      $('waiting-state').textContent = msg.doctor_present
        ? 'The doctor is here and will let you in shortly.' : 'The doctor will let you in when they are ready.';
      show('waiting');
      break;
    case 'doctor-ready':
      $('waiting-state').textContent = 'The doctor is here and will let you in shortly.';
      break;
    case 'media-restart':
      // The media is renegotiated from scratch (PROTOCOL.md 3.26); "paired" follows.
      state.mediaRestarts++;
      state.restarting = true;
      break;
    case 'paired':
      state.paired = true;
      state.admitted = true;
      banner(state.restarting ? 'Reconnecting the video…' : '');
      state.restarting = false;
      newPeer();
      show('call');
      break;
    case 'offer':
      onOffer(msg.sdp);
      break;
    case 'candidate':
      onRemoteCandidate(msg);
      break;
    case 'peer-left':
      closePeer(false);
      state.paired = false;
      banner(msg.reason === 'dropped' ? 'The doctor\'s connection dropped — waiting for them to come back…'
        : 'The doctor stepped out — please wait.');
      show('waiting');
      break;
    case 'peer-joined':
      banner('');
      break;
    case 'ended':
      state.ended = true;
      fatal = true;
      closePeer(false);
      banner('');
      $('ended-text').textContent = msg.reason === 'ended-by-admin' ? 'The clinic has ended this visit. You can close this page.'
        : 'The doctor has ended the visit. Thank you — you can close this page.';
      $('btn-rejoin').hidden = true;
      show('ended');
      break;
    case 'chat-message':
      onChat(msg);
      break;
    case 'pong':
      lastPong = Date.now();
      break;
    case 'error':
      state.errors.push({ code: msg.code, message: msg.message, ref: msg.ref || null });
      if (FATAL_TEXT[msg.code]) {
        fatal = true;
        banner('');
        const [t, x] = FATAL_TEXT[msg.code];
        problem(t, x, { retry: msg.code === 4104 || msg.code === 4106 || msg.code === 5001 });
      } else if (msg.ref === 'chat') {
        chatError(msg.message);
      }
      break;
    default:
      break;
    }
  }

  function formatTime (rfc3339) {
    const d = new Date(rfc3339);
    if (isNaN(d)) return rfc3339;
    return d.toLocaleString(undefined, { weekday: 'long', day: 'numeric', month: 'long', hour: '2-digit', minute: '2-digit' });
  }

  // ---- the peer connection -------------------------------------------------
  function iceConfig () {
    const servers = [];
    for (const s of state.iceServers) {
      if (!s || !Array.isArray(s.urls)) continue;
      const e = { urls: s.urls };
      if (s.username) e.username = s.username;
      if (s.credential) e.credential = s.credential;
      servers.push(e);
    }
    return { iceServers: servers, bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' };
  }

  function newPeer () {
    closePeer(false);
    pendingCandidates = [];
    state.mediaReported = null;
    const p = new RTCPeerConnection(iceConfig());
    pc = p;
    p.onicecandidate = (e) => {
      if (p !== pc) return;
      if (e.candidate && e.candidate.candidate) {
        send({ type: 'candidate', candidate: e.candidate.candidate, sdpMLineIndex: e.candidate.sdpMLineIndex ?? 0 });
      } else if (!e.candidate) {
        send({ type: 'candidate', candidate: '', sdpMLineIndex: 0 });
      }
    };
    p.ontrack = (e) => {
      if (p !== pc) return;
      // One stream for the element, whatever streams the doctor's tracks come in
      // (webrtcbin may put audio and video in different ones).
      const remote = $('remote');
      if (!(remote.srcObject instanceof MediaStream)) remote.srcObject = new MediaStream();
      const stream = remote.srcObject;
      for (const t of stream.getTracks()) if (t.kind === e.track.kind) stream.removeTrack(t);
      stream.addTrack(e.track);
      if (e.track.kind === 'video') {
        remote.srcObject = stream;   // reload so the element picks up the new video track
        countFrames(remote);
      }
      remote.play().catch(() => {});
    };
    p.onconnectionstatechange = () => {
      if (p !== pc) return;
      const s = p.connectionState;
      if (s === 'connected') reportMedia('connected');
      else if (s === 'failed' || s === 'disconnected' || s === 'closed') reportMedia('disconnected');
      if (s === 'connected') banner('');
      else if (s === 'disconnected') banner('The connection is unstable — trying to recover…');
      else if (s === 'failed') banner('The video connection failed — the doctor will reconnect.');
    };
    clearInterval(statsTimer);
    lastStats = null;
    statsTimer = setInterval(updateQuality, STATS_MS);
  }

  function reportMedia (s) {
    if (state.mediaReported === s) return;
    if (s === 'disconnected' && state.mediaReported === null) return;
    state.mediaReported = s;
    send({ type: 'media', state: s });
  }

  function closePeer () {
    clearInterval(statsTimer);
    if (pc) {
      const p = pc;
      pc = null;
      if (state.mediaReported === 'connected') { state.mediaReported = 'disconnected'; send({ type: 'media', state: 'disconnected' }); }
      try { p.close(); } catch {}
    }
    $('remote').srcObject = null;
  }

  function validSdp (sdp) {
    return typeof sdp === 'string' && sdp.startsWith('v=') && sdp.length <= 49152;
  }

  async function onOffer (sdp) {
    if (!pc || !validSdp(sdp)) return;
    const p = pc;
    try {
      await p.setRemoteDescription({ type: 'offer', sdp });
      if (p !== pc) return;
      // Our camera and microphone go on the doctor's transceivers (one per kind).
      for (const t of p.getTransceivers()) {
        const kind = t.receiver.track.kind;
        const track = local ? local.getTracks().find((x) => x.kind === kind) : null;
        if (track) {
          await t.sender.replaceTrack(track);
          t.direction = 'sendrecv';
          if (t.sender.setStreams && local) t.sender.setStreams(local);
        } else {
          t.direction = 'recvonly';
        }
      }
      for (const c of pendingCandidates) await addCandidate(p, c);
      pendingCandidates = [];
      const answer = await p.createAnswer();
      if (p !== pc) return;
      await p.setLocalDescription(answer);
      if (p !== pc) return;
      send({ type: 'answer', sdp: p.localDescription.sdp });
    } catch (err) {
      state.errors.push({ code: 0, message: 'negotiation: ' + err.message });
      banner('The video connection could not be set up — the doctor can try again.');
    }
  }

  async function addCandidate (p, c) {
    try {
      if (c.candidate === '') await p.addIceCandidate(null);
      else await p.addIceCandidate({ candidate: c.candidate, sdpMLineIndex: c.sdpMLineIndex });
    } catch (err) {
      // A candidate we cannot use (e.g. another address family) is not fatal.
    }
  }

  function onRemoteCandidate (msg) {
    if (!pc || typeof msg.candidate !== 'string') return;
    if (!pc.remoteDescription) { pendingCandidates.push(msg); return; }
    addCandidate(pc, msg);
  }

  // Frames actually painted, counted with requestVideoFrameCallback (the test
  // reads it); registered again for every new source of the element.
  let frameGen = 0;
  function countFrames (v) {
    if (!v.requestVideoFrameCallback) return;
    const gen = ++frameGen;
    const tick = () => {
      if (gen !== frameGen) return;
      state.framesRendered++;
      v.requestVideoFrameCallback(tick);
    };
    v.requestVideoFrameCallback(tick);
  }

  async function updateQuality () {
    if (!pc) return;
    let stats;
    try { stats = await pc.getStats(); } catch { return; }
    let bytes = 0, lost = 0, received = 0, rtt = null;
    stats.forEach((r) => {
      if (r.type === 'inbound-rtp' && !r.isRemote) {
        bytes += r.bytesReceived || 0;
        lost += r.packetsLost || 0;
        received += r.packetsReceived || 0;
      } else if (r.type === 'candidate-pair' && r.nominated && r.state === 'succeeded' && r.currentRoundTripTime != null) {
        rtt = r.currentRoundTripTime * 1000;
      }
    });
    const now = performance.now();
    let kbps = null, loss = null;
    if (lastStats) {
      const dt = (now - lastStats.t) / 1000;
      kbps = dt > 0 ? Math.max(0, (bytes - lastStats.bytes) * 8 / 1000 / dt) : null;
      const dl = lost - lastStats.lost, dr = received - lastStats.received;
      loss = dl + dr > 0 ? Math.max(0, 100 * dl / (dl + dr)) : 0;
    }
    lastStats = { t: now, bytes, lost, received };
    if (kbps === null) return;
    const level = loss > 5 || (rtt !== null && rtt > 400) || kbps < 100 ? 'poor'
      : loss > 1 || (rtt !== null && rtt > 200) || kbps < 300 ? 'fair' : 'good';
    state.quality = { kbps: Math.round(kbps), loss: Math.round(loss * 10) / 10, rtt_ms: rtt === null ? null : Math.round(rtt), level };
    const q = $('quality');
    q.className = 'quality ' + level;
    q.textContent = `Connection ${level}: ${Math.round(kbps)} kbit/s, ${state.quality.loss} % loss` +
      (rtt === null ? '' : `, ${Math.round(rtt)} ms`);
  }

  // ---- chat ----------------------------------------------------------------
  function onChat (msg) {
    if (typeof msg.text !== 'string') return;
    if (msg.id != null) {
      if (seenChat.has(msg.id)) return;
      seenChat.add(msg.id);
    }
    const mine = msg.from === state.role;
    state.chat.push({ id: msg.id ?? null, from: msg.from, text: msg.text, at: msg.at || null });
    const li = document.createElement('li');
    li.className = mine ? 'mine' : 'theirs';
    const meta = document.createElement('span');
    meta.className = 'meta';
    const when = msg.at ? new Date(msg.at) : new Date();
    meta.textContent = `${mine ? 'You' : (msg.from === 'doctor' ? 'Doctor' : 'Patient')} · ${when.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })}`;
    li.append(meta, document.createTextNode(msg.text));   // text, never HTML
    $('chat-log').append(li);
    li.scrollIntoView({ block: 'nearest' });
  }

  function chatError (text) {
    $('chat-error').textContent = text || '';
    $('chat-error').hidden = !text;
  }

  function sendChat () {
    const input = $('chat-input');
    const text = input.value.replace(/\r\n?/g, '\n').trim();
    if (!text) return;
    if (new TextEncoder().encode(text).length > CHAT_MAX_BYTES) { chatError('The message is too long (at most 2000 characters).'); return; }
    if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(text)) { chatError('The message contains characters that cannot be sent.'); return; }
    if (!ws || ws.readyState !== WebSocket.OPEN) { chatError('Not connected — the message was not sent.'); return; }
    chatError('');
    send({ type: 'chat', text });
    input.value = '';
  }

  // ---- controls ------------------------------------------------------------
  function setMic (muted) {
    if (local) for (const t of local.getAudioTracks()) t.enabled = !muted;
    const b = $('btn-mic');
    b.setAttribute('aria-pressed', String(muted));
    b.textContent = muted ? 'Unmute' : 'Mute';
  }
  function setCam (off) {
    if (local) for (const t of local.getVideoTracks()) t.enabled = !off;
    const b = $('btn-cam');
    b.setAttribute('aria-pressed', String(off));
    b.textContent = off ? 'Camera on' : 'Camera off';
  }
  function hangUp () {
    state.left = true;
    send({ type: 'leave' });
    closePeer(false);
    if (ws) { const w = ws; ws = null; w.close(1000); }
    clearInterval(pingTimer);
    banner('');
    $('ended-title').textContent = 'You left the visit';
    $('ended-text').textContent = 'You can rejoin while the visit is still open.';
    $('btn-rejoin').hidden = false;
    show('ended');
  }
  function rejoin () {
    state.left = false;
    fatal = false;
    state.paired = false;
    show('start');
    connect();
  }

  function wire () {
    $('btn-mic').addEventListener('click', () => setMic($('btn-mic').getAttribute('aria-pressed') !== 'true'));
    $('btn-cam').addEventListener('click', () => setCam($('btn-cam').getAttribute('aria-pressed') !== 'true'));
    $('btn-hangup').addEventListener('click', hangUp);
    $('btn-rejoin').addEventListener('click', rejoin);
    $('btn-retry').addEventListener('click', () => { fatal = false; start(); });
    $('btn-nomedia').addEventListener('click', () => { local = null; begin(); });
    $('btn-chat').addEventListener('click', () => {
      const c = $('chat');
      c.hidden = !c.hidden;
      $('btn-chat').setAttribute('aria-expanded', String(!c.hidden));
    });
    $('chat-form').addEventListener('submit', (e) => { e.preventDefault(); sendChat(); });
    $('chat-input').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); sendChat(); }
    });
    // Shortcuts in the call, not while typing.
    document.addEventListener('keydown', (e) => {
      if (state.screen !== 'call' || e.target.closest('textarea, input') || e.ctrlKey || e.metaKey || e.altKey) return;
      const k = e.key.toLowerCase();
      if (k === 'm') $('btn-mic').click();
      else if (k === 'v') $('btn-cam').click();
      else if (k === 'h') $('btn-hangup').click();
    });
    window.addEventListener('pagehide', () => { if (ws && !state.ended) send({ type: 'leave' }); });
  }

  // ---- start -----------------------------------------------------------------
  function begin () {
    if (local) { $('preview').srcObject = local; $('self').srcObject = local; }
    show('start');
    $('start-text').textContent = 'Connecting to the clinic…';
    connect();
  }

  async function start () {
    const params = new URLSearchParams(location.hash.replace(/^#/, ''));
    token = params.get('token');
    if (!token || !TOKEN_RE.test(token)) {
      problem('This link is incomplete', 'The visit link is missing its code. Please open the whole link from your invitation, or ask the clinic to send it again.');
      return;
    }
    if (!window.RTCPeerConnection || !navigator.mediaDevices) {
      problem('This browser cannot make video calls', 'Please use a current version of Chromium, Chrome, Edge, Firefox or Safari.');
      return;
    }
    show('start');
    try {
      local = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
    } catch (err) {
      local = null;
      const denied = err && (err.name === 'NotAllowedError' || err.name === 'SecurityError');
      const missing = err && (err.name === 'NotFoundError' || err.name === 'OverconstrainedError');
      problem(denied ? 'Camera and microphone are blocked' : missing ? 'No camera or microphone found' : 'The camera could not be started',
        denied ? 'Allow camera and microphone for this page (the camera icon in the address bar), then choose Try again. You can also join without them; the doctor will still see and hear nothing from you.'
          : 'Check that a camera and microphone are connected and not used by another program, then choose Try again.',
        { retry: true, nomedia: true });
      return;
    }
    begin();
  }

  wire();
  start();
})();
