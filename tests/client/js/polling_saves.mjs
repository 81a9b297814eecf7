// A terminal speaking the protocol with the official socket.io-client, long-polling only:
// challenge and hello (signed with the terminal's enrolled Ed25519 key), login, then COUNT
// saves emitted at once (newest sequence number first, so every older change arrives
// after a newer one), and every acknowledgement printed as JSON.
//
//   node polling_saves.mjs URL SEAT TICKET ID_NUMBER COUNT TERMINAL_ID KEY_PEM_FILE
import { createPrivateKey, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { io } from "socket.io-client";

const [url, seat, ticket, idNumber, countArg, terminalId, keyFile] = process.argv.slice(2);
const key = createPrivateKey(readFileSync(keyFile));
const count = Number(countArg);
const socket = io(url + "/candidate", { transports: ["polling"], reconnection: false });
const call = (event, data) => socket.timeout(30000).emitWithAck(event, data);

socket.on("connect_error", (e) => {
  console.log(JSON.stringify({ error: "connect_error: " + e.message }));
  process.exit(3);
});
socket.on("connect", async () => {
  try {
    const challenge = await call("challenge", {});
    // exam_common.pki.hello_proof_message: "exam-terminal-hello/v1\n" challenge "\n" id
    const message = Buffer.concat([
      Buffer.from("exam-terminal-hello/v1\n"), Buffer.from(challenge.challenge, "base64"),
      Buffer.from("\n" + terminalId),
    ]);
    const hello = await call("hello", {
      protocol: 1, client: "socket.io-client (tests)", terminal_id: terminalId, seat,
      proof: sign(null, message, key).toString("base64"),
    });
    if (!hello.ok) throw new Error("hello refused: " + JSON.stringify(hello));
    const login = await call("login", { ticket, id_number: idNumber });
    if (!login.ok) throw new Error("login refused: " + JSON.stringify(login));
    const items = login.items.map((i) => i.item_id);
    const saves = [];
    for (let seq = count; seq >= 1; seq--) {
      saves.push(call("save", {
        attempt_id: login.attempt_id, seq, item_id: items[seq % items.length],
        response: seq % 3 === 0 ? [] : [seq % 2 ? "A" : "B"],
      }));
    }
    const replies = await Promise.all(saves);
    console.log(JSON.stringify({
      hello, attempt_id: login.attempt_id, transport: socket.io.engine.transport.name, replies,
    }));
    socket.close();
    process.exit(0);
  } catch (e) {
    console.log(JSON.stringify({ error: String(e) }));
    process.exit(2);
  }
});
