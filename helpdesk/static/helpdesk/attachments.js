/*
 * Files in a conversation, for the widget and the inbox alike (docs/protocol.md, "Attachment"):
 *
 *   HelpdeskFiles.render(message.attachments)  // images as thumbnails (a click opens the whole
 *                                              // picture), other files as downloads
 *   const tray = new HelpdeskFiles.Tray(node, { upload(file, onProgress) → Promise<Attachment> });
 *   tray.add(files); tray.ready(); tray.busy(); tray.clear();
 *   HelpdeskFiles.fromPaste(event) / HelpdeskFiles.dropZone(node, onFiles)
 *
 * Uploads are the caller's (the widget through the client library, the inbox over HTTP with
 * its session); the tray shows each file's progress and, in the reader's words, why the
 * server refused one (too large, a type not accepted). A refused file is never sent.
 */
(() => {
  "use strict";

  const _ = (s) => (window.gettext ? window.gettext(s) : s);
  const fill = (format, values) => (window.interpolate ? window.interpolate(format, values, true) : format);
  const LOCALE = document.documentElement.lang || undefined;
  const MAX_FILES = 10; // a message carries at most ten (docs/protocol.md)
  const THUMB = 240; // the largest side of a thumbnail on screen, in CSS pixels
  const PREVIEW_BYTES = 8 * 1024 * 1024; // images shown in the tray before they are sent

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  const number = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 1 });
  function formatSize(bytes) {
    const n = Number(bytes) || 0;
    if (n < 1024) return fill(_("%(n)s B"), { n: number.format(n) });
    if (n < 1024 * 1024) return fill(_("%(n)s KB"), { n: number.format(n / 1024) });
    return fill(_("%(n)s MB"), { n: number.format(n / (1024 * 1024)) });
  }

  const isImage = (a) => !!a && /^image\//.test(String(a.content_type || "")) && !!(a.thumbnail_url || a.url);
  const extension = (name) => {
    const m = /\.([a-z0-9]{1,5})$/i.exec(String(name || ""));
    return m ? m[1].toUpperCase() : _("FILE");
  };

  // Only our own signed links (relative to the server): never a URL a sender made up.
  const safeUrl = (url) => (typeof url === "string" && /^\/[^/\\]/.test(url) ? url : null);

  function thumbSize(a) {
    const w = Number(a.width) || 0;
    const h = Number(a.height) || 0;
    if (!w || !h) return null;
    const scale = Math.min(1, THUMB / Math.max(w, h));
    return [Math.max(1, Math.round(w * scale)), Math.max(1, Math.round(h * scale))];
  }

  // ---- files of a message ---------------------------------------------------------------------
  function render(attachments) {
    const list = el("div", "att-list");
    for (const a of Array.isArray(attachments) ? attachments : []) {
      if (!a || typeof a !== "object") continue;
      const url = safeUrl(a.url);
      if (isImage(a) && url) {
        const link = el("a", "att-image");
        link.href = url;
        link.target = "_blank";
        link.rel = "noopener";
        link.dataset.attachmentId = String(a.id || "");
        link.setAttribute("aria-label", fill(_("Open the image %(name)s"), { name: a.name || "" }));
        const img = el("img");
        img.src = safeUrl(a.thumbnail_url) || url;
        img.alt = String(a.name || "");
        img.decoding = "async";
        const size = thumbSize(a);
        if (size) {
          img.width = size[0];
          img.height = size[1];
        }
        link.appendChild(img);
        link.addEventListener("click", (event) => {
          if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
          event.preventDefault();
          openImage(a);
        });
        list.appendChild(link);
      } else if (url) {
        const link = el("a", "att-file");
        link.href = url;
        link.download = String(a.name || "");
        link.dataset.attachmentId = String(a.id || "");
        const badge = el("span", "att-ext", extension(a.name));
        badge.setAttribute("aria-hidden", "true");
        const text = el("span", "att-text");
        text.append(el("span", "att-name", String(a.name || _("File"))), el("span", "att-size", formatSize(a.size)));
        const get = el("span", "att-get");
        get.setAttribute("aria-hidden", "true");
        get.innerHTML = '<svg viewBox="0 0 24 24" focusable="false"><path d="M12 3a1 1 0 0 1 1 1v9.6l3.3-3.3a1 1 0 1 1 1.4 1.4l-5 5a1 1 0 0 1-1.4 0l-5-5a1 1 0 1 1 1.4-1.4l3.3 3.3V4a1 1 0 0 1 1-1ZM5 19h14a1 1 0 1 1 0 2H5a1 1 0 1 1 0-2Z"/></svg>';
        link.append(badge, text, get);
        link.title = fill(_("Download %(name)s"), { name: a.name || "" });
        list.appendChild(link);
      } else {
        // Held with its ID only (a message written before a restart): its name comes on the ack.
        list.appendChild(el("span", "att-file att-file--pending", _("File")));
      }
    }
    return list;
  }

  // ---- the whole picture ----------------------------------------------------------------------
  let viewer = null;
  function openImage(a) {
    if (!viewer) {
      viewer = el("dialog", "att-viewer");
      viewer.setAttribute("aria-label", _("Image"));
      const close = el("button", "att-viewer-close");
      close.type = "button";
      close.setAttribute("aria-label", _("Close"));
      close.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M6.7 5.3 12 10.6l5.3-5.3a1 1 0 1 1 1.4 1.4L13.4 12l5.3 5.3a1 1 0 0 1-1.4 1.4L12 13.4l-5.3 5.3a1 1 0 0 1-1.4-1.4l5.3-5.3-5.3-5.3a1 1 0 0 1 1.4-1.4Z"/></svg>';
      close.addEventListener("click", () => viewer.close());
      const figure = el("figure", "att-viewer-figure");
      const img = el("img", "att-viewer-img");
      const caption = el("figcaption", "att-viewer-caption");
      figure.append(img, caption);
      viewer.append(close, figure);
      // A click beside the picture closes it, as Escape does.
      viewer.addEventListener("click", (event) => {
        if (event.target === viewer || event.target === figure) viewer.close();
      });
      document.body.appendChild(viewer);
    }
    const img = viewer.querySelector(".att-viewer-img");
    img.src = safeUrl(a.url) || "";
    img.alt = String(a.name || "");
    const caption = viewer.querySelector(".att-viewer-caption");
    const download = el("a", "att-viewer-download", _("Download"));
    download.href = safeUrl(a.url) || "";
    download.download = String(a.name || "");
    caption.replaceChildren(el("span", "att-viewer-name", String(a.name || "")), el("span", "att-size", formatSize(a.size)), download);
    if (!viewer.open) viewer.showModal();
  }

  // ---- the files of the message being written -------------------------------------------------
  // Why a file was refused, in the reader's words (the server's detail stays in the tooltip).
  function refusal(error, name) {
    const code = error && error.code;
    if (code === "file_too_large") {
      const mb = /(\d+)\s*MB/.exec(String(error.detail || ""));
      return mb
        ? fill(_("%(name)s is too large: files can be at most %(mb)s MB."), { name, mb: mb[1] })
        : fill(_("%(name)s is too large to send."), { name });
    }
    if (code === "unsupported_file") return fill(_("%(name)s can't be sent: this type of file is not accepted."), { name });
    if (code === "rate_limited") return _("You've sent many files: wait a little and try again.");
    if (code === "network_error") return fill(_("%(name)s could not be uploaded: check your connection."), { name });
    return fill(_("%(name)s could not be uploaded."), { name });
  }

  class Tray {
    constructor(node, options) {
      this.node = node;
      this.options = options;
      this.items = [];
      node.hidden = true;
    }
    add(files) {
      for (const file of Array.from(files || [])) {
        if (this.items.filter((i) => i.state !== "failed").length >= MAX_FILES) {
          this._fail({ file, state: "failed" }, fill(_("A message can carry at most %(n)s files."), { n: MAX_FILES }));
          continue;
        }
        // The server's limits, when the page knows them: refused here, before a long upload.
        const limits = this.options.limits || {};
        const name = String(file.name || _("File"));
        if (limits.max_bytes && file.size > limits.max_bytes) {
          const mb = Math.floor(limits.max_bytes / (1024 * 1024));
          this._fail({ file, state: "failed" }, fill(_("%(name)s is too large: files can be at most %(mb)s MB."), { name, mb }));
          continue;
        }
        if (limits.types && file.type && !limits.types.some((t) => t === file.type || (t.endsWith("/*") && file.type.startsWith(t.slice(0, -1))))) {
          this._fail({ file, state: "failed" }, fill(_("%(name)s can't be sent: this type of file is not accepted."), { name }));
          continue;
        }
        this._start(file);
      }
    }
    // The files uploaded and ready to go with the message.
    ready() {
      return this.items.filter((i) => i.state === "done").map((i) => i.attachment);
    }
    busy() {
      return this.items.some((i) => i.state === "uploading");
    }
    clear() {
      this.items = [];
      this.node.replaceChildren();
      this.node.hidden = true;
      this._changed();
    }
    _changed() {
      if (this.options.onChange) this.options.onChange(this);
    }
    _start(file) {
      const name = String(file.name || _("File"));
      const item = { file, name, state: "uploading", attachment: null };
      item.node = this._chip(item);
      this.items.push(item);
      this.node.appendChild(item.node);
      this.node.hidden = false;
      this._changed();
      this.options
        .upload(file, (fraction) => {
          item.bar.style.setProperty("--p", String(Math.round(Math.max(0, Math.min(1, fraction)) * 100)));
        })
        .then(
          (attachment) => {
            if (!this.items.includes(item)) return; // removed meanwhile
            item.state = "done";
            item.attachment = attachment;
            item.node.dataset.state = "done";
            item.status.textContent = formatSize(attachment.size);
            this._changed();
          },
          (error) => this._fail(item, refusal(error, name), error && error.detail)
        );
    }
    _fail(item, text, detail) {
      if (!item.node) {
        item.name = String(item.file.name || _("File"));
        item.node = this._chip(item);
        this.items.push(item);
        this.node.appendChild(item.node);
      }
      if (!this.items.includes(item)) return;
      item.state = "failed";
      item.node.dataset.state = "failed";
      item.node.setAttribute("role", "alert");
      item.status.textContent = text;
      if (detail) item.status.title = detail;
      this.node.hidden = false;
      this._changed();
    }
    _chip(item) {
      const chip = el("div", "att-chip");
      chip.dataset.state = item.state;
      const thumb = el("span", "att-chip-thumb", extension(item.name));
      thumb.setAttribute("aria-hidden", "true");
      if (/^image\//.test(item.file.type || "") && item.file.size <= PREVIEW_BYTES && window.FileReader) {
        const reader = new FileReader();
        reader.onload = () => {
          if (typeof reader.result !== "string") return;
          thumb.textContent = "";
          thumb.style.backgroundImage = `url("${reader.result}")`;
          thumb.classList.add("has-image");
        };
        reader.readAsDataURL(item.file);
      }
      const text = el("span", "att-chip-text");
      item.status = el("span", "att-chip-status", fill(_("Uploading… %(size)s"), { size: formatSize(item.file.size) }));
      text.append(el("span", "att-chip-name", item.name), item.status);
      item.bar = el("span", "att-chip-bar");
      item.bar.setAttribute("aria-hidden", "true");
      const remove = el("button", "att-chip-remove");
      remove.type = "button";
      remove.setAttribute("aria-label", fill(_("Remove %(name)s"), { name: item.name }));
      remove.innerHTML = '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M6.7 5.3 12 10.6l5.3-5.3a1 1 0 1 1 1.4 1.4L13.4 12l5.3 5.3a1 1 0 0 1-1.4 1.4L12 13.4l-5.3 5.3a1 1 0 0 1-1.4-1.4l5.3-5.3-5.3-5.3a1 1 0 0 1 1.4-1.4Z"/></svg>';
      remove.addEventListener("click", () => {
        this.items = this.items.filter((i) => i !== item);
        chip.remove();
        this.node.hidden = !this.items.length;
        this._changed();
      });
      chip.append(thumb, text, remove, item.bar);
      return chip;
    }
  }

  // Files pasted into a text box (a screenshot from the clipboard).
  function fromPaste(event) {
    const data = event.clipboardData;
    if (!data) return [];
    const files = Array.from(data.files || []);
    if (files.length) return files;
    return Array.from(data.items || [])
      .filter((item) => item.kind === "file")
      .map((item) => item.getAsFile())
      .filter(Boolean);
  }

  // Files dragged over `zone` and dropped: `zone` shows .is-dropping meanwhile.
  function dropZone(zone, onFiles) {
    let depth = 0;
    const hasFiles = (event) => Array.from((event.dataTransfer && event.dataTransfer.types) || []).includes("Files");
    zone.addEventListener("dragenter", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth += 1;
      zone.classList.add("is-dropping");
    });
    zone.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
    });
    zone.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) zone.classList.remove("is-dropping");
    });
    zone.addEventListener("drop", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth = 0;
      zone.classList.remove("is-dropping");
      const files = Array.from(event.dataTransfer.files || []);
      if (files.length) onFiles(files);
    });
  }

  // An upload over HTTP with a progress bar (the inbox's: its session and CSRF token).
  function post(url, file, headers, onProgress) {
    return new Promise((resolve, reject) => {
      const form = new FormData();
      form.append("file", file, file.name || "file");
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      for (const name of Object.keys(headers || {})) xhr.setRequestHeader(name, headers[name]);
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
      };
      xhr.onload = () => {
        let data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch (_) {
          data = null;
        }
        if (xhr.status >= 200 && xhr.status < 300 && data && typeof data.id === "string") {
          resolve(data);
          return;
        }
        const e = (data && data.error) || {};
        reject({ code: e.code || `http_${xhr.status}`, detail: e.detail || `HTTP ${xhr.status}`, status: xhr.status });
      };
      xhr.onerror = () => reject({ code: "network_error", detail: "The upload failed." });
      xhr.send(form);
    });
  }

  window.HelpdeskFiles = { render, openImage, Tray, fromPaste, dropZone, post, formatSize, isImage, MAX_FILES };
})();
