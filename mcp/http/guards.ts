/**
 * The checks every HTTP request passes before it reaches MCP: against DNS rebinding (a web page whose host
 * name suddenly resolves to 127.0.0.1 must not reach a local server) the Host header must name this server as
 * bound, and a request from a browser (it has an Origin header) must come from an allowed origin; then the
 * bearer token, when one is configured. Requests without an Origin header come from programs, not web pages,
 * and are allowed, as the MCP transport specification's security notes describe.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { networkInterfaces, hostname as machineName } from "node:os";

/** Why a request was refused, as an HTTP answer. */
export interface Refusal {
  readonly status: 401 | 403;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** The names a loopback server is reached by. */
const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/**
 * The Host header values that name this server: the bound address and, for loopback or wildcard binds, the
 * loopback names; a wildcard bind (0.0.0.0, ::) also accepts this machine's addresses and host name.
 */
export function allowedHostHeaders(boundHost: string, port: number): Set<string> {
  const names = new Set<string>([hostForHeader(boundHost)]);
  const isLoopback = isLoopbackHost(boundHost);
  const isWildcard = boundHost === "0.0.0.0" || boundHost === "::";
  if (isLoopback || isWildcard) {
    LOOPBACK_NAMES.forEach((name) => names.add(name));
  }
  if (isWildcard) {
    names.add(machineName().toLowerCase());
    for (const addresses of Object.values(networkInterfaces())) {
      for (const address of addresses ?? []) {
        names.add(hostForHeader(address.address));
      }
    }
  }
  const withPorts = new Set<string>();
  for (const name of names) {
    withPorts.add(`${name}:${port}`);
    // Clients leave the port out when it is the scheme's default.
    if (port === 80) {
      withPorts.add(name);
    }
  }
  return withPorts;
}

/** Whether `boundHost` (a bind address or name) is reachable from this machine only. */
export function isLoopbackHost(boundHost: string): boolean {
  const host = boundHost.toLowerCase();
  return host === "localhost" || host.startsWith("127.") || host === "::1";
}

function hostForHeader(address: string): string {
  const lower = address.toLowerCase();
  return lower.includes(":") && !lower.startsWith("[") ? `[${lower}]` : lower;
}

/** The request checks of one server. */
export class RequestGuards {
  private readonly hosts: Set<string>;
  private readonly origins: Set<string>;
  private readonly token: Buffer | undefined;

  constructor(options: { boundHost: string; port: number; allowedOrigins: readonly string[]; token?: string }) {
    this.hosts = allowedHostHeaders(options.boundHost, options.port);
    this.origins = new Set(options.allowedOrigins.map((origin) => origin.replace(/\/+$/, "").toLowerCase()));
    this.token = options.token !== undefined && options.token !== "" ? Buffer.from(options.token, "utf8") : undefined;
  }

  /** Whether `origin` may make cross-origin requests (for the CORS answer). */
  isAllowedOrigin(origin: string): boolean {
    return this.origins.has(origin.toLowerCase());
  }

  /** The refusal of `request`, or undefined when it may go on. */
  check(request: IncomingMessage): Refusal | undefined {
    const host = (request.headers.host ?? "").toLowerCase();
    if (!this.hosts.has(host)) {
      return { status: 403, message: `Forbidden: the Host header '${request.headers.host ?? ""}' does not name this server (DNS rebinding protection). Connect to ${[...this.hosts][0]}.` };
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !this.isAllowedOrigin(origin)) {
      return {
        status: 403,
        message: `Forbidden: requests from the origin '${origin}' are not allowed (DNS rebinding protection); web pages may only connect from origins the server was configured to allow.`,
      };
    }
    // A CORS preflight never carries the Authorization header (browsers leave credentials out of it) and
    // reaches no MCP method; demanding the token there would shut out every browser client of an allowed origin.
    if (request.method === "OPTIONS") {
      return undefined;
    }
    return this.checkToken(request);
  }

  private checkToken(request: IncomingMessage): Refusal | undefined {
    if (this.token === undefined) {
      return undefined;
    }
    const header = request.headers.authorization;
    const given = header !== undefined ? /^Bearer\s+(.+)$/i.exec(header.trim())?.[1] : undefined;
    if (given === undefined) {
      return {
        status: 401,
        message: "Unauthorized: this server needs 'Authorization: Bearer <token>' (the token the server was started with, --token or MOLMO_MCP_TOKEN).",
        headers: { "WWW-Authenticate": 'Bearer realm="molmo-mcp"' },
      };
    }
    const givenBytes = Buffer.from(given, "utf8");
    // Compared in constant time, so the token cannot be guessed byte by byte from response times.
    if (givenBytes.length !== this.token.length || !timingSafeEqual(givenBytes, this.token)) {
      return {
        status: 401,
        message: "Unauthorized: the bearer token is wrong.",
        headers: { "WWW-Authenticate": 'Bearer realm="molmo-mcp", error="invalid_token"' },
      };
    }
    return undefined;
  }
}
