// The voice bridge softphone: one WebRTC call at a time to the agent or a dialplan.
// No build step and no third-party code: the bridge serves this file as it is.
//
// The server mints a short-lived key for this page (POST /softphone/session); the offer goes
// to POST /softphone/calls?number=… and the answer comes back as SDP. The call's events (what
// each side said, interruptions, hang-up) arrive on the data channel "softphone"; keypad digits
// and hang-up go back on it. Latency is measured here, from what this page hears: the end of
// your speech (the microphone's level) to the first sound of the reply (the line's level).
"use strict";

(() => {
  const params = new URLSearchParams(location.search);
  // ?aec=0 turns echo cancellation, noise suppression and auto gain off (tests feed a file).
  const processing = params.get("aec") !== "0";
  const SPEECH_LEVEL = 0.02; // RMS of the microphone that counts as speech
  const LINE_LEVEL = 0.01; // RMS of the line that counts as the other side talking
  const HANGOVER_MS = 250; // quiet this long ends a stretch of speech
  const MAX_RECORDING_S = 600;

  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $("status"), number: $("number"), numbers: $("numbers"), directory: $("directory"),
    call: $("call"), hangup: $("hangup"), mic: $("mic-level"), line: $("line-level"),
    latency: $("latency"), transcript: $("transcript"), remote: $("remote"),
    keyForm: $("key-form"), apiKey: $("api-key"), download: $("download"),
  };

  let session = null; // {key, expires_at, numbers, ice_servers}
  let apiKey = ""; // typed by the user when the bridge needs one; never stored
  let call = null; // the call in progress
  // turns: latency per reply (ms); bargeIns: how soon the line went quiet when you talked
  // over it; audibleMs: how long the line has been audible in this call.
  const stats = { turns: [], bargeIns: [], transcript: [], events: [], audibleMs: 0 };
  let state = "idle";

  function setState(next, text) {
    state = next;
    ui.status.textContent = text;
    document.body.dataset.state = next;
    ui.call.disabled = !session || next === "connecting" || next === "in-call";
    ui.hangup.disabled = !(next === "connecting" || next === "in-call");
  }

  // --- the page's key and the numbers it can call ---------------------------------------

  async function fetchSession() {
    const headers = apiKey ? { Authorization: `Bearer ${apiKey}` } : {};
    const response = await fetch("/softphone/session", { method: "POST", headers });
    if (response.status === 401) {
      ui.keyForm.hidden = false;
      setState("locked", apiKey ? "That API key was refused." : "Enter an API key to call.");
      return false;
    }
    if (!response.ok) {
      setState("idle", `The bridge refused a session: ${response.status} ${await response.text()}`);
      return false;
    }
    session = await response.json();
    ui.keyForm.hidden = true;
    showDirectory(session.numbers);
    return true;
  }

  function showDirectory(numbers) {
    ui.numbers.replaceChildren();
    ui.directory.replaceChildren();
    for (const entry of numbers) {
      const option = document.createElement("option");
      option.value = entry.number;
      option.label = entry.name;
      ui.numbers.append(option);
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.number = entry.number;
      button.textContent = entry.name;
      button.title = entry.description || entry.number;
      button.addEventListener("click", () => { ui.number.value = entry.number; });
      item.append(button, " ");
      const small = document.createElement("small");
      small.textContent = entry.number;
      item.append(small);
      ui.directory.append(item);
    }
  }

  async function freshKey() {
    if (!session || session.expires_at * 1000 - Date.now() < 30_000) {
      if (!(await fetchSession())) throw new Error("no key for this page");
    }
    return session.key;
  }

  // --- levels, latency and the recording of what was heard --------------------------------

  function rms(samples) {
    let sum = 0;
    for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
    return Math.sqrt(sum / samples.length);
  }

  // A stretch of sound on one side: `on` while it lasts, `last` = its last loud chunk.
  function voiceTracker(threshold, onStart, onEnd) {
    const t = { on: false, last: 0 };
    t.feed = (level, now) => {
      if (level >= threshold) {
        if (!t.on) { t.on = true; onStart(now); }
        t.last = now;
      } else if (t.on && now - t.last > HANGOVER_MS) {
        t.on = false;
        onEnd(t.last);
      }
    };
    return t;
  }

  function tap(context, stream, onChunk) {
    const source = context.createMediaStreamSource(stream);
    const processor = context.createScriptProcessor(1024, 1, 1);
    const mute = context.createGain();
    mute.gain.value = 0;
    processor.onaudioprocess = (event) => onChunk(event.inputBuffer.getChannelData(0));
    source.connect(processor).connect(mute).connect(context.destination);
    return () => { processor.onaudioprocess = null; source.disconnect(); processor.disconnect(); };
  }

  function startMeters(c) {
    let awaitingReply = 0; // when your last speech ended, until the reply is heard
    let bargeAt = 0; // when you started talking over the other side
    c.you = voiceTracker(SPEECH_LEVEL, (now) => {
      if (c.line.on) bargeAt = now;
    }, (end) => { awaitingReply = end; });
    c.line = voiceTracker(LINE_LEVEL, (now) => {
      if (awaitingReply && !c.you.on) {
        const ms = Math.round(now - awaitingReply);
        stats.turns.push(ms);
        const item = document.createElement("li");
        item.textContent = `${ms} ms`;
        ui.latency.append(item);
      }
      awaitingReply = 0;
    }, (end) => {
      if (bargeAt) {
        stats.bargeIns.push({ stopped_after_ms: Math.round(end - bargeAt) });
        note(`The other side stopped ${Math.round(end - bargeAt)} ms after you started talking.`);
        bargeAt = 0;
      }
    });
    c.stops.push(tap(c.audio, c.micStream, (samples) => {
      const level = rms(samples);
      ui.mic.value = Math.min(1, level * 5);
      c.you.feed(level, performance.now());
    }));
  }

  function listenToLine(c, stream) {
    // The stream must play in an <audio> element, or WebAudio reads silence from it.
    ui.remote.srcObject = stream;
    c.stops.push(tap(c.audio, stream, (samples) => {
      const level = rms(samples);
      ui.line.value = Math.min(1, level * 5);
      if (level >= LINE_LEVEL) stats.audibleMs += (1000 * samples.length) / c.audio.sampleRate;
      c.line.feed(level, performance.now());
      if (c.heardSamples < MAX_RECORDING_S * c.audio.sampleRate) {
        c.heard.push(new Float32Array(samples));
        c.heardSamples += samples.length;
      }
    }));
  }

  function recording() {
    // What the line played, as 16-bit PCM (base64) at the page's sample rate.
    const c = call || lastCall;
    if (!c) return null;
    const pcm = new Int16Array(c.heardSamples);
    let offset = 0;
    for (const chunk of c.heard) {
      for (let i = 0; i < chunk.length; i++) {
        pcm[offset++] = Math.max(-32768, Math.min(32767, Math.round(chunk[i] * 32767)));
      }
    }
    return { rate: c.audio.sampleRate, pcm };
  }

  function wav(rate, pcm) {
    const header = new DataView(new ArrayBuffer(44));
    const text = (at, s) => [...s].forEach((ch, i) => header.setUint8(at + i, ch.charCodeAt(0)));
    text(0, "RIFF"); header.setUint32(4, 36 + pcm.byteLength, true); text(8, "WAVEfmt ");
    header.setUint32(16, 16, true); header.setUint16(20, 1, true); header.setUint16(22, 1, true);
    header.setUint32(24, rate, true); header.setUint32(28, rate * 2, true);
    header.setUint16(32, 2, true); header.setUint16(34, 16, true); text(36, "data");
    header.setUint32(40, pcm.byteLength, true);
    return new Blob([header, pcm.buffer], { type: "audio/wav" });
  }

  function base64(bytes) {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return btoa(binary);
  }

  // --- the transcript -------------------------------------------------------------------

  const lines = new Map(); // item id -> its <li>

  function say(who, text, id) {
    let item = id && lines.get(id);
    if (!item) {
      item = document.createElement("li");
      item.className = who === "Agent" ? "agent" : "caller";
      const label = document.createElement("b");
      label.textContent = who;
      item.append(label, document.createElement("span"));
      ui.transcript.append(item);
      if (id) lines.set(id, item);
    }
    item.querySelector("span").textContent = text;
    ui.transcript.scrollTop = ui.transcript.scrollHeight;
    return item;
  }

  function note(text) {
    const item = document.createElement("li");
    item.className = "note";
    item.textContent = text;
    ui.transcript.append(item);
    stats.transcript.push({ role: "note", text });
  }

  const agentText = new Map();

  function onEvent(event) {
    stats.events.push(event.type);
    switch (event.type) {
      case "call.started":
        note(`Connected to ${event.name} (${event.number}).`);
        break;
      case "conversation.item.input_audio_transcription.completed":
        if (event.transcript.trim()) {
          say("You", event.transcript.trim(), event.item_id);
          stats.transcript.push({ role: "user", text: event.transcript.trim() });
        }
        break;
      case "response.output_audio_transcript.delta": {
        const text = (agentText.get(event.item_id) || "") + event.delta;
        agentText.set(event.item_id, text);
        say("Agent", text, event.item_id);
        break;
      }
      case "response.output_audio_transcript.done":
        agentText.set(event.item_id, event.transcript);
        say("Agent", event.transcript, event.item_id);
        stats.transcript.push({ role: "assistant", text: event.transcript, item_id: event.item_id });
        break;
      case "conversation.item.truncated": {
        const item = lines.get(event.item_id);
        if (item) item.classList.add("cut");
        stats.transcript.push({ role: "truncated", item_id: event.item_id, audio_end_ms: event.audio_end_ms });
        break;
      }
      case "dtmf":
        note(`You pressed ${event.digit}.`);
        break;
      case "hangup":
        end("The other side hung up.");
        break;
      case "error":
        note(`Error: ${event.error?.message || "unknown"}`);
        break;
      default:
        break;
    }
  }

  // --- the call -------------------------------------------------------------------------

  let lastCall = null;

  async function gathered(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return;
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
  }

  async function placeCall(number) {
    if (call) return;
    number = (number || ui.number.value).trim();
    if (!number) return;
    setState("connecting", `Calling ${number}…`);
    ui.transcript.replaceChildren();
    ui.latency.replaceChildren();
    lines.clear();
    agentText.clear();
    ui.download.hidden = true;
    Object.assign(stats, { turns: [], bargeIns: [], transcript: [], events: [], audibleMs: 0 });
    const c = { number, stops: [], heard: [], heardSamples: 0, ended: false };
    call = c;
    try {
      const key = await freshKey();
      c.micStream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: processing, noiseSuppression: processing,
          autoGainControl: processing, channelCount: 1 },
      });
      c.audio = new AudioContext();
      await c.audio.resume();
      startMeters(c);
      const pc = new RTCPeerConnection({ iceServers: session.ice_servers || [] });
      c.pc = pc;
      for (const track of c.micStream.getAudioTracks()) pc.addTrack(track, c.micStream);
      pc.ontrack = (event) => listenToLine(c, event.streams[0] || new MediaStream([event.track]));
      c.channel = pc.createDataChannel("softphone");
      c.channel.onmessage = (message) => {
        try { onEvent(JSON.parse(message.data)); } catch (error) { console.warn(error); }
      };
      c.channel.onclose = () => end("The call ended.");
      pc.onconnectionstatechange = () => {
        if (pc.connectionState === "connected") setState("in-call", `In a call with ${number}`);
        if (pc.connectionState === "failed") end("The connection failed.");
      };
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, 3000);
      const response = await fetch(`/softphone/calls?number=${encodeURIComponent(number)}`, {
        method: "POST",
        headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${key}` },
        body: pc.localDescription.sdp,
      });
      if (response.status !== 201) {
        const body = await response.json().catch(() => ({}));
        throw new Error(body.error?.message || `the bridge answered ${response.status}`);
      }
      c.location = response.headers.get("Location");
      if (c.ended) return;
      await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
    } catch (error) {
      end(`Call failed: ${error.message}`);
    }
  }

  function end(text) {
    const c = call;
    if (!c || c.ended) return;
    c.ended = true;
    call = null;
    lastCall = c;
    for (const stop of c.stops) stop();
    if (c.channel && c.channel.readyState === "open") {
      try { c.channel.send(JSON.stringify({ type: "hangup" })); } catch (error) { /* closing */ }
    }
    if (c.pc) setTimeout(() => c.pc.close(), 200); // let the hang-up message leave first
    if (c.micStream) c.micStream.getTracks().forEach((track) => track.stop());
    if (c.heardSamples) {
      const { rate, pcm } = recording();
      ui.download.href = URL.createObjectURL(wav(rate, pcm));
      ui.download.hidden = false;
    }
    setState("ended", text);
  }

  function press(digit) {
    const c = call;
    if (!c || !c.channel || c.channel.readyState !== "open") return false;
    c.channel.send(JSON.stringify({ type: "dtmf", digit }));
    beep(c.audio, digit);
    onEvent({ type: "dtmf", digit });
    return true;
  }

  const TONES = { 1: [697, 1209], 2: [697, 1336], 3: [697, 1477], 4: [770, 1209],
    5: [770, 1336], 6: [770, 1477], 7: [852, 1209], 8: [852, 1336], 9: [852, 1477],
    "*": [941, 1209], 0: [941, 1336], "#": [941, 1477] };

  function beep(context, digit) {
    // The key's DTMF tone, played here only (the digit itself goes on the data channel).
    const gain = context.createGain();
    gain.gain.value = 0.05;
    gain.connect(context.destination);
    for (const frequency of TONES[digit] || []) {
      const tone = context.createOscillator();
      tone.frequency.value = frequency;
      tone.connect(gain);
      tone.start();
      tone.stop(context.currentTime + 0.12);
    }
  }

  // --- wiring ---------------------------------------------------------------------------

  ui.call.addEventListener("click", () => placeCall());
  ui.hangup.addEventListener("click", () => end("You hung up."));
  ui.number.addEventListener("keydown", (event) => { if (event.key === "Enter") placeCall(); });
  for (const key of document.querySelectorAll("#keypad button")) {
    key.addEventListener("click", () => press(key.textContent));
  }
  document.addEventListener("keydown", (event) => {
    if (call && event.target !== ui.number && /^[0-9*#]$/.test(event.key)) press(event.key);
  });
  ui.keyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    apiKey = ui.apiKey.value.trim();
    ui.apiKey.value = "";
    if (await fetchSession()) setState("idle", "Ready. Pick a number and call.");
  });
  window.addEventListener("beforeunload", () => end("Page closed."));

  // For tests and the curious: the page's state, its measurements and what it heard.
  window.softphone = {
    get state() { return state; },
    stats: () => ({ ...JSON.parse(JSON.stringify(stats)),
      speaking: { you: Boolean(call && call.you && call.you.on),
        line: Boolean(call && call.line && call.line.on) } }),
    heard: () => {
      const r = recording();
      return r && { rate: r.rate, pcm: base64(new Uint8Array(r.pcm.buffer)) };
    },
    call: placeCall,
    hangup: () => end("You hung up."),
    press,
  };

  if (params.get("number")) ui.number.value = params.get("number");
  fetchSession()
    .then((ok) => { if (ok) setState("idle", "Ready. Pick a number and call."); })
    .catch((error) => setState("idle", `Cannot reach the bridge: ${error.message}`));
})();
