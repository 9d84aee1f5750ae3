// Connect with the npm Socket.IO client and print how the server refused, as JSON:
//   node tests/js/connect_refused.mjs URL [NAMESPACE=/chat] [TOKEN=not-a-token]
// prints {"event": "connect_error", "message": err.message, "data": err.data}
// (or {"event": "connect"} if the server accepted, which the caller treats as a failure).
import { io } from "socket.io-client";

const [url, namespace = "/chat", token = "not-a-token"] = process.argv.slice(2);
if (!url) {
  console.error("usage: node connect_refused.mjs URL [NAMESPACE] [TOKEN]");
  process.exit(64);
}

const socket = io(url + namespace, {
  auth: { token },
  transports: ["websocket"],
  reconnection: false,
  timeout: 10000,
});

const finish = (result) => {
  console.log(JSON.stringify(result));
  socket.close();
  process.exit(0);
};

socket.on("connect", () => finish({ event: "connect" }));
socket.on("connect_error", (err) =>
  finish({ event: "connect_error", message: err.message, data: err.data ?? null }),
);
setTimeout(() => {
  console.error("no answer from the server within 15 s");
  process.exit(2);
}, 15000);
