// The Draw page's pad: white ink on a black square, sent to Python the moment a stroke ends.
// One pad per mount (a new key is a new, empty pad: "Clear"); a rerun that mounts it again
// with new data (the pen's width) keeps what is drawn.
const PADS = new WeakMap();

function createPad(root) {
  const canvas = document.createElement("canvas");
  canvas.className = "mnist-pad";
  root.appendChild(canvas);
  const pad = { canvas, ctx: canvas.getContext("2d"), pen: 18, size: 0, last: null, ink: false };
  const point = (e) => {
    const box = canvas.getBoundingClientRect();
    return [((e.clientX - box.left) * canvas.width) / box.width,
            ((e.clientY - box.top) * canvas.height) / box.height];
  };
  const line = (from, to) => {
    const ctx = pad.ctx;
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = pad.pen;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    ctx.lineTo(to[0], to[1]);
    ctx.stroke();
  };
  canvas.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    canvas.setPointerCapture(e.pointerId);
    pad.last = point(e);
    line(pad.last, pad.last); // a tap leaves a dot
    pad.ink = true;
  });
  canvas.addEventListener("pointermove", (e) => {
    if (pad.last === null) return;
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) {
      const p = point(ev);
      line(pad.last, p);
      pad.last = p;
    }
  });
  const end = () => {
    if (pad.last === null) return;
    pad.last = null;
    if (pad.ink) pad.send(canvas.toDataURL("image/png"));
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  return pad;
}

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  let pad = PADS.get(parentElement);
  if (!pad) {
    pad = createPad(parentElement);
    PADS.set(parentElement, pad);
  }
  pad.send = (url) => setStateValue("drawing", url);
  pad.pen = data.pen;
  if (pad.size !== data.size) {
    pad.size = data.size;
    pad.canvas.width = pad.canvas.height = data.size;
    pad.canvas.style.width = pad.canvas.style.height = `${data.size}px`;
    pad.ctx.fillStyle = "#000000";
    pad.ctx.fillRect(0, 0, data.size, data.size);
    pad.ink = false;
  }
}
