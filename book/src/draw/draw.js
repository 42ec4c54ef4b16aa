// The draw-a-digit page of the course book (book/src/draw.md), after stage 4.
//
// The reader draws on a canvas; the drawing is prepared the way MNIST's
// digits were (cropped, fitted into 20×20, centred by centre of mass in
// 28×28) and the stage 4 network (crates/ch6-mlp) classifies it, computed
// here in plain JavaScript in f32 like the Rust engine. The network's weights
// come from a safetensors file, read here byte by byte: the course's own
// (draw/model.js, written by `cargo xtask book` from the default stage 4 run)
// or one the reader saved with `cargo run -p ch6-mlp -- --save FILE`.
// `cargo xtask browser-test` drives this page in headless Chromium.
"use strict";

(function () {
  // ---------------------------------------------------------------------
  // The safetensors file: 8 bytes of header length (little endian), the JSON
  // header, then the raw little-endian tensors (crates/ch6-mlp/src/model_file.rs).

  // ANCHOR: read_model
  // The network in a safetensors file written by `ch6-mlp --save`:
  // `{sizes, layers: [{w, b, nIn, nOut}]}` with `w` row-major `nIn × nOut`
  // (the W of y = x·W + b). Throws an Error saying what is wrong.
  function readModel(buffer) {
    const [header, length] = readHeader(buffer);
    const meta = header.__metadata__ || {};
    if (meta.format !== "ch6-mlp") {
      throw new Error(meta.format === undefined
        ? "its header has no metadata format: it was not saved by ch6-mlp --save"
        : "its metadata format is \"" + meta.format + "\", not \"ch6-mlp\"");
    }
    if (meta.activation !== "relu") {
      throw new Error("activation \"" + meta.activation + "\" is not supported (only relu)");
    }
    const sizes = String(meta.sizes).split(",").map(Number);
    if (sizes.length < 2 || !sizes.every((n) => Number.isInteger(n) && n > 0)) {
      throw new Error("metadata sizes \"" + meta.sizes + "\" is not a list of layer sizes");
    }
    if (sizes[0] !== 784 || sizes[sizes.length - 1] !== 10) {
      throw new Error("the model reads " + sizes[0] + " inputs and gives " +
        sizes[sizes.length - 1] + " classes; MNIST needs 784 and 10");
    }
    const data = new DataView(buffer, 8 + length);
    const layers = [];
    for (let k = 0; k + 1 < sizes.length; k++) {
      const [nIn, nOut] = [sizes[k], sizes[k + 1]];
      const w = readTensor(header, data, "dense" + k + ".weight", [nIn, nOut], sizes);
      const b = readTensor(header, data, "dense" + k + ".bias", [nOut], sizes);
      layers.push({ w, b, nIn, nOut });
    }
    return { sizes, layers };
  }
  // ANCHOR_END: read_model

  // The JSON header of a safetensors file and its length in bytes.
  function readHeader(buffer) {
    if (buffer.byteLength < 8) {
      throw new Error("it is " + buffer.byteLength + " bytes long, too short for a safetensors file");
    }
    const length = Number(new DataView(buffer).getBigUint64(0, true));
    if (length > buffer.byteLength - 8) {
      throw new Error("not a valid safetensors file: its header length (" + length +
        " bytes) runs past the end of the file (" + buffer.byteLength +
        " bytes); is it corrupted or truncated?");
    }
    let header;
    try {
      const text = new TextDecoder("utf-8", { fatal: true })
        .decode(new Uint8Array(buffer, 8, length));
      header = JSON.parse(text);
    } catch (e) {
      throw new Error("not a valid safetensors file: its header is not JSON (" + e.message + ")");
    }
    if (header === null || typeof header !== "object" || Array.isArray(header)) {
      throw new Error("not a valid safetensors file: its header is not a JSON object");
    }
    return [header, length];
  }

  // Tensor `name` as a Float32Array, checked against `shape`.
  function readTensor(header, data, name, shape, sizes) {
    const info = header[name];
    const architecture = sizes.join("-");
    if (!info) {
      throw new Error("tensor " + name + " is missing; the architecture " + architecture + " needs it");
    }
    if (info.dtype !== "F32") {
      throw new Error("tensor " + name + " is " + info.dtype + ", expected F32");
    }
    if (!Array.isArray(info.shape) || info.shape.join(",") !== shape.join(",")) {
      throw new Error("tensor " + name + " has shape [" + info.shape + "], expected [" +
        shape + "] for the architecture " + architecture);
    }
    const count = shape.reduce((a, n) => a * n, 1);
    const [start, end] = info.data_offsets || [];
    if (!(Number.isInteger(start) && end - start === 4 * count && end <= data.byteLength)) {
      throw new Error("not a valid safetensors file: tensor " + name + "'s bytes [" +
        info.data_offsets + "] are not its " + 4 * count + " bytes inside the file; " +
        "is it corrupted or truncated?");
    }
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      values[i] = data.getFloat32(start + 4 * i, true);
      if (!Number.isFinite(values[i])) {
        throw new Error("tensor " + name + " holds a NaN or infinite number");
      }
    }
    return values;
  }

  // ---------------------------------------------------------------------
  // The forward pass: stage 4's Mlp, one image at a time.

  // ANCHOR: forward
  // The ten probabilities for one image `x` (784 pixels / 255): each layer
  // computes y = x·W + b, ReLU after every layer but the last, then softmax.
  function forward(model, x) {
    let a = Float32Array.from(x);
    const last = model.layers.length - 1;
    model.layers.forEach((layer, k) => {
      a = affine(a, layer);
      if (k < last) a = a.map((v) => (v > 0 ? v : 0)); // ReLU
    });
    return softmax(a);
  }

  // y = x·W + b, for x: 1 × nIn and W: nIn × nOut (row-major), in f32.
  function affine(x, { w, b, nIn, nOut }) {
    const y = Float32Array.from(b);
    for (let i = 0; i < nIn; i++) {
      if (x[i] === 0) continue; // most pixels are blank, many units are 0 after ReLU
      for (let j = 0; j < nOut; j++) y[j] += x[i] * w[i * nOut + j];
    }
    return y;
  }

  // softmax(a)_i = exp(a_i − m) / Σ_j exp(a_j − m), m = max a (so exp never overflows).
  function softmax(a) {
    const m = Math.max(...a);
    const e = Array.from(a, (v) => Math.exp(v - m));
    const sum = e.reduce((s, v) => s + v, 0);
    return e.map((v) => v / sum);
  }
  // ANCHOR_END: forward

  // ---------------------------------------------------------------------
  // Preparing a drawing as MNIST's digits were prepared. An image is
  // {w, h, v} with v a Float32Array of w·h ink values in [0, 1], row by row.

  // ANCHOR: prepare
  // The steps from the drawing to the network's input: the drawing cropped
  // to its bounding box, fitted into 20×20 keeping its aspect ratio (grey
  // levels by area averaging), then placed in the 28×28 field with its
  // centre of mass at the centre and rounded to bytes 0–255 like MNIST's.
  // Null for a blank drawing.
  function prepare(drawing) {
    const box = boundingBox(drawing);
    if (box === null) return null;
    const cropped = crop(drawing, box);
    const fitted = fitInto(cropped, 20);
    const centred = centreOfMassIn(fitted, 28);
    return { cropped, fitted, centred, pixels: toBytes(centred) };
  }
  // ANCHOR_END: prepare

  // The smallest rectangle {x, y, w, h} holding every inked pixel, or null.
  function boundingBox(img) {
    let [x0, y0, x1, y1] = [img.w, img.h, -1, -1];
    for (let y = 0; y < img.h; y++) {
      for (let x = 0; x < img.w; x++) {
        if (img.v[y * img.w + x] > 0) {
          [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
        }
      }
    }
    return x1 < 0 ? null : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
  }

  function crop(img, box) {
    const v = new Float32Array(box.w * box.h);
    for (let y = 0; y < box.h; y++) {
      for (let x = 0; x < box.w; x++) v[y * box.w + x] = img.v[(box.y + y) * img.w + box.x + x];
    }
    return { w: box.w, h: box.h, v };
  }

  // `img` scaled so that its longer side is `size`, aspect ratio kept.
  function fitInto(img, size) {
    const scale = size / Math.max(img.w, img.h);
    const w = Math.max(1, Math.round(img.w * scale));
    const h = Math.max(1, Math.round(img.h * scale));
    return resize(img, w, h);
  }

  // `img` resized to w × h, each new pixel the mean of the area it covers
  // (the grey levels of an anti-aliased downscaling). Rows, then columns.
  function resize(img, w, h) {
    const across = areaWeights(img.w, w);
    const down = areaWeights(img.h, h);
    const rows = new Float32Array(w * img.h);
    for (let y = 0; y < img.h; y++) {
      across.forEach((parts, x) => {
        for (const [i, weight] of parts) rows[y * w + x] += weight * img.v[y * img.w + i];
      });
    }
    const v = new Float32Array(w * h);
    down.forEach((parts, y) => {
      for (const [i, weight] of parts) {
        for (let x = 0; x < w; x++) v[y * w + x] += weight * rows[i * w + x];
      }
    });
    return { w, h, v };
  }

  // For each of `m` new pixels along a line of `n`: the old pixels it
  // covers and what fraction of it each one is, `[[index, weight], …]`.
  function areaWeights(n, m) {
    const step = n / m;
    return Array.from({ length: m }, (_, k) => {
      const [from, to] = [k * step, (k + 1) * step];
      const parts = [];
      for (let i = Math.floor(from); i < Math.min(n, Math.ceil(to)); i++) {
        const covered = Math.min(to, i + 1) - Math.max(from, i);
        if (covered > 0) parts.push([i, covered / step]);
      }
      return parts;
    });
  }

  // `img` in a `size`×`size` field, moved by whole pixels so that its
  // centre of mass falls on the centre of the field: the middle of pixel
  // (14, 14) counting from 0, where MNIST's digits have theirs.
  function centreOfMassIn(img, size) {
    let [mass, sx, sy] = [0, 0, 0];
    for (let y = 0; y < img.h; y++) {
      for (let x = 0; x < img.w; x++) {
        const m = img.v[y * img.w + x];
        [mass, sx, sy] = [mass + m, sx + m * (x + 0.5), sy + m * (y + 0.5)];
      }
    }
    const dx = Math.round(size / 2 + 0.5 - sx / mass);
    const dy = Math.round(size / 2 + 0.5 - sy / mass);
    const v = new Float32Array(size * size);
    for (let y = 0; y < img.h; y++) {
      for (let x = 0; x < img.w; x++) {
        const [X, Y] = [x + dx, y + dy];
        if (X >= 0 && X < size && Y >= 0 && Y < size) v[Y * size + X] = img.v[y * img.w + x];
      }
    }
    return { w: size, h: size, v };
  }

  // Ink in [0, 1] as MNIST's bytes, 0 (blank) to 255 (full ink).
  function toBytes(img) {
    return Uint8Array.from(img.v, (v) => Math.round(255 * Math.min(1, Math.max(0, v))));
  }

  // ---------------------------------------------------------------------
  // The page: the canvas, the steps, the bars, the model picker.

  const page = {};
  let model = null;

  // The network's input from 784 bytes: pixel / 255, as ch6-mlp computes it in f32.
  function inputOf(pixels) {
    return Float32Array.from(pixels, (p) => p / 255);
  }

  // The canvas' ink: its alpha channel (strokes are opaque on a transparent canvas).
  function drawingOf(canvas) {
    const { width: w, height: h } = canvas;
    const rgba = canvas.getContext("2d").getImageData(0, 0, w, h).data;
    const v = new Float32Array(w * h);
    for (let i = 0; i < w * h; i++) v[i] = rgba[4 * i + 3] / 255;
    return { w, h, v };
  }

  // Shows `img` (ink in [0, 1]) on `canvas`, one canvas pixel per image pixel.
  function show(canvas, img) {
    canvas.width = img.w;
    canvas.height = img.h;
    const ctx = canvas.getContext("2d");
    const out = ctx.createImageData(img.w, img.h);
    img.v.forEach((v, i) => {
      const grey = 255 - Math.round(255 * Math.min(1, v));
      out.data.set([grey, grey, grey, 255], 4 * i);
    });
    ctx.putImageData(out, 0, 0);
  }

  function showProbabilities(p) {
    const best = p.indexOf(Math.max(...p));
    page.guess.textContent = String(best);
    page.guess.dataset.digit = String(best);
    p.forEach((q, d) => {
      const row = page.bars.children[d];
      row.classList.toggle("draw-best", d === best);
      row.querySelector(".draw-bar-fill").style.width = (100 * q).toFixed(1) + "%";
      row.querySelector(".draw-bar-value").textContent = (100 * q).toFixed(2) + "%";
    });
  }

  function clearResult() {
    page.guess.textContent = "?";
    page.guess.dataset.digit = "";
    for (const row of page.bars.children) {
      row.classList.remove("draw-best");
      row.querySelector(".draw-bar-fill").style.width = "0";
      row.querySelector(".draw-bar-value").textContent = "";
    }
    for (const c of page.steps) show(c, { w: 1, h: 1, v: new Float32Array(1) });
  }

  // Prepares what is on the canvas, shows the steps and classifies it.
  function update() {
    const prepared = prepare(drawingOf(page.canvas));
    if (prepared === null) return clearResult();
    const pixels = prepared.pixels;
    const input = { w: 28, h: 28, v: inputOf(pixels) };
    [prepared.cropped, prepared.fitted, input].forEach((img, i) => show(page.steps[i], img));
    if (model) showProbabilities(forward(model, input.v));
  }

  function clearCanvas() {
    page.canvas.getContext("2d").clearRect(0, 0, page.canvas.width, page.canvas.height);
    clearResult();
  }

  // Strokes follow each pointer (mouse, pen or finger; several fingers at
  // once) while it is down; the drawing is read when one is lifted.
  function listenForStrokes(canvas) {
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const last = new Map(); // pointerId -> where it last was, while it is down
    const at = (e) => {
      const r = canvas.getBoundingClientRect();
      return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
    };
    const line = (from, to) => {
      Object.assign(ctx, { lineWidth: 20, lineCap: "round", lineJoin: "round", strokeStyle: "#000" });
      ctx.beginPath();
      ctx.moveTo(...from);
      ctx.lineTo(...to);
      ctx.stroke();
    };
    canvas.addEventListener("pointerdown", (e) => {
      canvas.setPointerCapture(e.pointerId);
      last.set(e.pointerId, at(e));
      line(at(e), at(e));
      e.preventDefault();
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!last.has(e.pointerId)) return;
      const coalesced = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
      for (const p of coalesced.length ? coalesced : [e]) {
        line(last.get(e.pointerId), at(p));
        last.set(e.pointerId, at(p));
      }
    });
    const end = (e) => {
      if (last.delete(e.pointerId)) update();
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  }

  function describe(m) {
    const count = m.layers.reduce((n, l) => n + l.w.length + l.b.length, 0);
    return m.sizes.join("-") + " ReLU, " + count.toLocaleString("en") + " parameters";
  }

  // Sets the text of `element`, the parts between backticks as code.
  function say(element, text) {
    element.replaceChildren(...text.split("`").map((part, i) => {
      if (i % 2 === 0) return part;
      const code = document.createElement("code");
      code.textContent = part;
      return code;
    }));
  }

  function showError(text) {
    page.error.textContent = text;
    page.error.hidden = text === "";
  }

  // A model file the reader picked: read, checked, and run if it is a model.
  async function loadPicked(file) {
    try {
      if (file.size > 1 << 30) throw new Error("it is larger than the 1 GiB a model of this course can have");
      const picked = readModel(await file.arrayBuffer());
      model = picked;
      showError("");
      say(page.model, "Running your model " + file.name + ": " + describe(model) + ".");
      update();
    } catch (e) {
      showError(file.name + " is not a model this page can run: " + e.message.replace(/[.?]?$/, (end) => end || ".") +
        " The page goes on with the model it had.");
    }
  }

  // The course's network, from draw/model.js (written by `cargo xtask book`).
  function loadCourseModel() {
    const shipped = window.drawDigitModel;
    if (!shipped) {
      page.model.textContent = "The course's network is not in this build of the book " +
        "(draw/model.js is missing: build the book with cargo xtask book). Pick a model file below.";
      return;
    }
    const bytes = Uint8Array.from(atob(shipped.base64), (c) => c.charCodeAt(0));
    model = readModel(bytes.buffer);
    say(page.model, "Running the course's network (" + describe(model) + "), saved by `" +
      shipped.command + "` with seed " + shipped.seed + " (" + shipped.seedSource + "): test accuracy " +
      shipped.testAccuracy + ". `cargo xtask book --refresh` ran it for this book.");
  }

  function start() {
    const byId = (id) => document.getElementById(id);
    Object.assign(page, {
      canvas: byId("draw-canvas"),
      steps: ["draw-cropped", "draw-fitted", "draw-input"].map(byId),
      bars: byId("draw-bars"),
      guess: byId("draw-guess"),
      model: byId("draw-model"),
      error: byId("draw-error"),
    });
    if (!page.canvas) return; // not the draw page
    for (let d = 0; d < 10; d++) {
      const row = document.createElement("div");
      row.className = "draw-bar";
      row.innerHTML = '<span class="draw-bar-digit">' + d + '</span><span class="draw-bar-track">' +
        '<span class="draw-bar-fill"></span></span><span class="draw-bar-value"></span>';
      page.bars.appendChild(row);
    }
    listenForStrokes(page.canvas);
    byId("draw-clear").addEventListener("click", clearCanvas);
    byId("draw-file").addEventListener("change", (e) => {
      if (e.target.files.length) loadPicked(e.target.files[0]);
    });
    try {
      loadCourseModel();
    } catch (e) {
      showError("The course's network could not be read: " + e.message);
    }
    clearResult();
    // For `cargo xtask browser-test`: the forward pass on 784 bytes (0–255)
    // of the model the page runs, bypassing the canvas; the page shows it too.
    window.drawDigit = {
      classify: (pixels) => {
        const p = forward(model, inputOf(pixels));
        showProbabilities(p);
        return p;
      },
    };
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
