// Graceful stop of the HTTP server: stop accepting, answer every request on a connection already made, then close.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

interface Conn {
  /** Requests on this connection not yet answered. */
  active: number;
  /** Requests answered on it. */
  served: number;
  since: number;
}

/** Timing of {@link ConnectionDrainer.drain}. */
export interface DrainOptions {
  /** A connection that has not sent a request yet gets this long (from its connect) to send its headers. */
  headersTimeoutMs: number;
  /** A kept-alive connection idle after an answer is closed after this long. */
  idleGraceMs: number;
  /** Hard limit: every connection still open is then closed. */
  timeoutMs: number;
  /** Called with the connections closed by force at the hard limit. */
  onForce?: (open: number) => void;
}

/** Tracks a server's connections so that {@link drain} can finish them one by one. */
export interface ConnectionDrainer {
  /** Stops accepting and resolves once every connection is closed (see {@link attachDrainer}). */
  drain(opts: DrainOptions): Promise<void>;
  /** Open connections. */
  open(): number;
}

/**
 * After drain() starts the listener stays open until no connection has come for ACCEPT_QUIET_MS (at most
 * ACCEPT_SWEEP_MAX_MS): connections a client already sees as made may reach the accept queue late on a
 * loaded machine (seen: 16 connects, the last accepted 100 ms after the signal); closing the listener
 * would reset them.
 */
const ACCEPT_QUIET_MS = 200;
const ACCEPT_SWEEP_MAX_MS = 1_000;
const CHECK_MS = 25;

/**
 * Attach before the app's 'request' listener. Node's own server.close() also closes every idle
 * connection at once, including ones a client has just opened and is writing its request to: those
 * clients see a reset. Here: the listener closes once connections stop arriving (see ACCEPT_QUIET_MS);
 * answers during the drain carry `Connection: close`; a connection that has not sent a request yet
 * gets until its headers deadline; a kept-alive idle one is closed after `idleGraceMs`; requests in
 * progress, bodies still arriving included (they have their own deadline), are answered first.
 */
export function attachDrainer(server: Server): ConnectionDrainer {
  const conns = new Map<Socket, Conn>();
  let draining = false;
  let lastConnection = 0;
  server.on('connection', (socket: Socket) => {
    lastConnection = Date.now();
    conns.set(socket, { active: 0, served: 0, since: lastConnection });
    socket.once('close', () => conns.delete(socket));
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const c = conns.get(req.socket);
    if (draining) res.setHeader('Connection', 'close');
    if (!c) return;
    c.active++;
    res.once('close', () => {
      c.active--;
      c.served++;
      c.since = Date.now();
    });
  });

  return {
    open: () => conns.size,
    drain(opts) {
      draining = true;
      return new Promise<void>((resolve) => {
        const check = setInterval(() => {
          const now = Date.now();
          for (const [socket, c] of conns) {
            if (c.active > 0) continue;
            const limit = c.served > 0 ? opts.idleGraceMs : opts.headersTimeoutMs;
            if (now - c.since >= limit) socket.destroy();
          }
        }, CHECK_MS);
        const force = setTimeout(() => {
          opts.onForce?.(conns.size);
          for (const socket of conns.keys()) socket.destroy();
        }, opts.timeoutMs);
        // net.Server's close: stop listening without http.Server's "close every idle connection now";
        // its callback runs once the last connection has closed. From setImmediate, so that at least one
        // poll phase (which accepts what the kernel holds) runs after the sweep's last check.
        const closeListener = () =>
          NetServer.prototype.close.call(server, () => {
            clearInterval(check);
            clearTimeout(force);
            server.close(); // http.Server's part: stops its headers/request-timeout checker
            resolve();
          });
        const started = Date.now();
        const sweep = setInterval(() => {
          const now = Date.now();
          if (now - Math.max(started, lastConnection) >= ACCEPT_QUIET_MS || now - started >= ACCEPT_SWEEP_MAX_MS) {
            clearInterval(sweep);
            setImmediate(closeListener);
          }
        }, CHECK_MS);
      });
    },
  };
}
